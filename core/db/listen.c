/* listen.c - the one asynchronous libpq connection, owned by the loop
 * thread: PQconnectStartParams/PQconnectPoll driven by epoll readiness,
 * then LISTEN mailbox_changed, config_changed, acme_requested,
 * directory_changed, and every notification handed to the callback. On any failure the connection is dropped and
 * retried after LIMIT_DB_RECONNECT_MIN_MS, doubling up to
 * LIMIT_DB_RECONNECT_MAX_MS; a connection attempt is bounded by
 * LIMIT_DB_CONNECT_TIMEOUT_MS. After each successful LISTEN the callback
 * gets channel "reconnected": notifications may have been missed, reload;
 * when a ready connection is lost it gets "lost" (nothing is heard now).
 * TCP keepalives notice a peer that vanished while we only listen. */
#include "db/listen.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <libpq-fe.h>

#include "config/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "net/loop.h"

enum listen_state {
	LISTEN_IDLE = 0,	/* no connection; maybe a retry timer */
	LISTEN_CONNECTING,	/* PQconnectPoll in progress */
	LISTEN_SUBSCRIBING,	/* LISTEN sent, waiting for its results */
	LISTEN_READY,		/* receiving notifications */
};

static struct {
	bool running;
	char *conninfo;
	db_notify_fn *fn;
	PGconn *pg;
	int fd;
	enum listen_state state;
	uint64_t backoff_ms;
	struct loop_timer *retry;
	struct loop_timer *deadline;
	uint64_t gen;		/* bumped whenever the connection is dropped */
} lst = { .fd = -1 };

static void listen_connect(void);
static void listen_event(void *arg, uint32_t events);

static void listen_close(void)
{
	if (lst.fd >= 0)
		loop_del(lst.fd);
	lst.fd = -1;
	loop_timer_cancel(&lst.deadline);
	if (lst.pg != NULL)
		PQfinish(lst.pg);
	lst.pg = NULL;
	lst.state = LISTEN_IDLE;
	lst.gen++;
}

static void listen_retry_fire(void *arg)
{
	(void)arg;
	lst.retry = NULL;
	if (lst.running)
		listen_connect();
}

static void listen_fail(const char *why)
{
	char msg[256];
	size_t len;

	if (why == NULL || *why == '\0')
		why = "connection lost";
	/* libpq's text spans lines: make it one, without doubled spaces */
	len = 0;
	for (const char *p = why; *p != '\0' && len < sizeof(msg) - 1; p++) {
		char ch = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
		if (ch == ' ' && (len == 0 || msg[len - 1] == ' '))
			continue;
		msg[len++] = ch;
	}
	while (len > 0 && msg[len - 1] == ' ')
		len--;
	msg[len] = '\0';
	bool was_ready = lst.state == LISTEN_READY;
	listen_close();
	if (!lst.running)
		return;
	if (was_ready && lst.fn != NULL)
		lst.fn("lost", "");
	log_warn("db", "LISTEN connection: %s; retrying in %llu ms", msg,
		 (unsigned long long)lst.backoff_ms);
	loop_timer_cancel(&lst.retry);
	lst.retry = loop_timer_add(lst.backoff_ms, listen_retry_fire, NULL);
	lst.backoff_ms *= 2;
	if (lst.backoff_ms > LIMIT_DB_RECONNECT_MAX_MS)
		lst.backoff_ms = LIMIT_DB_RECONNECT_MAX_MS;
}

static void listen_deadline_fire(void *arg)
{
	(void)arg;
	lst.deadline = NULL;
	listen_fail("connection attempt timed out");
}

/* (Re)registers the connection's socket: libpq may switch sockets while
 * it tries the hosts and addresses of the conninfo. */
static int listen_watch(uint32_t events)
{
	if (lst.fd >= 0)
		loop_del(lst.fd);
	lst.fd = PQsocket(lst.pg);
	if (lst.fd < 0 || loop_add(lst.fd, events, listen_event, NULL) < 0) {
		lst.fd = -1;
		return -1;
	}
	return 0;
}

/* Server notices ("terminating connection ...") go to the log, not stderr. */
static void listen_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("db", "LISTEN connection notice: %.*s", (int)strcspn(message, "\n"), message);
}

static void listen_connect(void)
{
	/* entries after dbname override the conninfo string */
	static const char *const keys[] = { "application_name", "dbname", "keepalives",
					    "keepalives_idle", "keepalives_interval",
					    "keepalives_count", NULL };
	const char *vals[] = { "postern-listen", lst.conninfo, "1", "30", "10", "3", NULL };

	listen_close();
	lst.pg = PQconnectStartParams(keys, vals, 1);
	if (lst.pg == NULL || PQstatus(lst.pg) == CONNECTION_BAD) {
		listen_fail(lst.pg != NULL ? PQerrorMessage(lst.pg) : "out of memory");
		return;
	}
	PQsetNoticeProcessor(lst.pg, listen_notice, NULL);
	lst.state = LISTEN_CONNECTING;
	/* before the first PQconnectPoll: act as if it said POLLING_WRITING */
	if (listen_watch(EPOLLOUT) < 0) {
		listen_fail("no socket");
		return;
	}
	lst.deadline = loop_timer_add(LIMIT_DB_CONNECT_TIMEOUT_MS, listen_deadline_fire, NULL);
}

static void listen_subscribe(void)
{
	int r;

	loop_timer_cancel(&lst.deadline);
	if (PQsetnonblocking(lst.pg, 1) != 0 ||
	    !PQsendQuery(lst.pg, "LISTEN mailbox_changed; LISTEN config_changed;"
				 " LISTEN acme_requested; LISTEN directory_changed")) {
		listen_fail(PQerrorMessage(lst.pg));
		return;
	}
	lst.state = LISTEN_SUBSCRIBING;
	r = PQflush(lst.pg);
	if (r < 0 || listen_watch(r == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN) < 0)
		listen_fail(PQerrorMessage(lst.pg));
}

static void listen_poll_connect(void)
{
	switch (PQconnectPoll(lst.pg)) {
	case PGRES_POLLING_READING:
		if (listen_watch(EPOLLIN) < 0)
			listen_fail("no socket");
		break;
	case PGRES_POLLING_WRITING:
		if (listen_watch(EPOLLOUT) < 0)
			listen_fail("no socket");
		break;
	case PGRES_POLLING_OK:
		listen_subscribe();
		break;
	case PGRES_POLLING_FAILED:
	default:
		listen_fail(PQerrorMessage(lst.pg));
		break;
	}
}

static void listen_input(uint32_t events)
{
	uint64_t gen = lst.gen;
	PGnotify *n;
	PGresult *res;

	if (events & EPOLLOUT) {
		int r = PQflush(lst.pg);
		if (r < 0) {
			listen_fail(PQerrorMessage(lst.pg));
			return;
		}
		if (r == 0 && loop_mod(lst.fd, EPOLLIN) < 0) {
			listen_fail("epoll");
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	if (!PQconsumeInput(lst.pg)) {
		listen_fail(PQerrorMessage(lst.pg));
		return;
	}
	while (!PQisBusy(lst.pg) && (res = PQgetResult(lst.pg)) != NULL) {
		bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!ok) {
			listen_fail(PQerrorMessage(lst.pg));
			return;
		}
	}
	if (lst.state == LISTEN_SUBSCRIBING && !PQisBusy(lst.pg)) {
		lst.state = LISTEN_READY;
		lst.backoff_ms = LIMIT_DB_RECONNECT_MIN_MS;
		log_info("db", "LISTEN connection ready");
		lst.fn("reconnected", "");
		if (lst.gen != gen || !lst.running)
			return;	/* the callback stopped us */
	}
	if (lst.state != LISTEN_READY)
		return;
	while ((n = PQnotifies(lst.pg)) != NULL) {
		lst.fn(n->relname, n->extra != NULL ? n->extra : "");
		PQfreemem(n);
		if (lst.gen != gen || !lst.running)
			return;
	}
	if (PQstatus(lst.pg) == CONNECTION_BAD)
		listen_fail(PQerrorMessage(lst.pg));
}

static void listen_event(void *arg, uint32_t events)
{
	(void)arg;
	if (lst.pg == NULL)
		return;
	if (lst.state == LISTEN_CONNECTING)
		listen_poll_connect();
	else
		listen_input(events);
}

int db_listen_start(const char *conninfo, db_notify_fn *fn)
{
	if (lst.running || fn == NULL)
		return -1;
	lst.running = true;
	lst.conninfo = xstrdup(conninfo != NULL ? conninfo : "");
	lst.fn = fn;
	lst.backoff_ms = LIMIT_DB_RECONNECT_MIN_MS;
	listen_connect();
	return 0;
}

void db_listen_stop(void)
{
	if (!lst.running)
		return;
	lst.running = false;
	loop_timer_cancel(&lst.retry);
	listen_close();
	xfree(lst.conninfo);
	lst.fn = NULL;
}
