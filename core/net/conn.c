/* conn.c - one client connection: non-blocking socket, optional TLS
 * (implicit, or STARTTLS after the plaintext reply is flushed and buffered
 * input discarded, CVE-2011-0411), input capped at LIMIT_CONN_INBUF, output
 * at LIMIT_OUTBUF_MAX, both buffers freed when empty so an idle conn costs
 * this struct plus OpenSSL's own state. Writes and wake-ups are queued on a
 * "todo" list flushed once per loop iteration (Redis's pending writes), and
 * conns die in two steps: conn_kill() unhooks them at once, the idle hook
 * frees them (and their session) at a safe point. Limits: LIMIT_CONNECTIONS_MAX,
 * LIMIT_CONNECTIONS_PER_IP (busy_reply, close), LIMIT_TLS_HANDSHAKE_MS,
 * LIMIT_CONN_CLOSE_FLUSH_MS. RFC 4978 COMPRESS=DEFLATE sits between the
 * plaintext buffers and TLS/the socket (conn_compress_start): bounded
 * compressed buffers and zlib state, LIMIT_COMPRESS_*. Loop thread only. */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "auth/ban.h"
#include "config/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "net/loop.h"
#include "net/net_private.h"
#include "net/tls.h"

#define CONN_READ_CHUNK 16384	/* one TLS record */
#define CONN_READS_PER_WAKEUP 4
#define CONN_INPUT_ROUNDS 64	/* input() calls per delivery while it keeps consuming */
#define CONN_IP_BUCKETS 1024

enum {
	CONN_OPENED = 1u << 0,		/* proto->open() gave a session */
	CONN_HANDSHAKE = 1u << 1,	/* TLS handshake running */
	CONN_HS_WANT_WRITE = 1u << 2,
	CONN_STARTTLS_PENDING = 1u << 3, /* handshake once the output drained */
	CONN_PAUSED = 1u << 4,
	CONN_CLOSING = 1u << 5,		/* close once the output drained */
	CONN_DEAD = 1u << 6,		/* unhooked, freed at the safe point */
	CONN_READ_WANTS_WRITE = 1u << 7,
	CONN_WRITE_WANTS_READ = 1u << 8,
	CONN_TLS_UP = 1u << 9,
	CONN_TLS_FAILED = 1u << 10,	/* no close_notify */
	CONN_IN_TODO = 1u << 11,
	CONN_TODO_INPUT = 1u << 12,	/* deliver buffered input / read SSL_pending */
	CONN_READ_EOF = 1u << 13,
};

/* COMPRESS=DEFLATE state (RFC 4978), only on conns that asked for it. */
struct conn_zlib {
	z_stream inf, def;
	struct buf zin;		/* compressed input not inflated yet */
	struct buf zout;	/* compressed output not written yet */
	size_t plain;		/* octets at the head of out that go out as they are */
	bool def_pending;	/* deflate may hold output that did not fit zout */
};

struct conn {
	uint64_t id;
	struct conn *hash_next;		/* id hash; the dead list once dead */
	struct conn *todo_next;
	const struct conn_proto *proto;
	void *session;
	struct listener *listener;
	SSL *ssl;
	struct conn_zlib *z;		/* NULL unless COMPRESS is active */
	struct buf in, out;
	struct loop_timer *idle_timer;
	struct loop_timer *aux_timer;	/* TLS handshake deadline or close flush */
	uint64_t last_active;
	uint32_t timeout_ms;
	uint32_t flags;
	uint32_t events;		/* registered with epoll */
	int fd;
	uint16_t peer_port;
	char peer[INET6_ADDRSTRLEN];
};

struct conn_ip {
	struct conn_ip *next;
	unsigned count;
	char addr[INET6_ADDRSTRLEN];
};

static uint64_t conn_next_id;
static size_t conn_total;
static struct conn **conn_hash;
static size_t conn_hash_size;	/* power of two */
static size_t conn_hash_count;
static struct conn *conn_todo_head, *conn_todo_tail;
static struct conn *conn_dead;
static struct loop_timer *conn_kick_timer;
static struct conn_ip *conn_ips[CONN_IP_BUCKETS];
static bool conn_hook_set;

static void conn_idle(void);
static void conn_kill(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_update_events(struct conn *c);

/* --- id hash and per-IP counts --- */

static size_t conn_hash_slot(uint64_t id, size_t size)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & (size - 1);
}

static void conn_hash_insert(struct conn *c)
{
	if (conn_hash_count >= conn_hash_size) {
		size_t nsize = conn_hash_size ? conn_hash_size * 2 : 1024;
		struct conn **n = xcalloc(nsize, sizeof(*n));
		for (size_t i = 0; i < conn_hash_size; i++) {
			struct conn *e = conn_hash[i];
			while (e != NULL) {
				struct conn *next = e->hash_next;
				size_t s = conn_hash_slot(e->id, nsize);
				e->hash_next = n[s];
				n[s] = e;
				e = next;
			}
		}
		free(conn_hash);
		conn_hash = n;
		conn_hash_size = nsize;
	}
	size_t s = conn_hash_slot(c->id, conn_hash_size);
	c->hash_next = conn_hash[s];
	conn_hash[s] = c;
	conn_hash_count++;
}

static void conn_hash_remove(struct conn *c)
{
	struct conn **pp = &conn_hash[conn_hash_slot(c->id, conn_hash_size)];
	for (; *pp != NULL; pp = &(*pp)->hash_next) {
		if (*pp == c) {
			*pp = c->hash_next;
			c->hash_next = NULL;
			conn_hash_count--;
			return;
		}
	}
}

struct conn *conn_find(uint64_t id)
{
	if (conn_hash_size == 0)
		return NULL;
	for (struct conn *c = conn_hash[conn_hash_slot(id, conn_hash_size)]; c; c = c->hash_next)
		if (c->id == id)
			return c;
	return NULL;
}

static struct conn_ip **conn_ip_slot(const char *addr)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
		h = (h ^ *p) * 16777619u;
	struct conn_ip **pp = &conn_ips[h % CONN_IP_BUCKETS];
	while (*pp != NULL && strcmp((*pp)->addr, addr) != 0)
		pp = &(*pp)->next;
	return pp;
}

static unsigned conn_ip_count(const char *addr)
{
	struct conn_ip *e = *conn_ip_slot(addr);
	return e ? e->count : 0;
}

static void conn_ip_add(const char *addr, int delta)
{
	struct conn_ip **pp = conn_ip_slot(addr);
	if (*pp == NULL) {
		if (delta < 0)
			return;
		*pp = xcalloc(1, sizeof(**pp));
		str_lcpy((*pp)->addr, addr, sizeof((*pp)->addr));
	}
	struct conn_ip *e = *pp;
	e->count += (unsigned)delta;
	if (e->count == 0) {
		*pp = e->next;
		free(e);
	}
}

/* --- the todo list: flush, wake-up and event updates at the safe point --- */

static void conn_todo(struct conn *c, bool input)
{
	if (input)
		c->flags |= CONN_TODO_INPUT;
	if (c->flags & CONN_IN_TODO)
		return;
	c->flags |= CONN_IN_TODO;
	c->todo_next = NULL;
	if (conn_todo_tail != NULL)
		conn_todo_tail->todo_next = c;
	else
		conn_todo_head = c;
	conn_todo_tail = c;
}

static bool conn_can_read(const struct conn *c)
{
	const uint32_t stop = CONN_DEAD | CONN_CLOSING | CONN_PAUSED | CONN_STARTTLS_PENDING |
			      CONN_HANDSHAKE | CONN_READ_EOF;
	return (c->flags & CONN_OPENED) && !(c->flags & stop) &&
	       buf_room(c->z != NULL ? &c->z->zin : &c->in) > 0;
}

/* --- COMPRESS=DEFLATE --- */

/* Inflates buffered compressed input into in while in has room (data held
 * inside zlib included). -1: a corrupt stream. */
static int conn_inflate(struct conn *c)
{
	struct conn_zlib *z = c->z;

	while (buf_room(&c->in) > 0) {
		size_t room = buf_room(&c->in) < CONN_READ_CHUNK ? buf_room(&c->in) : CONN_READ_CHUNK;
		unsigned char *dst = buf_reserve(&c->in, room);
		size_t have = buf_len(&z->zin);
		int r;

		z->inf.next_in = buf_data(&z->zin);
		z->inf.avail_in = (uInt)have;
		z->inf.next_out = dst;
		z->inf.avail_out = (uInt)room;
		r = inflate(&z->inf, Z_SYNC_FLUSH);
		buf_commit(&c->in, room - z->inf.avail_out);
		buf_consume(&z->zin, have - z->inf.avail_in);
		if (r != Z_OK && r != Z_BUF_ERROR)
			return -1;	/* Z_STREAM_END too: RFC 4978 has no end */
		if (z->inf.avail_out == room)
			break;	/* needs more input */
	}
	if (buf_len(&z->zin) == 0)
		buf_shrink(&z->zin);
	return 0;
}

/* Deflates plaintext output into zout while zout has room; every call
 * ends in a sync flush, so the client can read all that was queued. */
static int conn_deflate(struct conn *c)
{
	struct conn_zlib *z = c->z;

	while (buf_len(&c->out) > 0 || z->def_pending) {
		size_t room = buf_room(&z->zout) < CONN_READ_CHUNK ? buf_room(&z->zout) : CONN_READ_CHUNK;
		size_t have = buf_len(&c->out) < CONN_READ_CHUNK ? buf_len(&c->out) : CONN_READ_CHUNK;
		unsigned char *dst;
		int r;

		if (room < 64)
			break;	/* zout is full: write it first */
		dst = buf_reserve(&z->zout, room);
		z->def.next_in = buf_data(&c->out);
		z->def.avail_in = (uInt)have;
		z->def.next_out = dst;
		z->def.avail_out = (uInt)room;
		r = deflate(&z->def, Z_SYNC_FLUSH);
		buf_commit(&z->zout, room - z->def.avail_out);
		buf_consume(&c->out, have - z->def.avail_in);
		if (r == Z_STREAM_ERROR)
			return -1;
		z->def_pending = z->def.avail_out == 0;
	}
	if (buf_len(&c->out) == 0)
		buf_shrink(&c->out);
	return 0;
}

static void conn_zlib_free(struct conn *c)
{
	if (c->z == NULL)
		return;
	inflateEnd(&c->z->inf);
	deflateEnd(&c->z->def);
	buf_free(&c->z->zin);
	buf_free(&c->z->zout);
	free(c->z);
	c->z = NULL;
}

/* --- input --- */

/* Hands buffered input to the session, again while it keeps consuming
 * (a session may take one command per call). */
static void conn_deliver(struct conn *c)
{
	const uint32_t stop = CONN_DEAD | CONN_CLOSING | CONN_PAUSED | CONN_STARTTLS_PENDING;

	int round;
	for (round = 0; round < CONN_INPUT_ROUNDS; round++) {
		if (c->z != NULL && conn_inflate(c) < 0) {
			log_debug("conn", "#%llu %s:%d corrupt compressed input",
				  (unsigned long long)c->id, c->peer, c->peer_port);
			conn_kill(c);
			return;
		}
		if (!(c->flags & CONN_OPENED) || (c->flags & stop) || buf_len(&c->in) == 0)
			break;
		size_t before = buf_len(&c->in);
		c->proto->input(c->session, c);
		if (c->flags & CONN_DEAD)
			return;
		if (buf_len(&c->in) >= before)
			break; /* needs more bytes */
	}
	if (round == CONN_INPUT_ROUNDS && buf_len(&c->in) > 0) {
		conn_todo(c, true); /* a long pipeline: let other conns run first */
		return;
	}
	if (buf_len(&c->in) == 0) {
		buf_shrink(&c->in);
	} else if (buf_room(&c->in) == 0 && !(c->flags & stop)) {
		log_warn("conn", "%s:%d: %zu bytes of input without a complete command, closing",
			 c->peer, c->peer_port, buf_len(&c->in));
		buf_reset(&c->in);
		conn_close(c);
	}
}

static void conn_do_read(struct conn *c)
{
	static unsigned char scratch[CONN_READ_CHUNK];
	size_t got = 0;
	bool eof = false, failed = false;
	const char *why = NULL;

	for (int i = 0; i < CONN_READS_PER_WAKEUP && conn_can_read(c); i++) {
		size_t want = buf_room(c->z != NULL ? &c->z->zin : &c->in);
		if (want > sizeof(scratch))
			want = sizeof(scratch);
		ssize_t n;
		if (c->ssl != NULL) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, scratch, (int)want);
			c->flags &= ~CONN_READ_WANTS_WRITE;
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE)
					c->flags |= CONN_READ_WANTS_WRITE;
				else if (e == SSL_ERROR_ZERO_RETURN)
					eof = true;
				else if (e != SSL_ERROR_WANT_READ) {
					failed = true;
					c->flags |= CONN_TLS_FAILED;
					why = e == SSL_ERROR_SSL
						      ? ERR_reason_error_string(ERR_peek_last_error())
						      : (errno ? strerror(errno) : "connection closed");
				}
				break;
			}
			n = r;
		} else {
			n = recv(c->fd, scratch, want, 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK) {
					failed = true;
					why = strerror(errno);
				}
				break;
			}
			if (n == 0) {
				eof = true;
				break;
			}
		}
		/* fits: n <= room; compressed input is inflated by conn_deliver */
		buf_append(c->z != NULL ? &c->z->zin : &c->in, scratch, (size_t)n);
		got += (size_t)n;
		if ((size_t)n < want && !(c->ssl != NULL && SSL_pending(c->ssl) > 0))
			break; /* the socket is drained */
	}
	if (got > 0) {
		c->last_active = loop_now_ms();
		conn_deliver(c);
		if (c->flags & CONN_DEAD)
			return;
	}
	if (failed) {
		log_debug("conn", "#%llu %s:%d read failed: %s", (unsigned long long)c->id, c->peer,
			  c->peer_port, why ? why : "error");
		conn_kill(c);
	} else if (eof) {
		c->flags |= CONN_READ_EOF;
		conn_close(c);
	} else if (c->ssl != NULL && SSL_pending(c->ssl) > 0) {
		/* Bytes inside OpenSSL never wake epoll: come back for them. */
		conn_todo(c, true);
	}
}

/* --- TLS --- */

static void conn_open_session(struct conn *c)
{
	void *s = c->proto->open(c);
	if (c->flags & CONN_DEAD)
		return;
	if (s == NULL) {
		conn_close(c);
		return;
	}
	c->session = s;
	c->flags |= CONN_OPENED;
}

static void conn_tls_fail(struct conn *c, const char *why)
{
	/* A port probe (connect, close) is not worth an info line. */
	log_msg(why == NULL ? LOG_DEBUG : LOG_INFO, "conn", "%s:%d on %s: TLS handshake failed: %s",
		c->peer, c->peer_port, conn_listener_name(c), why ? why : "closed by the client");
	ERR_clear_error();
	c->flags &= ~(CONN_HANDSHAKE | CONN_HS_WANT_WRITE);
	c->flags |= CONN_TLS_FAILED;
	if ((c->flags & CONN_OPENED) && c->proto->tls_done != NULL)
		c->proto->tls_done(c->session, c, false);
	conn_kill(c);
}

static void conn_handshake(struct conn *c)
{
	ERR_clear_error();
	errno = 0;
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->flags &= ~(CONN_HANDSHAKE | CONN_HS_WANT_WRITE);
		c->flags |= CONN_TLS_UP;
		loop_timer_cancel(&c->aux_timer);
		log_debug("conn", "#%llu %s:%d TLS %s %s", (unsigned long long)c->id, c->peer,
			  c->peer_port, SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
		if (!(c->flags & CONN_OPENED))
			conn_open_session(c);
		else if (c->proto->tls_done != NULL)
			c->proto->tls_done(c->session, c, true);
		if (!(c->flags & CONN_DEAD))
			conn_todo(c, true); /* data may wait inside OpenSSL */
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		c->flags &= ~CONN_HS_WANT_WRITE;
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		c->flags |= CONN_HS_WANT_WRITE;
		return;
	}
	const char *why;
	if (e == SSL_ERROR_SSL && ERR_peek_last_error() != 0)
		why = ERR_reason_error_string(ERR_peek_last_error());
	else if (e == SSL_ERROR_SYSCALL && errno != 0)
		why = strerror(errno);
	else
		why = NULL; /* closed by the client */
	conn_tls_fail(c, why);
}

static void conn_aux_fire(void *arg)
{
	struct conn *c = arg;
	c->aux_timer = NULL;
	if (c->flags & CONN_HANDSHAKE)
		conn_tls_fail(c, "handshake timeout");
	else if (c->flags & CONN_CLOSING)
		conn_kill(c); /* the client did not read what was queued */
}

/* Starts a server handshake on the current default context. 0 or -1. */
static int conn_tls_start(struct conn *c)
{
	SSL_CTX *ctx = tls_server_ctx();
	if (ctx == NULL)
		return -1;
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		ERR_clear_error();
		return -1;
	}
	SSL_set_accept_state(c->ssl);
	c->flags |= CONN_HANDSHAKE;
	loop_timer_cancel(&c->aux_timer);
	c->aux_timer = loop_timer_add(LIMIT_TLS_HANDSHAKE_MS, conn_aux_fire, c);
	conn_handshake(c);
	return 0;
}

/* --- output --- */

static void conn_wrote(struct conn *c, struct buf *wb, size_t n)
{
	buf_consume(wb, n);
	if (c->z != NULL && wb == &c->out)
		c->z->plain -= n;
}

/* The buffer conn_flush writes from and how much of it: out, or with
 * COMPRESS the plaintext head of out and then zout. NULL: nothing. */
static struct buf *conn_wbuf(struct conn *c, size_t *len_r)
{
	if (c->z == NULL || c->z->plain > 0) {
		*len_r = c->z != NULL ? c->z->plain : buf_len(&c->out);
		return *len_r > 0 ? &c->out : NULL;
	}
	if (conn_deflate(c) < 0)
		abort();	/* a zlib state error is a bug */
	*len_r = buf_len(&c->z->zout);
	return *len_r > 0 ? &c->z->zout : NULL;
}

static void conn_flush(struct conn *c)
{
	size_t before = conn_out_pending(c);
	struct buf *wb;
	size_t len;

	while ((wb = conn_wbuf(c, &len)) != NULL) {
		unsigned char *data = buf_data(wb);
		if (c->ssl != NULL) {
			/* The length only grows between retries: OpenSSL accepts that. */
			int n = len > CONN_READ_CHUNK ? CONN_READ_CHUNK : (int)len;
			ERR_clear_error();
			int r = SSL_write(c->ssl, data, n);
			c->flags &= ~CONN_WRITE_WANTS_READ;
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE)
					break;
				if (e == SSL_ERROR_WANT_READ) {
					c->flags |= CONN_WRITE_WANTS_READ;
					break;
				}
				c->flags |= CONN_TLS_FAILED;
				log_debug("conn", "#%llu %s:%d TLS write failed", (unsigned long long)c->id,
					  c->peer, c->peer_port);
				conn_kill(c);
				return;
			}
			conn_wrote(c, wb, (size_t)r);
		} else {
			ssize_t r = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				log_debug("conn", "#%llu %s:%d write failed: %s", (unsigned long long)c->id,
					  c->peer, c->peer_port, strerror(errno));
				conn_kill(c);
				return;
			}
			conn_wrote(c, wb, (size_t)r);
		}
	}
	if (conn_out_pending(c) < before)
		c->last_active = loop_now_ms();
	if (conn_out_pending(c) > 0)
		return;
	buf_shrink(&c->out);
	if (c->z != NULL)
		buf_shrink(&c->z->zout);
	if (c->flags & CONN_CLOSING) {
		conn_kill(c);
		return;
	}
	if (c->flags & CONN_STARTTLS_PENDING) {
		c->flags &= ~CONN_STARTTLS_PENDING;
		buf_reset(&c->in);
		buf_shrink(&c->in);
		if (conn_tls_start(c) < 0)
			conn_tls_fail(c, "cannot start TLS");
		return;
	}
	if (before > 0 && (c->flags & CONN_OPENED) && c->proto->drained != NULL)
		c->proto->drained(c->session, c);
}

/* After appending output: r < 0 means the output cap was hit (the client
 * is not reading), so the conn closes; else schedule the flush. */
static int conn_out_queued(struct conn *c, int r)
{
	if (r < 0) {
		if (!(c->flags & CONN_CLOSING))
			log_warn("conn", "%s:%d: output limit reached (client not reading), closing",
				 c->peer, c->peer_port);
		conn_close(c);
		return -1;
	}
	conn_todo(c, false);
	return 0;
}

int conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->flags & CONN_DEAD)
		return -1;
	return conn_out_queued(c, buf_append(&c->out, p, n));
}

int conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->flags & CONN_DEAD)
		return -1;
	va_start(ap, fmt);
	int r = buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	return conn_out_queued(c, r);
}

/* --- events --- */

static void conn_update_events(struct conn *c)
{
	if (c->flags & (CONN_DEAD | CONN_IN_TODO))
		return; /* the todo pass updates it */
	uint32_t ev = 0;
	if (c->flags & CONN_HANDSHAKE) {
		ev = (c->flags & CONN_HS_WANT_WRITE) ? EPOLLOUT : EPOLLIN;
	} else {
		if (conn_can_read(c) || (c->flags & CONN_WRITE_WANTS_READ))
			ev |= EPOLLIN;
		if ((c->flags & CONN_READ_WANTS_WRITE) ||
		    (conn_out_pending(c) > 0 && !(c->flags & CONN_WRITE_WANTS_READ)))
			ev |= EPOLLOUT;
	}
	if (ev != c->events && loop_mod(c->fd, ev) == 0)
		c->events = ev;
}

static void conn_on_event(void *arg, uint32_t ev)
{
	struct conn *c = arg;

	if (c->flags & CONN_DEAD)
		return;
	if (ev & EPOLLERR) {
		log_debug("conn", "#%llu %s:%d socket error", (unsigned long long)c->id, c->peer,
			  c->peer_port);
		conn_kill(c);
		return;
	}
	if (c->flags & CONN_HANDSHAKE) {
		conn_handshake(c);
	} else {
		if ((ev & EPOLLIN) && (c->flags & CONN_WRITE_WANTS_READ))
			conn_flush(c);
		if (!(c->flags & CONN_DEAD) && (ev & (EPOLLIN | EPOLLHUP)) && conn_can_read(c))
			conn_do_read(c);
		if (!(c->flags & CONN_DEAD) && (ev & EPOLLOUT) && (c->flags & CONN_READ_WANTS_WRITE))
			conn_do_read(c);
		if (!(c->flags & CONN_DEAD) && (ev & EPOLLOUT) && conn_out_pending(c) > 0)
			conn_flush(c);
	}
	if (c->flags & CONN_DEAD)
		return;
	if (ev & EPOLLHUP) {
		conn_kill(c); /* both directions gone (reset) */
		return;
	}
	conn_update_events(c);
}

/* --- life cycle --- */

static void conn_kick_fire(void *arg)
{
	conn_kick_timer = NULL; /* the idle hook that follows does the work */
}

static void conn_process_todo(void)
{
	struct conn *list = conn_todo_head;
	conn_todo_head = conn_todo_tail = NULL;

	while (list != NULL) {
		struct conn *c = list;
		list = c->todo_next;
		c->todo_next = NULL;
		c->flags &= ~CONN_IN_TODO;
		if (c->flags & CONN_DEAD)
			continue;
		if (c->flags & CONN_TODO_INPUT) {
			c->flags &= ~CONN_TODO_INPUT;
			conn_deliver(c);
			if (!(c->flags & CONN_DEAD) && c->ssl != NULL && (c->flags & CONN_TLS_UP) &&
			    SSL_pending(c->ssl) > 0 && conn_can_read(c))
				conn_do_read(c);
		}
		if (!(c->flags & (CONN_DEAD | CONN_HANDSHAKE | CONN_WRITE_WANTS_READ)) &&
		    (conn_out_pending(c) > 0 || (c->flags & (CONN_STARTTLS_PENDING | CONN_CLOSING))))
			conn_flush(c);
		conn_update_events(c);
	}
}

static void conn_free(struct conn *c)
{
	if ((c->flags & CONN_OPENED) && c->proto->close != NULL)
		c->proto->close(c->session, c);
	c->session = NULL;
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	close(c->fd);
	conn_ip_add(c->peer, -1);
	listener_conn_delta(c->listener, -1);
	listener_unref(&c->listener);
	buf_free(&c->in);
	buf_free(&c->out);
	conn_zlib_free(c);
	conn_total--;
	free(c);
}

/* The safe point: flush what sessions queued, then free the dead. */
static void conn_idle(void)
{
	for (int pass = 0; pass < 4 && conn_todo_head != NULL; pass++)
		conn_process_todo();
	if (conn_todo_head != NULL && conn_kick_timer == NULL)
		conn_kick_timer = loop_timer_add(0, conn_kick_fire, NULL);

	struct conn *dead = conn_dead, *keep = NULL;
	conn_dead = NULL;
	while (dead != NULL) {
		struct conn *c = dead;
		dead = c->hash_next;
		if (c->flags & CONN_IN_TODO) { /* still linked in the todo list */
			c->hash_next = keep;
			keep = c;
			continue;
		}
		conn_free(c);
	}
	while (keep != NULL) {
		struct conn *c = keep;
		keep = c->hash_next;
		c->hash_next = conn_dead;
		conn_dead = c;
	}
}

/* Unhooks the conn now (no more events, timers or lookups); freed later. */
static void conn_kill(struct conn *c)
{
	if (c->flags & CONN_DEAD)
		return;
	c->flags |= CONN_DEAD;
	loop_timer_cancel(&c->idle_timer);
	loop_timer_cancel(&c->aux_timer);
	if (c->ssl != NULL && (c->flags & CONN_TLS_UP) && !(c->flags & CONN_TLS_FAILED)) {
		SSL_shutdown(c->ssl); /* one close_notify, best effort */
		ERR_clear_error();
	}
	loop_del(c->fd);
	conn_hash_remove(c);
	c->hash_next = conn_dead;
	conn_dead = c;
	log_debug("conn", "#%llu %s:%d disconnect", (unsigned long long)c->id, c->peer,
		  c->peer_port);
}

void conn_accept(int fd, struct listener *l, const char *peer, int peer_port)
{
	const struct conn_proto *proto = listener_proto_of(l);
	const struct listener_spec *spec = listener_spec_of(l);
	static uint64_t last_limit_log;

	if (!conn_hook_set) {
		loop_on_idle(conn_idle);
		conn_hook_set = true;
	}
	/* auth_ban_active (mailauth): an address banned for failed logins
	 * gets the same reply as one over the connection limits. */
	if (conn_total >= LIMIT_CONNECTIONS_MAX || conn_ip_count(peer) >= LIMIT_CONNECTIONS_PER_IP ||
	    auth_ban_active(peer)) {
		if (spec->tls != TLS_MODE_IMPLICIT && proto->busy_reply != NULL) {
			ssize_t r = send(fd, proto->busy_reply, strlen(proto->busy_reply),
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)r;
		}
		uint64_t now = loop_now_ms();
		if (now - last_limit_log >= 1000) {
			last_limit_log = now;
			log_info("conn", "%s: connection limit reached (%zu open, %u from %s), refusing",
				 spec->name, conn_total, conn_ip_count(peer), peer);
		}
		close(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	struct conn *c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->proto = proto;
	c->peer_port = (uint16_t)peer_port;
	str_lcpy(c->peer, peer, sizeof(c->peer));
	buf_init(&c->in, LIMIT_CONN_INBUF);
	buf_init(&c->out, LIMIT_OUTBUF_MAX);
	c->last_active = loop_now_ms();
	if (loop_add(fd, EPOLLIN, conn_on_event, c) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->events = EPOLLIN;
	c->id = ++conn_next_id;
	conn_hash_insert(c);
	conn_ip_add(c->peer, 1);
	listener_ref(l);
	c->listener = l;
	listener_conn_delta(l, 1);
	conn_total++;
	log_debug("conn", "#%llu connect from %s:%d to %s (port %d)", (unsigned long long)c->id,
		  c->peer, peer_port, spec->name, spec->port);

	if (spec->tls == TLS_MODE_IMPLICIT) {
		if (conn_tls_start(c) < 0) {
			log_warn("conn", "%s: no TLS certificate loaded, closing %s:%d", spec->name,
				 c->peer, peer_port);
			conn_kill(c);
			return;
		}
	} else {
		conn_open_session(c);
	}
	if (!(c->flags & CONN_DEAD))
		conn_update_events(c);
}

/* --- public API --- */

uint64_t conn_id(const struct conn *c)
{
	return c->id;
}

struct buf *conn_in(struct conn *c)
{
	return &c->in;
}

size_t conn_out_pending(const struct conn *c)
{
	return buf_len(&c->out) + (c->z != NULL ? buf_len(&c->z->zout) : 0);
}

int conn_compress_start(struct conn *c)
{
	struct conn_zlib *z;

	/* more pipelined input than the compressed buffer holds: the client
	 * did not wait for the OK (RFC 4978 3) */
	if (c->z != NULL || (c->flags & (CONN_DEAD | CONN_CLOSING)) ||
	    buf_len(&c->in) > LIMIT_COMPRESS_INBUF)
		return -1;
	z = xcalloc(1, sizeof(*z));
	/* raw deflate (negative window bits). Inflate must take any window
	 * (15); our deflate uses a smaller one to bound memory. */
	if (inflateInit2(&z->inf, -15) != Z_OK) {
		free(z);
		return -1;
	}
	if (deflateInit2(&z->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -LIMIT_COMPRESS_WINDOW_BITS,
			 LIMIT_COMPRESS_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->inf);
		free(z);
		return -1;
	}
	buf_init(&z->zin, LIMIT_COMPRESS_INBUF);
	buf_init(&z->zout, LIMIT_COMPRESS_OUTBUF);
	/* what is queued (the OK) goes out as it is; buffered input is
	 * already compressed */
	z->plain = buf_len(&c->out);
	buf_append(&z->zin, buf_data(&c->in), buf_len(&c->in));
	buf_reset(&c->in);
	c->z = z;
	conn_todo(c, true);
	return 0;
}

bool conn_is_compressed(const struct conn *c)
{
	return c->z != NULL;
}

void conn_pause(struct conn *c, bool paused)
{
	if (c->flags & CONN_DEAD)
		return;
	if (paused) {
		c->flags |= CONN_PAUSED;
		conn_todo(c, false);
	} else if (c->flags & CONN_PAUSED) {
		c->flags &= ~CONN_PAUSED;
		conn_todo(c, true);
	}
}

int conn_starttls(struct conn *c)
{
	if (c->ssl != NULL || (c->flags & (CONN_DEAD | CONN_CLOSING | CONN_STARTTLS_PENDING)) ||
	    tls_server_ctx() == NULL)
		return -1;
	c->flags |= CONN_STARTTLS_PENDING;
	buf_reset(&c->in); /* CVE-2011-0411: no plaintext survives STARTTLS */
	buf_shrink(&c->in);
	conn_todo(c, false);
	return 0;
}

bool conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL && (c->flags & CONN_TLS_UP);
}

const char *conn_tls_version(const struct conn *c)
{
	return conn_is_tls(c) ? SSL_get_version(c->ssl) : NULL;
}

const char *conn_tls_cipher(const struct conn *c)
{
	return conn_is_tls(c) ? SSL_get_cipher_name(c->ssl) : NULL;
}

static void conn_idle_fire(void *arg)
{
	struct conn *c = arg;
	c->idle_timer = NULL;
	if (c->flags & (CONN_DEAD | CONN_CLOSING) || c->timeout_ms == 0)
		return;
	uint64_t now = loop_now_ms();
	if (now - c->last_active < c->timeout_ms) {
		/* Activity since it was armed: sleep for the rest (no re-arm per read). */
		c->idle_timer = loop_timer_add(c->timeout_ms - (now - c->last_active), conn_idle_fire, c);
		return;
	}
	if ((c->flags & CONN_OPENED) && c->proto->timeout != NULL)
		c->proto->timeout(c->session, c);
	else
		conn_close(c);
}

void conn_set_timeout(struct conn *c, uint64_t ms)
{
	if (c->flags & CONN_DEAD)
		return;
	loop_timer_cancel(&c->idle_timer);
	c->timeout_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	c->last_active = loop_now_ms();
	if (ms > 0)
		c->idle_timer = loop_timer_add(c->timeout_ms, conn_idle_fire, c);
}

void conn_close(struct conn *c)
{
	if (c->flags & (CONN_DEAD | CONN_CLOSING))
		return;
	c->flags |= CONN_CLOSING;
	c->flags &= ~CONN_STARTTLS_PENDING;
	if ((c->flags & CONN_HANDSHAKE) || conn_out_pending(c) == 0 ||
	    (c->flags & CONN_TLS_FAILED)) {
		conn_kill(c);
		return;
	}
	loop_timer_cancel(&c->idle_timer);
	loop_timer_cancel(&c->aux_timer);
	c->aux_timer = loop_timer_add(LIMIT_CONN_CLOSE_FLUSH_MS, conn_aux_fire, c);
	conn_todo(c, false);
}

const char *conn_peer_addr(const struct conn *c)
{
	return c->peer;
}

int conn_peer_port(const struct conn *c)
{
	return c->peer_port;
}

int conn_local_port(const struct conn *c)
{
	return listener_spec_of(c->listener)->port;
}

const char *conn_listener_name(const struct conn *c)
{
	return listener_spec_of(c->listener)->name;
}

enum tls_mode conn_listener_tls(const struct conn *c)
{
	return listener_spec_of(c->listener)->tls;
}

void *conn_session(const struct conn *c)
{
	return c->session;
}

size_t conn_count(void)
{
	return conn_total;
}

void conn_shutdown_all(void)
{
	size_t n = 0;
	uint64_t *ids = xmalloc((conn_hash_count ? conn_hash_count : 1) * sizeof(*ids));

	for (size_t i = 0; i < conn_hash_size; i++)
		for (struct conn *c = conn_hash[i]; c != NULL; c = c->hash_next)
			ids[n++] = c->id;
	for (size_t i = 0; i < n; i++) {
		struct conn *c = conn_find(ids[i]);
		if (c == NULL || (c->flags & (CONN_DEAD | CONN_CLOSING)))
			continue;
		if ((c->flags & CONN_OPENED) && c->proto->shutdown != NULL)
			c->proto->shutdown(c->session, c);
		else
			conn_close(c);
	}
	free(ids);
}
