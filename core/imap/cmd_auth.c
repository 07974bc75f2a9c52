/* cmd_auth.c - any-state and not-authenticated commands: CAPABILITY, NOOP,
 * LOGOUT, ID (RFC 2971), ENABLE (RFC 5161: CONDSTORE, QRESYNC),
 * NAMESPACE (RFC 2342), STARTTLS (RFC 3501 6.2.1; LOGINDISABLED before it,
 * buffered plaintext discarded), LOGIN and AUTHENTICATE PLAIN with SASL-IR
 * (RFC 4959, RFC 4616). The login is auth_login(): DB lookup and argon2id
 * in the pools; a failure is answered after LIMIT_IMAP_AUTH_FAIL_DELAY_MS
 * with NO [AUTHENTICATIONFAILED] (RFC 5530). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "imap/session.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

#define LOG_USER_MAX 128

void imap_capabilities(struct imap_session *s, struct buf *b)
{
	buf_append_str(b, "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE");
	if (s->state == IMAP_STATE_NOTAUTH) {
		if (imap_session_starttls_available(s))
			buf_append_str(b, " STARTTLS");
		if (imap_session_login_allowed(s))
			buf_append_str(b, " AUTH=PLAIN");
		else
			buf_append_str(b, " LOGINDISABLED");
		return;
	}
	buf_append_str(b, " UIDPLUS UNSELECT NAMESPACE SPECIAL-USE CREATE-SPECIAL-USE CHILDREN"
			  " MOVE");
	/* imapb: cmd_search.c */
	buf_append_str(b, " ESEARCH SEARCHRES SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT"
			  " THREAD=REFERENCES COMPRESS=DEFLATE BINARY");
	/* imapa: RFC 7162, 9208, 8438, 5258, 5819, 6855, 5465, 7889 */
	buf_append_str(b, " CONDSTORE QRESYNC QUOTA QUOTA=RES-STORAGE STATUS=SIZE LIST-EXTENDED"
			  " LIST-STATUS UTF8=ACCEPT NOTIFY");
	buf_printf(b, " APPENDLIMIT=%llu", (unsigned long long)LIMIT_IMAP_LITERAL);
}

void imap_cmd_capability(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct buf b;

	(void)cmd;
	buf_init(&b, 1024);
	buf_append_str(&b, "* CAPABILITY ");
	imap_capabilities(s, &b);
	buf_append_str(&b, "\r\n");
	imap_send_raw(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
	imap_tagged(s, "OK", "Capability completed");
}

void imap_cmd_noop(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	if (s->state != IMAP_STATE_SELECTED && !imap_notify_pending(s)) {
		imap_tagged(s, "OK", "NOOP completed");
		return;
	}
	imap_sync_start(s, false);
}

void imap_cmd_logout(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	imap_send(s, "* BYE Logging out");
	imap_tagged(s, "OK", "Logout completed");
	s->state = IMAP_STATE_LOGOUT;
	imap_session_close(s);
}

void imap_cmd_id(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	imap_send(s, "* ID (\"name\" \"Postern\")");
	imap_tagged(s, "OK", "ID completed");
}

/* RFC 5161: "* ENABLED" lists what this command turned on; unknown
 * names are ignored. QRESYNC implies CONDSTORE (RFC 7162 3.2.3);
 * IMAP4rev2 implies UTF-8 mailbox names (RFC 9051 5.1); both UTF-8 ones
 * let quoted strings carry 8-bit octets (parser utf8). */
void imap_cmd_enable(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap_parser_params pp;
	bool utf8 = s->utf8;
	struct buf b;

	buf_init(&b, 256);
	buf_append_str(&b, "* ENABLED");
	for (unsigned i = 0; i < cmd->n_args; i++) {
		const struct imap_arg *a = &cmd->args[i];

		if (imap_arg_atom_is(a, "CONDSTORE") && !s->condstore) {
			s->condstore = true;
			buf_append_str(&b, " CONDSTORE");
		} else if (imap_arg_atom_is(a, "QRESYNC") && !s->qresync) {
			s->qresync = true;
			s->condstore = true;
			buf_append_str(&b, " QRESYNC");
		} else if (imap_arg_atom_is(a, "UTF8=ACCEPT") && !s->utf8) {
			s->utf8 = true;
			buf_append_str(&b, " UTF8=ACCEPT");
		} else if (imap_arg_atom_is(a, "IMAP4rev2") && !s->rev2) {
			s->rev2 = true;
			s->utf8 = true;
			buf_append_str(&b, " IMAP4rev2");
		}
	}
	if (s->utf8 && !utf8) {
		imap_parser_params_default(&pp, true);
		pp.utf8 = true;
		imap_parser_set_params(s->parser, &pp);
	}
	buf_append_str(&b, "\r\n");
	imap_send_raw(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
	imap_tagged(s, "OK", "Enabled");
}

void imap_cmd_namespace(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	imap_send(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(s, "OK", "Namespace completed");
}

void imap_cmd_starttls(struct imap_session *s, const struct imap_cmd *cmd)
{
	(void)cmd;
	if (!imap_session_starttls_available(s)) {
		imap_error(s, "BAD", "STARTTLS not available");
		return;
	}
	imap_tagged(s, "OK", "Begin TLS negotiation now");
	imap_parser_reset(s->parser);
	imap_session_wait(s, IMAP_WAIT_TLS);
	if (conn_starttls(s->conn) < 0) {
		log_warn("imap", "STARTTLS: no certificate ip=%s", conn_peer_addr(s->conn));
		imap_session_close(s);
	}
}

/* ---------- login ---------- */

static void fail_timer_fired(void *arg)
{
	struct imap_session *s = arg;

	s->fail_timer = NULL;
	if (s->closing)
		return;
	s->wait = IMAP_WAIT_NONE;
	imap_error(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed.");
	imap_session_resume(s);
}

static void login_done(uint64_t id, enum auth_status st, const struct db_account *account)
{
	struct imap_session *s = imap_session_find(id);
	struct imap_parser_params pp;
	char user[LOG_USER_MAX];
	struct buf b;

	if (s == NULL || s->wait != IMAP_WAIT_JOB || s->state != IMAP_STATE_NOTAUTH)
		return;
	str_printable(user, sizeof(user), s->user, strlen(s->user));
	switch (st) {
	case AUTH_OK:
		log_info("imap", "login user=\"%s\" ip=%s tls=%s", user, conn_peer_addr(s->conn),
			 conn_is_tls(s->conn) ? "yes" : "no");
		s->account_id = account->id;
		s->quota_bytes = account->quota_bytes;
		str_lcpy(s->address, account->address, sizeof(s->address));
		s->state = IMAP_STATE_AUTH;
		s->errors = 0;
		imap_parser_params_default(&pp, true);
		imap_parser_set_params(s->parser, &pp);
		buf_init(&b, 1024);
		buf_append_str(&b, "[CAPABILITY ");
		imap_capabilities(s, &b);
		buf_append_str(&b, "]");
		imap_tagged(s, "OK", "%.*s Logged in", (int)buf_len(&b), (const char *)buf_data(&b));
		buf_free(&b);
		imap_session_touch(s);
		imap_session_resume(s);
		return;
	case AUTH_FAIL:
		log_info("imap", "login failed user=\"%s\" ip=%s", user, conn_peer_addr(s->conn));
		s->wait = IMAP_WAIT_TIMER;
		s->fail_timer = loop_timer_add(LIMIT_IMAP_AUTH_FAIL_DELAY_MS, fail_timer_fired, s);
		return;
	case AUTH_TEMP:
	default:
		imap_tagged(s, "NO", "[UNAVAILABLE] Authentication temporarily unavailable");
		imap_session_resume(s);
		return;
	}
}

static void login_start(struct imap_session *s, const char *user, size_t ulen, const char *pass,
			size_t plen)
{
	if (ulen > LIMIT_ADDRESS || plen > LIMIT_PASSWORD_MAX || memchr(user, '\0', ulen) != NULL) {
		imap_error(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed.");
		return;
	}
	memcpy(s->user, user, ulen);
	s->user[ulen] = '\0';
	imap_session_wait(s, IMAP_WAIT_JOB);
	if (auth_login(s->conn_id, s->user, pass, plen, login_done) < 0) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Server busy, try again later");
		s->wait = IMAP_WAIT_NONE;
		conn_pause(s->conn, false);
	}
}

void imap_cmd_login(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *user, *pass;
	size_t ulen, plen;

	if (!imap_session_login_allowed(s)) {
		imap_error(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if (cmd->n_args != 2 || imap_arg_astring(&cmd->args[0], &user, &ulen) < 0 ||
	    imap_arg_astring(&cmd->args[1], &pass, &plen) < 0) {
		imap_error(s, "BAD", "LOGIN user password");
		return;
	}
	login_start(s, user, ulen, pass, plen);
}

static void auth_plain(struct imap_session *s, const char *b64, size_t len)
{
	struct sasl_creds cr;

	if (sasl_plain_decode(b64, len, &cr) < 0) {
		sasl_creds_wipe(&cr);
		imap_error(s, "BAD", "Invalid SASL PLAIN response");
		return;
	}
	login_start(s, cr.user, strlen(cr.user), cr.pass, cr.passlen);
	sasl_creds_wipe(&cr);
}

void imap_cmd_authenticate(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *ir;
	size_t len;

	if (!imap_session_login_allowed(s)) {
		imap_error(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
		return;
	}
	if (!imap_arg_atom_is(&cmd->args[0], "PLAIN")) {
		imap_error(s, "NO", "Unsupported authentication mechanism");
		return;
	}
	if (cmd->n_args >= 2) {
		if (imap_arg_astring(&cmd->args[1], &ir, &len) < 0) {
			imap_error(s, "BAD", "Invalid initial response");
			return;
		}
		if (len == 1 && ir[0] == '=')
			len = 0;
		auth_plain(s, ir, len);
		return;
	}
	s->auth_cont = true;
	imap_send(s, "+ ");
}

void imap_auth_response(struct imap_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		imap_error(s, "BAD", "Authentication cancelled");
		return;
	}
	auth_plain(s, line, len);
}

/* RFC 4978 COMPRESS DEFLATE (after login: the conn layer deflates all that
 * follows the tagged OK and inflates all input after the command). */
void imap_cmd_compress(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (!imap_arg_atom_is(&cmd->args[0], "DEFLATE") || cmd->n_args != 1) {
		imap_error(s, "BAD", "Unknown compression mechanism");
		return;
	}
	if (conn_is_compressed(s->conn)) {
		imap_error(s, "NO", "[COMPRESSIONACTIVE] DEFLATE is active already");
		return;
	}
	imap_tagged(s, "OK", "DEFLATE active");
	if (conn_compress_start(s->conn) < 0)
		imap_session_close(s);
}
