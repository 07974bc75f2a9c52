/* cmd_auth.c - SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN.
 * Submission only (RFC 6409), and only under TLS (RFC 8314 / 3207: before
 * TLS -> 538 5.7.11). "*" cancels (501 5.0.0); 235 2.7.0 on success; a
 * failure answers 535 5.7.8 after LIMIT_SMTP_AUTH_FAIL_DELAY_MS on a loop
 * timer (never sleep); 454 4.7.0 when the database is unavailable.
 * Continuation lines may be LIMIT_SMTP_AUTH_LINE long. The password is
 * wiped after use and never logged. */
#include <string.h>

#include <sodium.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "lib/log.h"
#include "lib/str.h"
#include "smtp/session.h"

static void auth_end_exchange(struct smtp_session *s)
{
	s->auth_step = SMTP_AUTH_NONE;
	if (s->in == SMTP_IN_AUTH) {
		s->in = SMTP_IN_CMD;
		smtp_parser_set_max(&s->parser, LIMIT_SMTP_LINE);
	}
}

void smtp_auth_clear(struct smtp_session *s)
{
	auth_end_exchange(s);
	loop_timer_cancel(&s->auth_timer);
	sodium_memzero(s->auth_user, sizeof s->auth_user);
}

static void auth_delay_fire(void *arg)
{
	struct smtp_session *s = arg;
	s->auth_timer = NULL;	/* a fired timer is gone */
	smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
	smtp_unbusy(s);
}

static void auth_cb(uint64_t conn_id, enum auth_status st, const struct db_account *account)
{
	struct smtp_session *s = smtp_session_find(conn_id);
	if (s == NULL)
		return;
	char user[160];
	str_printable(user, sizeof user, s->auth_user, strlen(s->auth_user));
	if (st == AUTH_OK && account != NULL) {
		s->authed = true;
		s->account_id = account->id;
		str_lcpy(s->account, account->address, sizeof s->account);
		log_info("smtp", "auth ok user=%s client=%s", user, conn_peer_addr(s->c));
		smtp_reply(s, "235 2.7.0 Authentication successful");
		smtp_unbusy(s);
		return;
	}
	if (st == AUTH_TEMP) {
		log_warn("smtp", "auth temporary failure user=%s client=%s", user,
			 conn_peer_addr(s->c));
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		smtp_unbusy(s);
		return;
	}
	log_info("smtp", "auth failed user=%s client=%s:%d", user, conn_peer_addr(s->c),
		 conn_peer_port(s->c));
	s->auth_timer = loop_timer_add(LIMIT_SMTP_AUTH_FAIL_DELAY_MS, auth_delay_fire, s);
	if (s->auth_timer == NULL)
		auth_delay_fire(s);
}

static void start_login(struct smtp_session *s, const char *user, const char *pass,
			size_t passlen)
{
	str_lcpy(s->auth_user, user, sizeof s->auth_user);
	if (auth_login(s->conn_id, user, pass, passlen, auth_cb) < 0) {
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	smtp_busy(s);
}

static void auth_plain(struct smtp_session *s, const char *b64, size_t len)
{
	struct sasl_creds cr;
	int r = sasl_plain_decode(b64, len, &cr);
	/* b64 is the parser's line buffer: the password must not linger. */
	sodium_memzero((char *)b64, len);
	if (r < 0) {
		smtp_reply(s, "501 5.5.2 Cannot decode AUTH PLAIN response");
		return;
	}
	start_login(s, cr.user, cr.pass, cr.passlen);
	sasl_creds_wipe(&cr);
}

static void auth_continue(struct smtp_session *s, enum smtp_auth_step step, const char *challenge)
{
	s->auth_step = step;
	s->in = SMTP_IN_AUTH;
	smtp_parser_set_max(&s->parser, LIMIT_SMTP_AUTH_LINE);
	smtp_reply(s, "334 %s", challenge);
}

void smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	char mech[32];
	const char *ir;
	size_t irlen;

	if (s->role == SMTP_ROLE_MX) {
		smtp_reply(s, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (!conn_is_tls(s->c)) {
		smtp_reply(s, "538 5.7.11 Encryption required for requested authentication mechanism");
		return;
	}
	if (s->authed) {
		smtp_reply(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (smtp_parse_auth(cmd->args, cmd->args_len, mech, sizeof mech, &ir, &irlen) < 0) {
		smtp_reply(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	s->active = true;
	if (strcmp(mech, "PLAIN") == 0) {
		if (irlen > 0)
			auth_plain(s, ir, irlen);
		else
			auth_continue(s, SMTP_AUTH_PLAIN, "");
	} else if (strcmp(mech, "LOGIN") == 0) {
		if (irlen > 0) {
			size_t n;
			if (sasl_b64_field(ir, irlen, s->auth_user, sizeof s->auth_user, &n) < 0) {
				smtp_reply(s, "501 5.5.2 Cannot decode AUTH LOGIN response");
				return;
			}
			auth_continue(s, SMTP_AUTH_LOGIN_PASS, "UGFzc3dvcmQ6");
		} else {
			auth_continue(s, SMTP_AUTH_LOGIN_USER, "VXNlcm5hbWU6");
		}
	} else {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
	}
}

void smtp_auth_line(struct smtp_session *s, const struct smtp_line *line)
{
	enum smtp_auth_step step = s->auth_step;
	if (line->error == SMTP_LINE_TOO_LONG) {
		auth_end_exchange(s);
		smtp_reply(s, "500 5.5.6 Line too long");
		return;
	}
	if (line->error != SMTP_LINE_OK || (line->len == 1 && line->s[0] == '*')) {
		auth_end_exchange(s);
		smtp_reply(s, "501 5.0.0 Authentication cancelled");
		return;
	}
	if (step == SMTP_AUTH_PLAIN) {
		auth_end_exchange(s);
		auth_plain(s, line->s, line->len);
	} else if (step == SMTP_AUTH_LOGIN_USER) {
		size_t n;
		if (sasl_b64_field(line->s, line->len, s->auth_user, sizeof s->auth_user, &n) < 0) {
			auth_end_exchange(s);
			smtp_reply(s, "501 5.5.2 Cannot decode AUTH LOGIN response");
			return;
		}
		smtp_reply(s, "334 UGFzc3dvcmQ6");
		s->auth_step = SMTP_AUTH_LOGIN_PASS;
	} else if (step == SMTP_AUTH_LOGIN_PASS) {
		char pass[LIMIT_PASSWORD_MAX + 1];
		size_t n;
		auth_end_exchange(s);
		int r = sasl_b64_field(line->s, line->len, pass, sizeof pass, &n);
		sodium_memzero(line->s, line->len);
		if (r < 0) {
			smtp_reply(s, "501 5.5.2 Cannot decode AUTH LOGIN response");
			return;
		}
		char user[LIMIT_ADDRESS + 1];
		str_lcpy(user, s->auth_user, sizeof user);
		start_login(s, user, pass, n);
		sodium_memzero(pass, sizeof pass);
	} else {
		auth_end_exchange(s);
		smtp_reply(s, "503 5.5.1 Error: no AUTH in progress");
	}
}
