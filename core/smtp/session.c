/* session.c - the SMTP session: the conn_proto callbacks, the input loop
 * (command lines, AUTH lines, DATA content, BDAT chunks), replies with error
 * counting, flow control and timeouts. RFC 5321 3.1 (greeting), 4.5.3.2
 * (timeouts: LIMIT_SMTP_TIMEOUT_PREAUTH_MS before MAIL/AUTH, then
 * LIMIT_SMTP_TIMEOUT_MS), RFC 2920 (pipelining: commands in order; while a
 * job is out input is paused and unparsed bytes stay in conn_in), RFC 3207
 * (the session is reset after STARTTLS). Errors: LIMIT_SMTP_ERRORS, or
 * LIMIT_SMTP_ERRORS_PREAUTH on submission before AUTH, then 421 4.7.0. */
#include "smtp/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config/config.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "smtp/smtp.h"

const char *smtp_hostname(void)
{
	const struct config *cfg = config_get();
	if (cfg != NULL && cfg->hostname != NULL && cfg->hostname[0] != '\0')
		return cfg->hostname;
	return "localhost";
}

struct smtp_session *smtp_session_find(uint64_t conn_id)
{
	struct conn *c = conn_find(conn_id);
	if (c == NULL)
		return NULL;
	struct smtp_session *s = conn_session(c);
	if (s == NULL || s->closing)
		return NULL;
	return s;
}

bool smtp_tls_required(const struct smtp_session *s)
{
	return s->role == SMTP_ROLE_SUBMISSION && conn_listener_tls(s->c) == TLS_MODE_STARTTLS &&
	       !conn_is_tls(s->c);
}

bool smtp_auth_offered(const struct smtp_session *s)
{
	return s->role == SMTP_ROLE_SUBMISSION && conn_is_tls(s->c);
}

static void send_bytes(struct smtp_session *s, const char *p, size_t n)
{
	if (s->closing)
		return;
	if (conn_write(s->c, p, n) < 0)
		s->closing = true;	/* output cap: the conn closes after the flush */
}

void smtp_write(struct smtp_session *s, const char *text)
{
	send_bytes(s, text, strlen(text));
}

void smtp_close(struct smtp_session *s, const char *line)
{
	if (s->closing)
		return;
	if (line != NULL) {
		send_bytes(s, line, strlen(line));
		send_bytes(s, "\r\n", 2);
	}
	s->closing = true;
	conn_close(s->c);
}

static void count_error(struct smtp_session *s)
{
	unsigned limit = (s->role == SMTP_ROLE_SUBMISSION && !s->authed) ? LIMIT_SMTP_ERRORS_PREAUTH
									   : LIMIT_SMTP_ERRORS;
	if (++s->errors < limit)
		return;
	log_info("smtp", "too many errors client=%s:%d errors=%u", conn_peer_addr(s->c),
		 conn_peer_port(s->c), s->errors);
	char line[300];
	if (str_fmt(line, sizeof line, "421 4.7.0 %s Too many errors", smtp_hostname()) < 0)
		str_lcpy(line, "421 4.7.0 Too many errors", sizeof line);
	smtp_close(s, line);
}

void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line - 2)
		n = (int)(sizeof line - 3);	/* cut: still one line */
	if (s->defer_reply) {
		if (s->deferred[0] == '\0')
			str_lcpy(s->deferred, line, sizeof s->deferred);
		return;
	}
	line[n++] = '\r';
	line[n++] = '\n';
	send_bytes(s, line, (size_t)n);
	if (line[0] == '5')
		count_error(s);
}

static void update_pause(struct smtp_session *s)
{
	bool want = s->busy || s->out_full;
	if (want == s->paused || s->closing)
		return;
	s->paused = want;
	conn_pause(s->c, want);
}

void smtp_arm_timeout(struct smtp_session *s)
{
	if (s->closing)
		return;
	if (s->busy)
		conn_set_timeout(s->c, 0);
	else
		conn_set_timeout(s->c, s->active ? LIMIT_SMTP_TIMEOUT_MS : LIMIT_SMTP_TIMEOUT_PREAUTH_MS);
}

void smtp_busy(struct smtp_session *s)
{
	s->busy = true;
	update_pause(s);
	smtp_arm_timeout(s);
}

static void shutdown_now(struct smtp_session *s)
{
	char line[300];
	if (str_fmt(line, sizeof line, "421 4.3.2 %s Service shutting down", smtp_hostname()) < 0)
		str_lcpy(line, "421 4.3.2 Service shutting down", sizeof line);
	smtp_close(s, line);
}

void smtp_unbusy(struct smtp_session *s)
{
	s->busy = false;
	if (s->closing)
		return;
	if (s->shutdown) {
		shutdown_now(s);
		return;
	}
	smtp_arm_timeout(s);
	update_pause(s);
	smtp_process(s);
}

void smtp_add_account(struct smtp_session *s, int64_t id)
{
	if (s->n_accounts == s->cap_accounts) {
		s->cap_accounts = s->cap_accounts ? s->cap_accounts * 2 : 8;
		s->accounts = xrealloc(s->accounts, s->cap_accounts * sizeof *s->accounts);
	}
	s->accounts[s->n_accounts++] = id;
}

void smtp_add_remote(struct smtp_session *s, const char *addr)
{
	if (s->n_remote == s->cap_remote) {
		s->cap_remote = s->cap_remote ? s->cap_remote * 2 : 8;
		s->remote = xrealloc(s->remote, s->cap_remote * sizeof *s->remote);
	}
	s->remote[s->n_remote++] = xstrdup(addr);
}

void smtp_txn_reset(struct smtp_session *s)
{
	s->mail = false;
	memset(&s->sender, 0, sizeof s->sender);
	s->smtputf8 = false;
	s->body_8bit = false;
	s->n_rcpt = 0;
	s->first_rcpt[0] = '\0';
	xfree(s->accounts);
	s->n_accounts = s->cap_accounts = 0;
	for (size_t i = 0; i < s->n_remote; i++)
		free(s->remote[i]);
	xfree(s->remote);
	s->n_remote = s->cap_remote = 0;
	s->bdat = false;
	s->bdat_failed = false;
	spool_free(&s->spool);
}

void smtp_process(struct smtp_session *s)
{
	if (s->in_process)
		return;
	s->in_process = true;
	while (!s->busy && !s->closing && !s->tls_pending) {
		if (s->in == SMTP_IN_CHUNK && s->chunk_left == 0) {
			smtp_chunk_input(s);	/* a zero-length chunk ends at once */
			continue;
		}
		struct buf *in = conn_in(s->c);
		if (buf_len(in) == 0)
			break;
		if (conn_out_pending(s->c) > LIMIT_OUTBUF_MAX / 2) {
			/* The client does not read its replies: stop reading
			 * until proto->drained. */
			s->out_full = true;
			update_pause(s);
			break;
		}
		if (s->in == SMTP_IN_DATA) {
			smtp_data_input(s);
		} else if (s->in == SMTP_IN_CHUNK) {
			smtp_chunk_input(s);
		} else {
			struct smtp_line line;
			size_t used = 0;
			int r = smtp_parser_line(&s->parser, buf_data(in), buf_len(in), &used, &line);
			buf_consume(in, used);
			if (r != 1)
				continue;
			if (s->in == SMTP_IN_AUTH)
				smtp_auth_line(s, &line);
			else
				smtp_command_line(s, &line);
		}
	}
	if (!s->busy && !s->closing && s->in == SMTP_IN_CMD && buf_len(conn_in(s->c)) == 0) {
		buf_shrink(conn_in(s->c));
		smtp_parser_shrink(&s->parser);
	}
	s->in_process = false;
}

/* --- conn_proto --- */

static void *smtp_open(struct conn *c)
{
	struct smtp_session *s = xcalloc(1, sizeof *s);
	const char *name = conn_listener_name(c);
	s->c = c;
	s->conn_id = conn_id(c);
	s->role = (name != NULL && strcmp(name, "smtp") == 0) ? SMTP_ROLE_MX : SMTP_ROLE_SUBMISSION;
	smtp_parser_init(&s->parser, LIMIT_SMTP_LINE, LIMIT_SMTP_AUTH_LINE);
	log_debug("smtp", "connect client=%s:%d listener=%s", conn_peer_addr(c), conn_peer_port(c),
		  name ? name : "?");
	char line[300];
	if (str_fmt(line, sizeof line, "220 %s ESMTP Postern\r\n", smtp_hostname()) < 0)
		str_lcpy(line, "220 localhost ESMTP Postern\r\n", sizeof line);
	smtp_write(s, line);
	smtp_arm_timeout(s);
	return s;
}

static void smtp_input(void *session, struct conn *c)
{
	struct smtp_session *s = session;
	(void)c;
	if (s->closing)
		return;
	if (!s->busy)
		smtp_arm_timeout(s);
	smtp_process(s);
}

static void smtp_timeout(void *session, struct conn *c)
{
	struct smtp_session *s = session;
	(void)c;
	if (s->busy || s->closing)
		return;
	log_info("smtp", "timeout client=%s:%d", conn_peer_addr(s->c), conn_peer_port(s->c));
	char line[300];
	if (str_fmt(line, sizeof line, "421 4.4.2 %s Error: timeout exceeded", smtp_hostname()) < 0)
		str_lcpy(line, "421 4.4.2 Error: timeout exceeded", sizeof line);
	smtp_close(s, line);
}

static void smtp_tls_done(void *session, struct conn *c, bool ok)
{
	struct smtp_session *s = session;
	(void)c;
	s->tls_pending = false;
	if (!ok) {
		s->closing = true;	/* the conn closes itself */
		return;
	}
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	s->helo = false;
	s->esmtp = false;
	s->helo_name[0] = '\0';
	s->authed = false;
	s->account_id = 0;
	s->account[0] = '\0';
	smtp_auth_clear(s);
	smtp_txn_reset(s);
	smtp_parser_reset(&s->parser);
	s->in = SMTP_IN_CMD;
	smtp_arm_timeout(s);
	smtp_process(s);
}

static void smtp_drained(void *session, struct conn *c)
{
	struct smtp_session *s = session;
	(void)c;
	if (!s->out_full || s->closing)
		return;
	s->out_full = false;
	update_pause(s);
	smtp_process(s);
}

static void smtp_shutdown(void *session, struct conn *c)
{
	struct smtp_session *s = session;
	(void)c;
	s->shutdown = true;
	if (s->busy)
		return;	/* the job's reply goes out first, then 421 */
	shutdown_now(s);
}

static void smtp_session_close(void *session, struct conn *c)
{
	struct smtp_session *s = session;
	(void)c;
	loop_timer_cancel(&s->auth_timer);
	smtp_txn_reset(s);
	smtp_parser_free(&s->parser);
	sodium_memzero(s->auth_user, sizeof s->auth_user);
	free(s);
}

const struct conn_proto smtp_proto = {
	.name = "smtp",
	.busy_reply = "421 4.7.0 Too many connections, try again later\r\n",
	.open = smtp_open,
	.input = smtp_input,
	.timeout = smtp_timeout,
	.tls_done = smtp_tls_done,
	.drained = smtp_drained,
	.shutdown = smtp_shutdown,
	.close = smtp_session_close,
};
