/* session.c - POP3 sessions on a conn (RFC 1939 section 3, RFC 2449 PIPELINING).
 *
 * The greeting, the input loop that reads one command at a time and stops
 * while a job, the failed-login delay, a streamed multi-line reply, the STLS
 * handshake or too much pending output is out; per-state idle timeouts,
 * error counting and shutdown. Large replies are written in
 * LIMIT_POP3_STREAM_CHUNK pieces while the output stays under
 * LIMIT_POP3_OUT_HIGHWATER, the rest when the conn has drained. Limits:
 * LIMIT_POP3_LINE, LIMIT_POP3_ERRORS(_PREAUTH), LIMIT_POP3_TIMEOUT(_PREAUTH)_MS. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "pop3/pop3.h"
#include "pop3/session.h"

/* RFC 2449 section 4: a response line is at most 512 octets with CRLF. */
#define POP3_REPLY_MAX 512

struct pop3_session *pop3_session_find(uint64_t id)
{
	struct conn *c = conn_find(id);
	struct pop3_session *s;

	if (c == NULL)
		return NULL;
	s = conn_session(c);
	if (s == NULL || s->closing)
		return NULL;
	return s;
}

static void vreply(struct pop3_session *s, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vreply(struct pop3_session *s, const char *fmt, va_list ap)
{
	char line[POP3_REPLY_MAX];
	int n;

	if (s->closing)
		return;
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)(sizeof(line) - 3);	/* cut: replies carry no client data of note */
	line[n++] = '\r';
	line[n++] = '\n';
	if (conn_write(s->conn, line, (size_t)n) < 0)
		s->closing = true;	/* the conn closes after flushing */
}

void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

void pop3_session_close(struct pop3_session *s)
{
	s->closing = true;
	if (!s->close_called) {
		s->close_called = true;
		conn_close(s->conn);
	}
}

void pop3_session_error(struct pop3_session *s, const char *fmt, ...)
{
	unsigned max = s->state == POP3_STATE_AUTH ? LIMIT_POP3_ERRORS_PREAUTH : LIMIT_POP3_ERRORS;
	va_list ap;

	/* The last error is answered by the goodbye alone, so a client
	 * reading one reply per command meets the end of the stream next. */
	if (++s->errors >= max) {
		if (s->closing)
			return;
		log_info("pop3", "too many errors ip=%s", conn_peer_addr(s->conn));
		pop3_reply(s, "-ERR too many errors");
		pop3_session_close(s);
		return;
	}
	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

bool pop3_session_login_allowed(const struct pop3_session *s)
{
	return conn_listener_tls(s->conn) != TLS_MODE_STARTTLS || conn_is_tls(s->conn);
}

void pop3_session_touch(struct pop3_session *s)
{
	conn_set_timeout(s->conn, s->state == POP3_STATE_AUTH ? LIMIT_POP3_TIMEOUT_PREAUTH_MS
							      : LIMIT_POP3_TIMEOUT_MS);
}

void pop3_session_reset_auth(struct pop3_session *s)
{
	s->have_user = false;
	s->auth_cont = false;
	s->mech = NULL;
	explicit_bzero(s->user, sizeof(s->user));
	pop3_parser_set_max(&s->parser, LIMIT_POP3_LINE);
}

void pop3_session_wait(struct pop3_session *s, enum pop3_wait why)
{
	s->wait = why;
	/* During the STLS handshake the conn reads the socket itself. */
	if (why != POP3_WAIT_TLS && !s->closing)
		conn_pause(s->conn, true);
}

/* Reads and runs buffered commands until one has to wait. */
static void session_run(struct pop3_session *s)
{
	if (s->running)
		return;	/* the outer loop sees the new state */
	s->running = true;
	while (!s->closing && s->wait == POP3_WAIT_NONE) {
		struct buf *in = conn_in(s->conn);
		struct pop3_cmd cmd;
		const char *error = NULL;
		size_t used = 0;
		bool secret;
		int r;

		if (buf_len(in) == 0)
			break;
		/* Pipelined commands whose replies the client does not read. */
		if (conn_out_pending(s->conn) > LIMIT_POP3_OUT_HIGHWATER) {
			pop3_session_wait(s, POP3_WAIT_DRAIN);
			break;
		}
		r = pop3_parser_read(&s->parser, buf_data(in), buf_len(in), &used, &cmd, &error);
		buf_consume(in, used);
		if (r == 0)
			break;
		pop3_session_touch(s);
		if (r < 0) {
			if (s->auth_cont) {
				s->auth_cont = false;
				pop3_parser_set_max(&s->parser, LIMIT_POP3_LINE);
			}
			pop3_session_error(s, "-ERR %s", error);
			continue;
		}
		/* Lines before login may carry a password: wipe them after. */
		secret = s->state == POP3_STATE_AUTH;
		if (s->auth_cont)
			pop3_cmd_auth_response(s, &cmd);
		else
			pop3_commands_dispatch(s, &cmd);
		if (secret)
			pop3_parser_wipe(&s->parser);
	}
	s->running = false;
}

void pop3_session_resume(struct pop3_session *s)
{
	if (s->closing)
		return;
	s->wait = POP3_WAIT_NONE;
	conn_pause(s->conn, false);
	session_run(s);
}

/* --- multi-line replies --- */

static void stream_end(struct pop3_session *s)
{
	xfree(s->stream.data);
	memset(&s->stream, 0, sizeof(s->stream));
}

/* LIST/UIDL lines from stream.next on; true when the "." line is in. */
static bool stream_fill_list(struct pop3_session *s, unsigned char *out, size_t cap, size_t *n_r)
{
	struct pop3_stream *st = &s->stream;
	size_t n = 0;

	while (st->next < s->n_msgs) {
		const struct pop3_msg *m = &s->msgs[st->next];
		int k;

		if (m->deleted) {
			st->next++;
			continue;
		}
		if (st->kind == POP3_STREAM_LIST)
			k = snprintf((char *)out + n, cap - n, "%zu %lld\r\n", st->next + 1,
				     (long long)m->size);
		else
			k = snprintf((char *)out + n, cap - n, "%zu %lld.%lld\r\n", st->next + 1,
				     (long long)s->uidvalidity, (long long)m->uid);
		if (k < 0 || (size_t)k >= cap - n)
			break;	/* full: this line goes in the next piece */
		n += (size_t)k;
		st->next++;
	}
	if (st->next < s->n_msgs || cap - n < POP3_STUFF_END_MAX) {
		*n_r = n;
		return false;
	}
	memcpy(out + n, ".\r\n", 3);
	*n_r = n + 3;
	return true;
}

/* RETR/TOP body; true when the terminator is in. */
static bool stream_fill_body(struct pop3_session *s, unsigned char *out, size_t cap, size_t *n_r)
{
	struct pop3_stream *st = &s->stream;
	size_t used = 0, n;

	n = pop3_stuff_run(&st->st, st->data + st->off, st->len - st->off, &used, out,
			   cap - POP3_STUFF_END_MAX);
	st->off += used;
	if (st->off < st->len) {
		*n_r = n;
		return false;
	}
	n += pop3_stuff_end(&st->st, out + n);
	*n_r = n;
	return true;
}

static void stream_pump(struct pop3_session *s)
{
	unsigned char out[LIMIT_POP3_STREAM_CHUNK];

	if (s->pumping)
		return;
	s->pumping = true;
	while (s->stream.kind != POP3_STREAM_NONE && !s->closing) {
		size_t n = 0;
		bool done;

		/* Wait for proto->drained before queueing past the mark. */
		if (conn_out_pending(s->conn) + sizeof(out) > LIMIT_POP3_OUT_HIGHWATER)
			break;
		if (s->stream.kind == POP3_STREAM_BODY)
			done = stream_fill_body(s, out, sizeof(out), &n);
		else
			done = stream_fill_list(s, out, sizeof(out), &n);
		if (n > 0 && conn_write(s->conn, out, n) < 0) {
			s->closing = true;
			break;
		}
		pop3_session_touch(s);
		if (done) {
			stream_end(s);
			s->pumping = false;
			pop3_session_resume(s);
			return;
		}
	}
	s->pumping = false;
}

void pop3_session_stream(struct pop3_session *s)
{
	if (s->stream.kind == POP3_STREAM_BODY)
		pop3_stuff_init(&s->stream.st);
	pop3_session_wait(s, POP3_WAIT_STREAM);
	stream_pump(s);
}

/* --- conn callbacks --- */

static void *session_open(struct conn *c)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));

	s->conn = c;
	s->conn_id = conn_id(c);
	s->state = POP3_STATE_AUTH;
	pop3_parser_init(&s->parser, LIMIT_POP3_LINE);
	/* No APOP timestamp: APOP is not offered (it needs clear passwords). */
	pop3_reply(s, "+OK Postern POP3 ready");
	pop3_session_touch(s);
	return s;
}

static void session_input(void *session, struct conn *c)
{
	struct pop3_session *s = session;

	(void)c;
	session_run(s);
}

static void session_timeout(void *session, struct conn *c)
{
	struct pop3_session *s = session;

	if (s->closing)
		return;
	if (s->quitting) {
		/* QUIT's commit is out: its answer closes the session. */
		conn_set_timeout(c, LIMIT_POP3_TIMEOUT_MS);
		return;
	}
	log_info("pop3", "autologout ip=%s", conn_peer_addr(c));
	/* Not inside a multi-line reply (it would corrupt it) nor a handshake. */
	if (s->stream.kind == POP3_STREAM_NONE && s->wait != POP3_WAIT_TLS)
		pop3_reply(s, "-ERR autologout");
	pop3_session_close(s);
}

static void session_tls_done(void *session, struct conn *c, bool ok)
{
	struct pop3_session *s = session;

	if (s->closing)
		return;
	if (!ok) {
		log_info("pop3", "STLS handshake failed ip=%s", conn_peer_addr(c));
		s->closing = true;	/* the conn closes after this returns */
		return;
	}
	/* RFC 2595 section 4: a fresh AUTHORIZATION state. */
	pop3_parser_reset(&s->parser);
	pop3_session_reset_auth(s);
	pop3_session_touch(s);
	s->wait = POP3_WAIT_NONE;
	session_run(s);
}

static void session_drained(void *session, struct conn *c)
{
	struct pop3_session *s = session;

	(void)c;
	if (s->closing)
		return;
	if (s->stream.kind != POP3_STREAM_NONE)
		stream_pump(s);
	else if (s->wait == POP3_WAIT_DRAIN)
		pop3_session_resume(s);
}

static void session_shutdown(void *session, struct conn *c)
{
	struct pop3_session *s = session;

	(void)c;
	if (s->closing || s->quitting)
		return;	/* QUIT's answer will close it */
	if (s->stream.kind == POP3_STREAM_NONE && s->wait != POP3_WAIT_TLS)
		pop3_reply(s, "-ERR Server shutting down");
	pop3_session_close(s);
}

static void session_close(void *session, struct conn *c)
{
	struct pop3_session *s = session;

	(void)c;
	if (s == NULL)
		return;
	loop_timer_cancel(&s->fail_timer);
	pop3_maildrop_free(s);
	pop3_parser_wipe(&s->parser);
	explicit_bzero(s->user, sizeof(s->user));
	free(s);
}

const struct conn_proto pop3_proto = {
	.name = "pop3",
	.busy_reply = "-ERR [SYS/TEMP] Too many connections\r\n",
	.open = session_open,
	.input = session_input,
	.timeout = session_timeout,
	.tls_done = session_tls_done,
	.drained = session_drained,
	.shutdown = session_shutdown,
	.close = session_close,
};
