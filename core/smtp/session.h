/* session.h - the SMTP session shared by session.c, commands.c and the
 * cmd_*.c files (private to core/smtp). One struct per connection, freed
 * by proto->close; workers never see it: jobs carry the conn id and find
 * the session again with smtp_session_find(). */
#ifndef POSTERN_SMTP_SESSION_H
#define POSTERN_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/limits.h"
#include "mail/address.h"
#include "mail/data.h"
#include "mail/spool.h"
#include "net/conn.h"
#include "net/loop.h"
#include "smtp/parser.h"

enum smtp_role {
	SMTP_ROLE_MX = 0,	/* listener "smtp": hosted domains only, no AUTH */
	SMTP_ROLE_SUBMISSION,	/* any other listener: AUTH after TLS required */
};

enum smtp_input {
	SMTP_IN_CMD = 0,	/* command lines */
	SMTP_IN_AUTH,		/* AUTH continuation lines */
	SMTP_IN_DATA,		/* DATA content until <CRLF>.<CRLF> */
	SMTP_IN_CHUNK,		/* BDAT chunk octets */
};

enum smtp_auth_step {
	SMTP_AUTH_NONE = 0,
	SMTP_AUTH_PLAIN,	/* "334 " sent, waiting for the PLAIN response */
	SMTP_AUTH_LOGIN_USER,	/* "334 VXNlcm5hbWU6" sent */
	SMTP_AUTH_LOGIN_PASS,	/* "334 UGFzc3dvcmQ6" sent */
};

struct smtp_session {
	struct conn *c;
	uint64_t conn_id;
	enum smtp_role role;
	struct smtp_parser parser;
	enum smtp_input in;

	/* connection state (reset by STARTTLS) */
	bool helo;		/* HELO or EHLO accepted */
	bool esmtp;		/* it was EHLO */
	char helo_name[256];	/* sanitised, for Received */
	bool authed;
	int64_t account_id;
	char account[LIMIT_ADDRESS + 1];
	bool active;		/* MAIL or AUTH seen: the long timeout applies */
	unsigned errors;

	/* AUTH exchange */
	enum smtp_auth_step auth_step;
	char auth_user[LIMIT_ADDRESS + 1];
	struct loop_timer *auth_timer;	/* 535 delay */

	/* mail transaction (RFC 5321 3.3) */
	bool mail;
	struct mail_address sender;
	bool smtputf8;
	bool body_8bit;
	size_t n_rcpt;
	char first_rcpt[LIMIT_ADDRESS + 1];
	int64_t *accounts;	/* local targets (deduplicated at delivery) */
	size_t n_accounts, cap_accounts;
	char **remote;		/* remote targets (deduplicated at delivery) */
	size_t n_remote, cap_remote;
	uint64_t send_rcpts_max;	/* mailauth: recipients this submission may have (set at MAIL) */
	bool bdat;		/* BDAT used in this transaction */
	bool bdat_failed;	/* a chunk failed: discard chunks until RSET */

	/* content being received */
	struct spool *spool;
	struct mail_data dec;
	struct mail_received_counter rcv;
	uint64_t chunk_left;	/* BDAT octets still to read */
	uint64_t chunk_size;	/* octets of the current chunk */
	bool chunk_last;
	bool chunk_discard;	/* read the chunk, store nothing */
	bool defer_reply;	/* replies go to deferred[] until the chunk is read */
	char deferred[256];

	/* flow control */
	bool busy;		/* a job or the AUTH delay is out: input paused */
	bool out_full;		/* too much output pending: input paused */
	bool paused;		/* what conn_pause() was last told */
	bool tls_pending;	/* STARTTLS handshake running */
	bool in_process;
	bool closing;
	bool shutdown;		/* shutdown requested: 421 once idle */
};

/* Command table flags. */
#define SMTP_F_PRETLS	0x01	/* allowed before TLS on a submission STARTTLS listener */
#define SMTP_F_HELO	0x02	/* needs HELO/EHLO */
#define SMTP_F_AUTH	0x04	/* needs AUTH on submission */
#define SMTP_F_MAIL	0x08	/* needs MAIL */
#define SMTP_F_NO_ARGS	0x10	/* takes no arguments (501 otherwise) */
#define SMTP_F_NO_TXN	0x20	/* not inside a mail transaction */

/* --- session.c --- */
const char *smtp_hostname(void);
struct smtp_session *smtp_session_find(uint64_t conn_id);
/* Writes one reply line (fmt without CRLF). A 5xx reply counts as an error;
 * at the limit "421 4.7.0 Too many errors" follows and the conn closes. While
 * defer_reply is set the line is kept for after the BDAT chunk. */
void smtp_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes raw text (multi-line replies); no error counting. */
void smtp_write(struct smtp_session *s, const char *text);
/* Sends a 421-class line and closes. */
void smtp_close(struct smtp_session *s, const char *line);
void smtp_busy(struct smtp_session *s);
/* Job finished: resume input (and finish a pending shutdown). */
void smtp_unbusy(struct smtp_session *s);
void smtp_arm_timeout(struct smtp_session *s);
void smtp_txn_reset(struct smtp_session *s);
/* Parses what is buffered as far as the state allows. */
void smtp_process(struct smtp_session *s);
bool smtp_tls_required(const struct smtp_session *s);	/* submission, STARTTLS listener, no TLS yet */
bool smtp_auth_offered(const struct smtp_session *s);
void smtp_add_account(struct smtp_session *s, int64_t id);
void smtp_add_remote(struct smtp_session *s, const char *addr);

/* --- commands.c --- */
void smtp_command_line(struct smtp_session *s, const struct smtp_line *line);

/* --- cmd_auth.c --- */
void smtp_cmd_auth(struct smtp_session *s, const struct smtp_cmd *cmd);
void smtp_auth_line(struct smtp_session *s, const struct smtp_line *line);
void smtp_auth_clear(struct smtp_session *s);

/* --- cmd_mail.c --- */
void smtp_cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd);
void smtp_cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd);

/* --- cmd_data.c --- */
int smtp_check_data(struct smtp_session *s, const struct smtp_cmd *cmd);
void smtp_cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd);
void smtp_cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd);
/* A BDAT whose size parsed: its octets are read (and maybe discarded)
 * whatever the reply. Returns 0, or -1 (syntax error, answered). */
int smtp_bdat_prepare(struct smtp_session *s, const struct smtp_cmd *cmd);
void smtp_data_input(struct smtp_session *s);
void smtp_chunk_input(struct smtp_session *s);

#endif
