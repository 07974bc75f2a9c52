/* runner.c - queue runner threads (DESIGN.md section 2, scale-out): each
 * owns a PGconn that LISTENs on queue_changed, claims up to
 * LIMIT_QUEUE_BATCH due rows of one destination domain (STMT_QUEUE_CLAIM:
 * FOR UPDATE SKIP LOCKED, a lease tied to this database session), delivers
 * them over one SMTP connection per host (deliver.c), then records each
 * row's result: delivered rows go, temporary failures come back after an
 * exponential back-off (a "delayed" DSN once after delay_notice_s),
 * permanent ones and expired ones bounce (dsn.c) unless the sender is <>.
 * At least once: a row leaves the queue only after its result is known;
 * a node killed mid-delivery delivers again, it never drops. */
#include "queue/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "config/limits.h"
#include "db/db.h"
#include "db/store.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "queue/dsn.h"
#include "queue/queue_private.h"

struct runner {
	pthread_t th;
	int idx;
	bool started;
};

static struct queue_settings queue_cfg;
static char *queue_conninfo;
static struct runner *queue_runners;
static int queue_stop_pipe[2] = { -1, -1 };


/* Sleeps up to ms, or less when stop is signalled or fd (if >= 0) is readable. */
static void runner_sleep(int fd, int ms)
{
	struct pollfd p[2] = { { .fd = queue_stop_pipe[0], .events = POLLIN },
			       { .fd = fd, .events = POLLIN } };
	(void)poll(p, fd >= 0 ? 2 : 1, ms);
}

static bool runner_stopping(void)
{
	struct pollfd p = { .fd = queue_stop_pipe[0], .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

static void row_free(struct queue_row *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].sender);
		free(r[i].rcpt);
	}
	free(r);
}

/* Claims a batch. Returns rows (n > 0), 0 none due, -1 database failure. */
static int runner_claim(struct db *db, struct queue_row **rows_r, size_t *n_r)
{
	char batch[16], lease[16];
	enum db_status st;

	str_fmt(batch, sizeof(batch), "%d", LIMIT_QUEUE_BATCH);
	str_fmt(lease, sizeof(lease), "%d", LIMIT_QUEUE_LEASE_S);
	const char *p[2] = { batch, lease };
	PGresult *res = db_exec(db, STMT_QUEUE_CLAIM, 2, p, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		return -1;
	}
	int n = PQntuples(res);
	struct queue_row *rows = n > 0 ? xcalloc((size_t)n, sizeof(*rows)) : NULL;
	for (int i = 0; i < n; i++) {
		struct queue_row *r = &rows[i];
		r->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		r->blob = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		r->sender = xstrdup(PQgetvalue(res, i, 2));
		r->rcpt = xstrdup(PQgetvalue(res, i, 3));
		r->attempts = (int)strtol(PQgetvalue(res, i, 4), NULL, 10);
		r->age = strtoll(PQgetvalue(res, i, 5), NULL, 10);
		r->delay_notified = PQgetvalue(res, i, 6)[0] == 't';
	}
	PQclear(res);
	/* claimed in (blob, id) order: rows of one message are neighbours */
	*rows_r = rows;
	*n_r = (size_t)n;
	return n > 0 ? 1 : 0;
}

static int runner_backoff(const struct queue_row *r)
{
	long long d = queue_cfg.retry_s, cap = LIMIT_QUEUE_BACKOFF_MAX_S;
	if (cap < queue_cfg.retry_s)
		cap = queue_cfg.retry_s;
	for (int i = 1; i < r->attempts && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	/* the last try falls on the expiry, so the bounce is on time */
	if (r->age + d > queue_cfg.lifetime_s)
		d = queue_cfg.lifetime_s - r->age > 1 ? queue_cfg.lifetime_s - r->age : 1;
	return (int)d;
}

/* DSNs for rows [lo, hi) of one message that need one of action. */
static int runner_dsn(struct db *db, struct queue_row *rows, size_t lo, size_t hi,
		      enum dsn_action action, const unsigned char *body, size_t len)
{
	struct dsn_rcpt dr[LIMIT_QUEUE_BATCH];
	size_t n = 0;

	for (size_t i = lo; i < hi; i++) {
		struct queue_row *r = &rows[i];
		if (action == DSN_FAILED ? r->fate != QUEUE_FATE_BOUNCE : !r->notify_delay)
			continue;
		dr[n++] = (struct dsn_rcpt){ .recipient = r->rcpt, .status = r->status,
					     .remote_mta = r->mta, .diag = r->diag };
	}
	if (n == 0 || rows[lo].sender[0] == '\0')
		return 0;	/* nothing to say, or the null sender: never */
	struct dsn_msg m = {
		.action = action, .hostname = queue_cfg.hostname, .sender = rows[lo].sender,
		.arrival = time(NULL) - rows[lo].age, .orig = body, .orig_len = len,
		.rcpts = dr, .n_rcpts = n,
	};
	if (dsn_send(db, &m) < 0) {
		log_warn("queue", "DSN to the sender of queue id %lld not stored: %s",
			 (long long)rows[lo].id, db_error(db));
		return -1;
	}
	return 0;
}

/* Decides each row's fate from its result, sends the DSNs of message
 * [lo, hi) (body may be NULL when it could not be read). */
static void runner_fates(struct db *db, struct queue_row *rows, size_t lo, size_t hi,
			 const unsigned char *body, size_t len)
{
	for (size_t i = lo; i < hi; i++) {
		struct queue_row *r = &rows[i];
		if (r->result == 2) {
			r->fate = QUEUE_FATE_DONE;
		} else if (r->result == 5 || r->age >= queue_cfg.lifetime_s) {
			if (r->result != 5) {
				/* RFC 3463 4.4.7: delivery time expired */
				char d[sizeof(r->diag)];
				str_fmt(d, sizeof(d), "delivery time expired; last error: %s",
					r->diag[0] ? r->diag : "none");
				str_lcpy(r->diag, d, sizeof(r->diag));
				str_lcpy(r->status, "4.4.7", sizeof(r->status));
			}
			r->fate = QUEUE_FATE_BOUNCE;
		} else {
			r->fate = QUEUE_FATE_DEFER;
			r->notify_delay = !r->delay_notified && r->age >= queue_cfg.delay_notice_s;
		}
	}
	if (body == NULL) {
		for (size_t i = lo; i < hi; i++)	/* no DSN without the message: later */
			if (rows[i].fate == QUEUE_FATE_BOUNCE)
				rows[i].fate = QUEUE_FATE_DEFER;
		return;
	}
	if (runner_dsn(db, rows, lo, hi, DSN_FAILED, body, len) < 0) {
		for (size_t i = lo; i < hi; i++)	/* bounce later rather than lose it */
			if (rows[i].fate == QUEUE_FATE_BOUNCE)
				rows[i].fate = QUEUE_FATE_DEFER;
	}
	if (runner_dsn(db, rows, lo, hi, DSN_DELAYED, body, len) < 0)
		for (size_t i = lo; i < hi; i++)
			rows[i].notify_delay = false;
}

/* Writes every row's fate in one transaction, with blob collection. */
static void runner_record(struct db *db, struct queue_row *rows, size_t n)
{
	int64_t *blobs = xcalloc(n, sizeof(*blobs));
	size_t nb = 0;
	enum db_status st = db_begin(db);

	for (size_t i = 0; i < n && st == DB_OK; i++) {
		struct queue_row *r = &rows[i];
		char id[24], delay[16], err[sizeof(r->diag) + 32];
		str_fmt(id, sizeof(id), "%lld", (long long)r->id);
		if (r->fate == QUEUE_FATE_DONE || r->fate == QUEUE_FATE_BOUNCE) {
			const char *p[1] = { id };
			PGresult *res = db_exec(db, STMT_QUEUE_DONE, 1, p, NULL, NULL, &st);
			if (st == DB_OK && PQntuples(res) == 1)
				blobs[nb++] = r->blob;
			PQclear(res);
			log_info("queue", "id=%lld to=<%s> %s: %s", (long long)r->id, r->rcpt,
				 r->fate == QUEUE_FATE_DONE ? "delivered" : "bounced",
				 r->diag[0] ? r->diag : "-");
		} else {
			str_fmt(delay, sizeof(delay), "%d", runner_backoff(r));
			str_fmt(err, sizeof(err), "%s%s%s", r->status, r->status[0] ? " " : "", r->diag);
			const char *p[4] = { id, delay, err, r->notify_delay ? "true" : "false" };
			PQclear(db_exec(db, STMT_QUEUE_DEFER, 4, p, NULL, NULL, &st));
			log_info("queue", "id=%lld to=<%s> deferred %s s (attempt %d): %s",
				 (long long)r->id, r->rcpt, delay, r->attempts, err);
		}
	}
	if (st == DB_OK && nb > 0) {
		char *arr = db_array_i64(blobs, nb);
		st = db_blob_gc(db, arr);
		free(arr);
	}
	if (st == DB_OK)
		st = db_commit(db);
	else
		db_rollback(db);
	if (st != DB_OK)
		log_warn("queue", "results of %zu queue row(s) not recorded (%s): they are "
			 "delivered again", n, db_error(db));
	free(blobs);
}

static void runner_batch(struct db *db, struct queue_row *rows, size_t n)
{
	struct queue_msg *msgs = xcalloc(n, sizeof(*msgs));
	size_t nm = 0;

	/* messages: neighbouring rows with one blob and one sender */
	for (size_t i = 0; i < n; i++) {
		if (nm == 0 || rows[i].blob != rows[msgs[nm - 1].lo].blob ||
		    strcmp(rows[i].sender, rows[msgs[nm - 1].lo].sender) != 0) {
			msgs[nm].lo = i;
			nm++;
		}
		msgs[nm - 1].hi = i + 1;
	}
	queue_deliver(db, rows, msgs, nm, &queue_cfg, queue_stop_pipe[0]);
	if (runner_stopping()) {
		/* broken off: leave the rows claimed; the next runner takes
		 * them as soon as this session is gone */
		for (size_t m = 0; m < nm; m++)
			free(msgs[m].body);
		free(msgs);
		return;
	}
	for (size_t m = 0; m < nm; m++) {
		runner_fates(db, rows, msgs[m].lo, msgs[m].hi, msgs[m].body, msgs[m].len);
		free(msgs[m].body);
	}
	free(msgs);
	runner_record(db, rows, n);
}

static void *runner_main(void *arg)
{
	struct runner *me = arg;
	struct db *db = NULL;
	int backoff_ms = 500;

	while (!runner_stopping()) {
		if (db == NULL || !db_ok(db)) {
			const char *err = NULL;
			enum db_status st = DB_ERROR;
			db_close(&db);
			db = db_open(queue_conninfo, &err);
			if (db != NULL)
				PQclear(db_exec(db, STMT_QUEUE_LISTEN, 0, NULL, NULL, NULL, &st));
			if (db == NULL || st != DB_OK) {
				log_warn("queue", "runner %d: database not reachable (%s), retrying",
					 me->idx, err ? err : db_error(db));
				db_close(&db);
				runner_sleep(-1, backoff_ms);
				backoff_ms = backoff_ms < 16000 ? backoff_ms * 2 : 30000;
				continue;
			}
			backoff_ms = 500;
		}
		struct queue_row *rows = NULL;
		size_t n = 0;
		int got = runner_claim(db, &rows, &n);
		if (got > 0) {
			runner_batch(db, rows, n);
			row_free(rows, n);
			continue;
		}
		if (got < 0) {
			log_warn("queue", "runner %d: claim failed: %s", me->idx, db_error(db));
			runner_sleep(-1, 1000);
			continue;
		}
		/* idle: until the next row falls due, a NOTIFY, or stop */
		enum db_status st;
		long long wait_ms = LIMIT_QUEUE_IDLE_MS;
		PGresult *res = db_exec(db, STMT_QUEUE_NEXT_DUE, 0, NULL, NULL, NULL, &st);
		if (st == DB_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
			long long s = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			if (s < 0)
				s = 0;
			if (s * 1000 < wait_ms)
				wait_ms = s * 1000 + 50;
		}
		PQclear(res);
		PGconn *pg = db_pg(db);
		PGnotify *nf;
		bool woken = false;
		(void)PQconsumeInput(pg);
		while ((nf = PQnotifies(pg)) != NULL) {
			woken = true;
			PQfreemem(nf);
		}
		if (woken)
			continue;
		runner_sleep(PQsocket(pg), (int)wait_ms);
		(void)PQconsumeInput(pg);
		while ((nf = PQnotifies(pg)) != NULL)
			PQfreemem(nf);
	}
	db_close(&db);
	return NULL;
}

int queue_start(const char *conninfo, const struct queue_settings *s)
{
	const char *err = NULL;

	queue_cfg = *s;
	queue_cfg.hostname = xstrdup(s->hostname);
	queue_cfg.ca_file = s->ca_file != NULL ? xstrdup(s->ca_file) : NULL;
	if (s->runners <= 0) {
		log_info("queue", "no queue runners on this node (POSTERN_QUEUE_RUNNERS=0)");
		return 0;
	}
	if (pipe2(queue_stop_pipe, O_CLOEXEC) < 0)
		return -1;
	if (queue_deliver_init(&queue_cfg, &err) < 0) {
		log_error("queue", "%s", err);
		return -1;
	}
	queue_conninfo = xstrdup(conninfo);
	queue_runners = xcalloc((size_t)s->runners, sizeof(*queue_runners));
	for (int i = 0; i < s->runners; i++) {
		queue_runners[i].idx = i;
		if (pthread_create(&queue_runners[i].th, NULL, runner_main, &queue_runners[i]) != 0)
			return -1;
		queue_runners[i].started = true;
	}
	log_info("queue", "%d queue runner(s), remote port %d, first retry %d s, lifetime %d s",
		 s->runners, s->port, s->retry_s, s->lifetime_s);
	return 0;
}

void queue_stop(void)
{
	if (queue_runners != NULL) {
		if (write(queue_stop_pipe[1], "x", 1) < 0)
			log_warn("queue", "cannot signal the runners: %s", strerror(errno));
		for (int i = 0; i < queue_cfg.runners; i++)
			if (queue_runners[i].started)
				pthread_join(queue_runners[i].th, NULL);
		free(queue_runners);
		queue_runners = NULL;
		queue_deliver_shutdown();
	}
	for (int i = 0; i < 2; i++)
		if (queue_stop_pipe[i] >= 0)
			close(queue_stop_pipe[i]);
	queue_stop_pipe[0] = queue_stop_pipe[1] = -1;
	free(queue_conninfo);
	queue_conninfo = NULL;
	free((char *)queue_cfg.hostname);
	free((char *)queue_cfg.ca_file);
	queue_cfg.hostname = queue_cfg.ca_file = NULL;
}
