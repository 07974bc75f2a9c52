/* cmd_auth.c - the AUTHORIZATION state: CAPA (RFC 2449), USER/PASS (RFC 1939
 * section 7), AUTH PLAIN with an initial response or a "+ " continuation
 * (RFC 5034, RFC 4616), STLS (RFC 2595), and loading the maildrop snapshot
 * after a login. The login itself is auth_login(): DB lookup and argon2id in
 * the pools; a failure is answered after LIMIT_POP3_AUTH_FAIL_DELAY_MS by a
 * loop timer, with "-ERR [AUTH]" (RFC 3206). SASL lines are bounded by
 * LIMIT_POP3_AUTH_LINE; at most LIMIT_POP3_MESSAGES messages are listed. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/login.h"
#include "auth/sasl.h"
#include "db/store.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "net/tls.h"
#include "pop3/session.h"
#include "work/work.h"

#define LOG_USER_MAX 128	/* client-chosen names in log lines */

/* STLS can be offered: a STARTTLS listener, still plaintext, with a certificate. */
static bool stls_available(const struct pop3_session *s)
{
	return conn_listener_tls(s->conn) == TLS_MODE_STARTTLS && !conn_is_tls(s->conn) &&
	       tls_server_ctx() != NULL;
}

void pop3_cmd_capa(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	bool login = s->state == POP3_STATE_AUTH && pop3_session_login_allowed(s);

	(void)cmd;
	pop3_reply(s, "+OK Capability list follows");
	pop3_reply(s, "TOP");
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "AUTH-RESP-CODE");
	pop3_reply(s, "PIPELINING");
	pop3_reply(s, "EXPIRE NEVER");
	if (login) {
		pop3_reply(s, "USER");
		pop3_reply(s, "SASL PLAIN");
	}
	if (s->state == POP3_STATE_AUTH && stls_available(s))
		pop3_reply(s, "STLS");
	pop3_reply(s, "IMPLEMENTATION Postern");
	pop3_reply(s, ".");
}

/* --- maildrop snapshot, loaded once the login succeeded --- */

struct list_job {
	struct job job;
	int64_t account_id;
	enum db_status st;
	int64_t mailbox_id;
	int64_t uidvalidity;
	struct db_pop3_msg *msgs;
	size_t n;
};

static void list_run(struct job *j, struct db *db)
{
	struct list_job *lj = (struct list_job *)j;

	if (db == NULL) {
		lj->st = DB_TEMP;
		return;
	}
	lj->st = db_pop3_list(db, lj->account_id, &lj->mailbox_id, &lj->uidvalidity, &lj->msgs,
			      &lj->n);
}

static void list_done(struct job *j)
{
	struct list_job *lj = (struct list_job *)j;
	struct pop3_session *s = pop3_session_find(j->conn_id);
	int64_t octets = 0;
	size_t i, n;

	if (s == NULL || s->wait != POP3_WAIT_JOB || s->state != POP3_STATE_AUTH)
		goto out;
	if (lj->st != DB_OK) {
		log_warn("pop3", "maildrop list failed user=%s status=%d", s->address, (int)lj->st);
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot open the maildrop, try again later");
		pop3_session_reset_auth(s);
		pop3_session_resume(s);
		goto out;
	}
	n = lj->n;
	if (n > LIMIT_POP3_MESSAGES) {
		/* XXX: the rest shows up once the first ones are deleted. */
		log_warn("pop3", "maildrop of %s cut at %d messages", s->address,
			 LIMIT_POP3_MESSAGES);
		n = LIMIT_POP3_MESSAGES;
	}
	s->mailbox_id = lj->mailbox_id;
	s->uidvalidity = lj->uidvalidity;
	s->msgs = n > 0 ? xcalloc(n, sizeof(*s->msgs)) : NULL;
	s->n_msgs = n;
	for (i = 0; i < n; i++) {
		s->msgs[i].uid = lj->msgs[i].uid;
		s->msgs[i].size = lj->msgs[i].size;
		octets += lj->msgs[i].size;
	}
	s->state = POP3_STATE_TRANS;
	s->errors = 0;
	s->have_user = false;
	pop3_reply(s, "+OK maildrop has %zu messages (%lld octets)", n, (long long)octets);
	pop3_session_touch(s);
	pop3_session_resume(s);
out:
	free(lj->msgs);
	free(lj);
}

/* --- login --- */

static void fail_timer_fired(void *arg)
{
	struct pop3_session *s = arg;

	s->fail_timer = NULL;
	if (s->closing)
		return;
	pop3_session_reset_auth(s);
	pop3_session_error(s, "-ERR [AUTH] Authentication failed.");
	pop3_session_resume(s);
}

static void login_done(uint64_t id, enum auth_status st, const struct db_account *account)
{
	struct pop3_session *s = pop3_session_find(id);
	char user[LOG_USER_MAX];
	struct list_job *lj;

	if (s == NULL || s->wait != POP3_WAIT_JOB || s->state != POP3_STATE_AUTH)
		return;
	str_printable(user, sizeof(user), s->user, strlen(s->user));
	switch (st) {
	case AUTH_OK:
		log_info("pop3", "login user=\"%s\" mech=%s ip=%s tls=%s", user, s->mech,
			 conn_peer_addr(s->conn), conn_is_tls(s->conn) ? "yes" : "no");
		s->account_id = account->id;
		str_lcpy(s->address, account->address, sizeof(s->address));
		lj = xcalloc(1, sizeof(*lj));
		lj->job.run = list_run;
		lj->job.done = list_done;
		lj->job.conn_id = s->conn_id;
		lj->account_id = account->id;
		if (work_submit_db(&lj->job) < 0) {
			free(lj);
			pop3_reply(s, "-ERR [SYS/TEMP] Server busy, try again later");
			pop3_session_reset_auth(s);
			pop3_session_resume(s);
		}
		return;
	case AUTH_FAIL:
		log_info("pop3", "login failed user=\"%s\" mech=%s ip=%s", user, s->mech,
			 conn_peer_addr(s->conn));
		/* Answer later from a timer, never sleep (STYLE, OpenSMTPD). */
		s->wait = POP3_WAIT_TIMER;
		s->fail_timer = loop_timer_add(LIMIT_POP3_AUTH_FAIL_DELAY_MS, fail_timer_fired, s);
		return;
	case AUTH_TEMP:
	default:
		log_warn("pop3", "login temporarily failed user=\"%s\" ip=%s", user,
			 conn_peer_addr(s->conn));
		pop3_reply(s, "-ERR [SYS/TEMP] Authentication temporarily unavailable");
		pop3_session_reset_auth(s);
		pop3_session_resume(s);
		return;
	}
}

/* Starts auth_login() for s->user; input stays paused until it answers. */
static void login_start(struct pop3_session *s, const char *pass, size_t passlen, const char *mech)
{
	s->mech = mech;
	pop3_session_wait(s, POP3_WAIT_JOB);
	if (auth_login(s->conn_id, s->user, pass, passlen, login_done) < 0) {
		pop3_reply(s, "-ERR [SYS/TEMP] Server busy, try again later");
		pop3_session_reset_auth(s);
		pop3_session_resume(s);
	}
}

void pop3_cmd_user(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const struct pop3_arg *a = &cmd->args[0];

	if (a->len > LIMIT_ADDRESS) {
		pop3_session_reset_auth(s);
		pop3_session_error(s, "-ERR user name too long");
		return;
	}
	memcpy(s->user, a->p, a->len);
	s->user[a->len] = '\0';
	s->have_user = true;
	pop3_reply(s, "+OK");
}

void pop3_cmd_pass(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (!s->have_user) {
		pop3_session_error(s, "-ERR USER first");
		return;
	}
	s->have_user = false;
	if (cmd->rest.len > LIMIT_PASSWORD_MAX) {
		pop3_session_reset_auth(s);
		pop3_session_error(s, "-ERR [AUTH] Authentication failed.");
		return;
	}
	login_start(s, cmd->rest.p, cmd->rest.len, "USER");
}

/* Decodes a PLAIN response and logs in with it. */
static void auth_plain(struct pop3_session *s, const char *b64, size_t len)
{
	struct sasl_creds cr;

	if (sasl_plain_decode(b64, len, &cr) < 0) {
		sasl_creds_wipe(&cr);
		pop3_session_reset_auth(s);
		pop3_session_error(s, "-ERR [AUTH] Invalid SASL PLAIN response");
		return;
	}
	str_lcpy(s->user, cr.user, sizeof(s->user));
	login_start(s, cr.pass, cr.passlen, "PLAIN");
	sasl_creds_wipe(&cr);
}

void pop3_cmd_auth(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	const struct pop3_arg *mech = &cmd->args[0];

	pop3_session_reset_auth(s);
	if (cmd->n_args == 0) {
		/* The mechanism list (RFC 1734 style, as clients probe it). */
		pop3_reply(s, "+OK");
		pop3_reply(s, "PLAIN");
		pop3_reply(s, ".");
		return;
	}
	if (mech->len != 5 || strncasecmp(mech->p, "PLAIN", 5) != 0) {
		pop3_session_error(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	if (cmd->n_args == 2) {
		auth_plain(s, cmd->args[1].p, cmd->args[1].len);
		return;
	}
	s->auth_cont = true;
	pop3_parser_set_max(&s->parser, LIMIT_POP3_AUTH_LINE);
	pop3_reply(s, "+ ");
}

void pop3_cmd_auth_response(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	s->auth_cont = false;
	pop3_parser_set_max(&s->parser, LIMIT_POP3_LINE);
	if (cmd->line.len == 1 && cmd->line.p[0] == '*') {
		pop3_session_error(s, "-ERR AUTH cancelled");
		return;
	}
	auth_plain(s, cmd->line.p, cmd->line.len);
}

void pop3_cmd_stls(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	(void)cmd;
	if (conn_is_tls(s->conn)) {
		pop3_session_error(s, "-ERR TLS already active");
		return;
	}
	if (!stls_available(s)) {
		pop3_session_error(s, "-ERR STLS not available");
		return;
	}
	pop3_session_reset_auth(s);
	pop3_reply(s, "+OK Begin TLS negotiation");
	/* Pipelined plaintext after STLS is never read (the conn drops it). */
	pop3_parser_reset(&s->parser);
	pop3_session_wait(s, POP3_WAIT_TLS);
	if (conn_starttls(s->conn) < 0) {
		log_warn("pop3", "STLS: no certificate ip=%s", conn_peer_addr(s->conn));
		pop3_session_close(s);
	}
}
