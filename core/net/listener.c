/* listener.c - the listening sockets, kept in step with the listeners table.
 * listener_apply() diffs the wanted set against what is bound: an unchanged
 * listener keeps its socket; a listener whose port is already bound by
 * another entry takes that socket over (renames, swaps); anything else is
 * bound first, and only then is the old socket closed, so a port that
 * cannot be bound leaves the old listener running. Accepting is
 * non-blocking, bounded by LIMIT_ACCEPTS_PER_WAKEUP per readiness, and
 * backs off 100 ms when the process is out of file descriptors. A listener
 * lives while conns it accepted do (reference count): they read its name. */
#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "net/loop.h"
#include "net/net_private.h"

#define LISTENER_MAX_PROTOS 8
#define LISTENER_BACKLOG 511
#define LISTENER_EMFILE_PAUSE_MS 100

struct listener {
	struct listener_spec spec;
	const struct conn_proto *proto;
	char address[INET6_ADDRSTRLEN];
	int fd;				/* -1 once closed */
	unsigned refs;			/* the bound list + one per conn */
	size_t connections;
	struct loop_timer *pause_timer;	/* EMFILE back-off */
	struct listener *next;		/* bound list */
};

static struct {
	char name[8];
	const struct conn_proto *proto;
} listener_protos[LISTENER_MAX_PROTOS];
static size_t listener_n_protos;
static char listener_address[INET6_ADDRSTRLEN] = "0.0.0.0";
static struct listener *listener_bound;
static struct listener_status *listener_st;
static struct listener **listener_st_l;	/* holds a ref, NULL when not up */
static size_t listener_n_st;

/* The copy other threads read (listener_snapshot). */
#define LISTENER_SNAP_MAX 64
static pthread_mutex_t listener_snap_mu = PTHREAD_MUTEX_INITIALIZER;
static struct listener_status listener_snap[LISTENER_SNAP_MAX];
static size_t listener_snap_n;

static void listener_snap_publish(void)
{
	pthread_mutex_lock(&listener_snap_mu);
	listener_snap_n = listener_status(listener_snap, LISTENER_SNAP_MAX);
	pthread_mutex_unlock(&listener_snap_mu);
}

size_t listener_snapshot(struct listener_status *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&listener_snap_mu);
	n = listener_snap_n < max ? listener_snap_n : max;
	memcpy(out, listener_snap, n * sizeof(*out));
	pthread_mutex_unlock(&listener_snap_mu);
	return n;
}

/* --- references and accessors for conn.c --- */

void listener_ref(struct listener *l)
{
	l->refs++;
}

void listener_unref(struct listener **lp)
{
	struct listener *l = *lp;
	if (l == NULL)
		return;
	*lp = NULL;
	if (--l->refs > 0)
		return;
	loop_timer_cancel(&l->pause_timer);
	if (l->fd >= 0) {
		loop_del(l->fd);
		close(l->fd);
	}
	free(l);
}

const struct listener_spec *listener_spec_of(const struct listener *l)
{
	return &l->spec;
}

const struct conn_proto *listener_proto_of(const struct listener *l)
{
	return l->proto;
}

void listener_conn_delta(struct listener *l, int delta)
{
	if (delta < 0 && l->connections == 0)
		return;
	l->connections += (size_t)(long)delta;
	/* only this listener's counter changes: update it in place */
	pthread_mutex_lock(&listener_snap_mu);
	for (size_t i = 0; i < listener_n_st && i < listener_snap_n; i++)
		if (listener_st_l[i] == l)
			listener_snap[i].connections = l->connections;
	pthread_mutex_unlock(&listener_snap_mu);
}

/* --- protocols and address --- */

void listener_register_proto(const char *protocol, const struct conn_proto *proto)
{
	for (size_t i = 0; i < listener_n_protos; i++) {
		if (strcmp(listener_protos[i].name, protocol) == 0) {
			listener_protos[i].proto = proto;
			return;
		}
	}
	if (listener_n_protos == LISTENER_MAX_PROTOS)
		abort(); /* a fixed handful: smtp, pop3, imap */
	str_lcpy(listener_protos[listener_n_protos].name, protocol,
		 sizeof(listener_protos[0].name));
	listener_protos[listener_n_protos++].proto = proto;
}

static const struct conn_proto *listener_find_proto(const char *protocol)
{
	for (size_t i = 0; i < listener_n_protos; i++)
		if (strcmp(listener_protos[i].name, protocol) == 0)
			return listener_protos[i].proto;
	return NULL;
}

void listener_set_address(const char *address)
{
	str_lcpy(listener_address, address ? address : "0.0.0.0", sizeof(listener_address));
}

static const char *listener_tls_text(enum tls_mode t)
{
	return t == TLS_MODE_IMPLICIT ? "implicit TLS" : t == TLS_MODE_STARTTLS ? "starttls" : "plain";
}

static bool listener_is_v6(const char *address)
{
	return strchr(address, ':') != NULL;
}

/* --- accepting --- */

static void listener_on_accept(void *arg, uint32_t events);

static void listener_resume(void *arg)
{
	struct listener *l = arg;
	l->pause_timer = NULL;
	if (l->fd >= 0)
		loop_mod(l->fd, EPOLLIN);
}

static void listener_peer_text(const struct sockaddr_storage *ss, char *out, size_t outsize,
			       int *port_r)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		*port_r = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, (socklen_t)outsize);
			return;
		}
		inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)outsize);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		*port_r = ntohs(s4->sin_port);
		inet_ntop(AF_INET, &s4->sin_addr, out, (socklen_t)outsize);
	} else {
		*port_r = 0;
		str_lcpy(out, "unknown", outsize);
	}
}

static void listener_on_accept(void *arg, uint32_t events)
{
	struct listener *l = arg;
	static uint64_t last_log;

	for (int i = 0; i < LIMIT_ACCEPTS_PER_WAKEUP && l->fd >= 0; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			uint64_t now = loop_now_ms();
			if (now - last_log >= 1000) {
				last_log = now;
				log_warn("net", "listener %s: accept: %s", l->spec.name, strerror(errno));
			}
			if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			     errno == ENOMEM) && l->pause_timer == NULL) {
				/* Level-triggered: without a pause this would spin. */
				loop_mod(l->fd, 0);
				l->pause_timer = loop_timer_add(LISTENER_EMFILE_PAUSE_MS, listener_resume, l);
			}
			return;
		}
		char peer[INET6_ADDRSTRLEN];
		int port;
		listener_peer_text(&ss, peer, sizeof(peer), &port);
		conn_accept(fd, l, peer, port);
	}
}

/* Binds and listens on listener_address:port. fd, or -1 with err filled. */
static int listener_bind(int port, char *err, size_t errsize)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int one = 1, zero = 0;

	memset(&ss, 0, sizeof(ss));
	if (listener_is_v6(listener_address)) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, listener_address, &s6->sin6_addr) != 1) {
			str_fmt(err, errsize, "bad listen address %s", listener_address);
			return -1;
		}
		sslen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, listener_address, &s4->sin_addr) != 1) {
			str_fmt(err, errsize, "bad listen address %s", listener_address);
			return -1;
		}
		sslen = sizeof(*s4);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		str_fmt(err, errsize, "port %d: %s", port, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6) /* "::" takes IPv4 too */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, LISTENER_BACKLOG) < 0) {
		str_fmt(err, errsize, "port %d: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static struct listener *listener_new(const struct listener_spec *spec,
				     const struct conn_proto *proto, int fd)
{
	struct listener *l = xcalloc(1, sizeof(*l));
	l->spec = *spec;
	l->spec.name[sizeof(l->spec.name) - 1] = '\0';
	l->spec.protocol[sizeof(l->spec.protocol) - 1] = '\0';
	l->proto = proto;
	str_lcpy(l->address, listener_address, sizeof(l->address));
	l->fd = fd;
	l->refs = 1;
	if (loop_add(fd, EPOLLIN, listener_on_accept, l) < 0) {
		l->fd = -1;
		close(fd);
		free(l);
		return NULL;
	}
	return l;
}

static void listener_log_up(const struct listener *l)
{
	if (listener_is_v6(l->address))
		log_info("net", "listener %s up on [%s]:%d (%s)", l->spec.name, l->address,
			 l->spec.port, listener_tls_text(l->spec.tls));
	else
		log_info("net", "listener %s up on %s:%d (%s)", l->spec.name, l->address,
			 l->spec.port, listener_tls_text(l->spec.tls));
}

/* Removes l from a singly linked list. */
static void listener_unlink(struct listener **list, struct listener *l)
{
	for (struct listener **pp = list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			l->next = NULL;
			return;
		}
	}
}

static void listener_push(struct listener **list, struct listener *l)
{
	l->next = *list;
	*list = l;
}

/* Stops accepting on l and drops the bound list's reference. */
static void listener_close(struct listener *l)
{
	loop_timer_cancel(&l->pause_timer);
	if (l->fd >= 0) {
		loop_del(l->fd);
		close(l->fd);
		l->fd = -1;
	}
	listener_unref(&l);
}

static void listener_status_clear(void)
{
	for (size_t i = 0; i < listener_n_st; i++)
		listener_unref(&listener_st_l[i]);
	xfree(listener_st);
	xfree(listener_st_l);
	listener_n_st = 0;
}

void listener_apply(const struct listener_spec *specs, size_t n)
{
	struct listener *pool = listener_bound;
	bool *done = xcalloc(n ? n : 1, sizeof(bool));
	const struct conn_proto **protos = xcalloc(n ? n : 1, sizeof(*protos));

	listener_bound = NULL;
	listener_status_clear();
	listener_st = xcalloc(n ? n : 1, sizeof(*listener_st));
	listener_st_l = xcalloc(n ? n : 1, sizeof(*listener_st_l));
	listener_n_st = n;

	/* 1: what is wanted, and what is already bound exactly so. */
	for (size_t i = 0; i < n; i++) {
		struct listener_status *st = &listener_st[i];
		st->spec = specs[i];
		st->spec.name[sizeof(st->spec.name) - 1] = '\0';
		st->spec.protocol[sizeof(st->spec.protocol) - 1] = '\0';
		if (!specs[i].enabled) {
			str_lcpy(st->error, "disabled", sizeof(st->error));
			done[i] = true;
			continue;
		}
		protos[i] = listener_find_proto(st->spec.protocol);
		if (protos[i] == NULL) {
			str_fmt(st->error, sizeof(st->error), "%s is not served yet", st->spec.protocol);
			done[i] = true;
			continue;
		}
		if (specs[i].port < 1 || specs[i].port > 65535) {
			str_fmt(st->error, sizeof(st->error), "port %d is out of range", specs[i].port);
			done[i] = true;
			continue;
		}
		for (struct listener *l = pool; l != NULL; l = l->next) {
			if (strcmp(l->spec.name, st->spec.name) == 0 &&
			    strcmp(l->spec.protocol, st->spec.protocol) == 0 &&
			    l->spec.port == st->spec.port && l->spec.tls == st->spec.tls &&
			    strcmp(l->address, listener_address) == 0) {
				listener_unlink(&pool, l);
				listener_push(&listener_bound, l);
				st->up = true;
				listener_ref(l);
				listener_st_l[i] = l;
				done[i] = true;
				break;
			}
		}
	}

	/* 2: take over a socket already bound on that port, or bind anew. */
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		struct listener_status *st = &listener_st[i];
		struct listener *l = NULL, *same_port = NULL, *same_name = NULL;
		for (struct listener *p = pool; p != NULL; p = p->next) {
			if (p->spec.port == st->spec.port && strcmp(p->address, listener_address) == 0)
				same_port = p;
			if (strcmp(p->spec.name, st->spec.name) == 0)
				same_name = p;
		}
		if (same_port != NULL) {
			int fd = same_port->fd;
			loop_timer_cancel(&same_port->pause_timer);
			loop_del(fd);
			same_port->fd = -1; /* the socket moves to the new listener */
			listener_unlink(&pool, same_port);
			listener_unref(&same_port);
			l = listener_new(&st->spec, protos[i], fd);
		} else {
			char err[sizeof(st->error)];
			int fd = listener_bind(st->spec.port, err, sizeof(err));
			if (fd >= 0) {
				l = listener_new(&st->spec, protos[i], fd);
			} else if (same_name != NULL) {
				/* Keep serving on the old port rather than not at all. */
				listener_unlink(&pool, same_name);
				listener_push(&listener_bound, same_name);
				st->spec = same_name->spec;
				st->up = true;
				str_fmt(st->error, sizeof(st->error), "%s (still on port %d)", err,
					same_name->spec.port);
				listener_ref(same_name);
				listener_st_l[i] = same_name;
				log_warn("net", "listener %s: %s", st->spec.name, st->error);
				continue;
			} else {
				str_lcpy(st->error, err, sizeof(st->error));
				log_warn("net", "listener %s not up: %s", st->spec.name, err);
				continue;
			}
		}
		if (l == NULL) {
			str_lcpy(st->error, "cannot watch the socket", sizeof(st->error));
			continue;
		}
		listener_push(&listener_bound, l);
		st->up = true;
		listener_ref(l);
		listener_st_l[i] = l;
		listener_log_up(l);
	}

	/* 3: whatever is left is no longer wanted. */
	while (pool != NULL) {
		struct listener *l = pool;
		pool = l->next;
		l->next = NULL;
		log_info("net", "listener %s stopped (port %d)", l->spec.name, l->spec.port);
		listener_close(l);
	}
	free(done);
	free(protos);
	listener_snap_publish();
}

/* XXX: connections counts conns of the current listener object; conns
 * accepted before a reload replaced it are no longer counted. */
size_t listener_status(struct listener_status *out, size_t max)
{
	size_t n = listener_n_st < max ? listener_n_st : max;
	for (size_t i = 0; i < n; i++) {
		out[i] = listener_st[i];
		out[i].connections = listener_st_l[i] ? listener_st_l[i]->connections : 0;
	}
	return n;
}

void listener_close_all(void)
{
	while (listener_bound != NULL) {
		struct listener *l = listener_bound;
		listener_bound = l->next;
		l->next = NULL;
		listener_close(l);
	}
	for (size_t i = 0; i < listener_n_st; i++) {
		if (listener_st[i].up) {
			listener_st[i].up = false;
			str_lcpy(listener_st[i].error, "shut down", sizeof(listener_st[i].error));
		}
	}
	listener_snap_publish();
}
