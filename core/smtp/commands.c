/* commands.c - the SMTP command table (STYLE rule 5): verb, state flags,
 * an optional check and the run function, plus the small commands.
 * RFC 5321 4.1.1 (HELO/EHLO, RSET, VRFY 252, EXPN 502, HELP 214, NOOP,
 * QUIT 221), 4.1.4 (order: 503 for bad sequence), 4.3.2 (500/501/502),
 * RFC 1869/5321 4.1.1.1 (EHLO keywords), RFC 3207 (STARTTLS: 220, then the
 * buffered plaintext is discarded and the session reset; 503 inside TLS),
 * RFC 6409 4.3 / RFC 4954 (submission: 530 before AUTH), RFC 3463 codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/str.h"
#include "net/tls.h"
#include "smtp/session.h"

struct smtp_command {
	enum smtp_verb verb;
	unsigned flags;
	/* Extra precondition: 0 to run, -1 when it replied. May be NULL. */
	int (*check)(struct smtp_session *s, const struct smtp_cmd *cmd);
	void (*run)(struct smtp_session *s, const struct smtp_cmd *cmd);
};

static bool starttls_offered(const struct smtp_session *s)
{
	return conn_listener_tls(s->c) == TLS_MODE_STARTTLS && !conn_is_tls(s->c) &&
	       tls_server_ctx() != NULL;
}

/* Keeps the HELO argument printable and safe inside a Received comment. */
static void helo_store(struct smtp_session *s, const char *arg)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)arg;
	     *p != '\0' && *p != ' ' && o + 1 < sizeof s->helo_name; p++) {
		unsigned char ch = *p;
		bool ok = ch > 32 && ch < 127 && ch != '(' && ch != ')' && ch != '\\' && ch != ';';
		s->helo_name[o++] = ok ? (char)ch : '?';
	}
	s->helo_name[o] = '\0';
}

static void run_helo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (cmd->args_len == 0) {
		smtp_reply(s, "501 5.5.4 Syntax: %s hostname",
			   cmd->verb == SMTP_VERB_EHLO ? "EHLO" : "HELO");
		return;
	}
	smtp_txn_reset(s);	/* RFC 5321 4.1.4: EHLO/HELO resets like RSET */
	helo_store(s, cmd->args);
	s->helo = true;
	s->esmtp = cmd->verb == SMTP_VERB_EHLO;
	if (!s->esmtp) {
		smtp_reply(s, "250 %s", smtp_hostname());
		return;
	}
	const char *lines[12];
	size_t n = 0;
	char size_line[48];
	if (str_fmt(size_line, sizeof size_line, "SIZE %lu", (unsigned long)LIMIT_SMTP_MESSAGE_SIZE) < 0)
		abort();	/* a constant that fits */
	lines[n++] = "PIPELINING";
	lines[n++] = size_line;
	if (starttls_offered(s))
		lines[n++] = "STARTTLS";
	if (smtp_auth_offered(s) && !s->authed)
		lines[n++] = "AUTH PLAIN LOGIN";
	lines[n++] = "ENHANCEDSTATUSCODES";
	lines[n++] = "8BITMIME";
	lines[n++] = "SMTPUTF8";
	lines[n++] = "CHUNKING";
	char out[512];
	int len = snprintf(out, sizeof out, "250-%s\r\n", smtp_hostname());
	if (len < 0 || (size_t)len >= sizeof out)
		len = snprintf(out, sizeof out, "250-localhost\r\n");
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(out + len, sizeof out - (size_t)len, "250%c%s\r\n",
				 i + 1 == n ? ' ' : '-', lines[i]);
		if (k < 0 || (size_t)k >= sizeof out - (size_t)len)
			break;	/* cannot happen: the lines are short */
		len += k;
	}
	smtp_write(s, out);
}

static void run_rset(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_txn_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void run_noop(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply(s, "250 2.0.0 Ok");
}

static void run_quit(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_close(s, "221 2.0.0 Bye");
}

static void run_vrfy(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
}

static void run_expn(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply(s, "502 5.5.1 EXPN not available");
}

static void run_help(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY "
		      "STARTTLS AUTH; see RFC 5321");
}

static void run_http(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	log_info("smtp", "HTTP command from client=%s:%d", conn_peer_addr(s->c),
		 conn_peer_port(s->c));
	smtp_close(s, "554 5.5.2 This is an SMTP server, not HTTP");
}

static int check_starttls(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	if (conn_is_tls(s->c)) {
		smtp_reply(s, "503 5.5.1 Already in TLS");
		return -1;
	}
	if (conn_listener_tls(s->c) != TLS_MODE_STARTTLS) {
		smtp_reply(s, "502 5.5.1 STARTTLS not available");
		return -1;
	}
	if (tls_server_ctx() == NULL) {
		smtp_reply(s, "454 4.7.0 TLS not available due to temporary reason");
		return -1;
	}
	return 0;
}

static void run_starttls(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	(void)cmd;
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	if (s->closing)
		return;
	/* Anything pipelined after STARTTLS is plaintext injected before the
	 * handshake (CVE-2011-0411): the parser holds none of it (it stops at
	 * the line end) and conn_starttls() drops what conn_in() holds. */
	smtp_parser_reset(&s->parser);
	if (conn_starttls(s->c) < 0) {
		log_error("smtp", "STARTTLS failed to start (no certificate)");
		smtp_close(s, NULL);
		return;
	}
	s->tls_pending = true;
}

static const struct smtp_command commands[] = {
	{ SMTP_VERB_HELO, SMTP_F_PRETLS, NULL, run_helo },
	{ SMTP_VERB_EHLO, SMTP_F_PRETLS, NULL, run_helo },
	{ SMTP_VERB_STARTTLS, SMTP_F_PRETLS | SMTP_F_NO_ARGS | SMTP_F_NO_TXN,
	  check_starttls, run_starttls },
	{ SMTP_VERB_AUTH, SMTP_F_HELO | SMTP_F_NO_TXN, NULL, smtp_cmd_auth },
	{ SMTP_VERB_MAIL, SMTP_F_HELO | SMTP_F_AUTH, NULL, smtp_cmd_mail },
	{ SMTP_VERB_RCPT, SMTP_F_HELO | SMTP_F_AUTH | SMTP_F_MAIL, NULL, smtp_cmd_rcpt },
	{ SMTP_VERB_DATA, SMTP_F_HELO | SMTP_F_AUTH | SMTP_F_MAIL | SMTP_F_NO_ARGS, smtp_check_data,
	  smtp_cmd_data },
	{ SMTP_VERB_BDAT, SMTP_F_HELO | SMTP_F_AUTH | SMTP_F_MAIL, smtp_check_data, smtp_cmd_bdat },
	{ SMTP_VERB_RSET, SMTP_F_PRETLS | SMTP_F_NO_ARGS, NULL, run_rset },
	{ SMTP_VERB_NOOP, SMTP_F_PRETLS, NULL, run_noop },
	{ SMTP_VERB_QUIT, SMTP_F_PRETLS | SMTP_F_NO_ARGS, NULL, run_quit },
	{ SMTP_VERB_VRFY, 0, NULL, run_vrfy },
	{ SMTP_VERB_EXPN, 0, NULL, run_expn },
	{ SMTP_VERB_HELP, SMTP_F_PRETLS, NULL, run_help },
	{ SMTP_VERB_HTTP, SMTP_F_PRETLS, NULL, run_http },
};

/* The flag checks in order: TLS, HELO, AUTH, MAIL, arguments. Returns 0
 * when the command may run, -1 when it was answered. */
static int check_flags(struct smtp_session *s, const struct smtp_command *k,
		       const struct smtp_cmd *cmd)
{
	if (!(k->flags & SMTP_F_PRETLS) && smtp_tls_required(s)) {
		smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return -1;
	}
	if ((k->flags & SMTP_F_HELO) && !s->helo) {
		smtp_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return -1;
	}
	if ((k->flags & SMTP_F_AUTH) && s->role == SMTP_ROLE_SUBMISSION && !s->authed) {
		smtp_reply(s, "530 5.7.0 Authentication required");
		return -1;
	}
	if ((k->flags & SMTP_F_MAIL) && !s->mail) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		return -1;
	}
	if ((k->flags & SMTP_F_NO_TXN) && s->mail) {
		smtp_reply(s, "503 5.5.1 Error: not allowed during a mail transaction");
		return -1;
	}
	if ((k->flags & SMTP_F_NO_ARGS) && cmd->args_len > 0) {
		smtp_reply(s, "501 5.5.4 Syntax error: no arguments allowed");
		return -1;
	}
	return 0;
}

void smtp_command_line(struct smtp_session *s, const struct smtp_line *line)
{
	if (line->error == SMTP_LINE_TOO_LONG) {
		smtp_reply(s, "500 5.5.6 Line too long");
		return;
	}
	if (line->error == SMTP_LINE_NUL) {
		smtp_reply(s, "500 5.5.2 Error: NUL byte in command");
		return;
	}
	struct smtp_cmd cmd;
	if (smtp_parse_command(line->s, line->len, &cmd) < 0) {
		smtp_reply(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	const struct smtp_command *k = NULL;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (commands[i].verb == cmd.verb) {
			k = &commands[i];
			break;
		}
	}
	if (k == NULL) {
		smtp_reply(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	/* A BDAT's octets follow it whatever we answer: read them first and
	 * send the reply after (RFC 3030 3). */
	if (cmd.verb == SMTP_VERB_BDAT && smtp_bdat_prepare(s, &cmd) < 0)
		return;
	if (check_flags(s, k, &cmd) < 0 || (k->check != NULL && k->check(s, &cmd) < 0))
		return;
	k->run(s, &cmd);
}
