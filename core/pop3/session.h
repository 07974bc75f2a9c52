/* session.h - one POP3 session (RFC 1939 section 3 states), shared by
 * session.c (conn callbacks, input loop, output streaming), commands.c (the
 * verb table) and the cmd_*.c files. Internal to core/pop3/. */
#ifndef POSTERN_POP3_SESSION_H
#define POSTERN_POP3_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/limits.h"
#include "net/conn.h"
#include "net/loop.h"
#include "pop3/parser.h"
#include "pop3/stuff.h"

enum pop3_state {
	POP3_STATE_AUTH = 1 << 0,	/* AUTHORIZATION */
	POP3_STATE_TRANS = 1 << 1,	/* TRANSACTION */
};

/* Why input is not being read (commands are handled strictly in order). */
enum pop3_wait {
	POP3_WAIT_NONE = 0,
	POP3_WAIT_JOB,		/* login, maildrop list, body or expunge job out */
	POP3_WAIT_TIMER,	/* failed-login delay */
	POP3_WAIT_STREAM,	/* a multi-line reply is being written */
	POP3_WAIT_DRAIN,	/* too much output pending */
	POP3_WAIT_TLS,		/* STLS handshake */
};

/* One message of the maildrop snapshot taken at login. */
struct pop3_msg {
	int64_t uid;
	int64_t size;		/* stored octets (CRLF lines), as LIST reports */
	bool deleted;		/* DELE'd in this session */
};

enum pop3_stream_kind {
	POP3_STREAM_NONE = 0,
	POP3_STREAM_BODY,	/* RETR/TOP: data[off..len) still to stuff */
	POP3_STREAM_LIST,	/* LIST: msgs from next on */
	POP3_STREAM_UIDL,	/* UIDL: msgs from next on */
};

struct pop3_stream {
	enum pop3_stream_kind kind;
	unsigned char *data;	/* malloc'd message (BODY) */
	size_t len;		/* bytes of data to send (TOP: the cut) */
	size_t off;
	struct pop3_stuff st;
	size_t next;		/* LIST/UIDL: next message index */
};

struct pop3_session {
	struct conn *conn;	/* valid until proto->close */
	uint64_t conn_id;
	enum pop3_state state;
	enum pop3_wait wait;
	bool closing;		/* no more commands or replies: the conn is closing */
	bool close_called;	/* conn_close() was called */
	bool quitting;		/* QUIT's expunge job is out: finish it first */
	bool running;		/* inside the input loop (no re-entry) */
	bool pumping;		/* inside the stream pump (no re-entry) */
	bool auth_cont;		/* next line is a SASL PLAIN response */
	bool have_user;		/* USER given, PASS may follow */
	unsigned errors;
	struct pop3_parser parser;

	char user[LIMIT_ADDRESS + 1];	/* USER name or SASL authcid (for logs) */
	const char *mech;		/* "USER" or "PLAIN" while a login is out */
	struct loop_timer *fail_timer;

	/* TRANSACTION state */
	int64_t account_id;
	char address[LIMIT_ADDRESS + 1];	/* canonical address of the account */
	int64_t mailbox_id;
	int64_t uidvalidity;
	struct pop3_msg *msgs;
	size_t n_msgs;
	size_t n_deleted;
	int64_t deleted_octets;

	struct pop3_stream stream;
};

/* --- session.c --- */

/* The live session of conn_id, or NULL when the conn left or is closing. */
struct pop3_session *pop3_session_find(uint64_t conn_id);
/* Queues one reply line; CRLF is added. Lines are cut at 510 bytes. */
void pop3_reply(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An -ERR reply that counts against LIMIT_POP3_ERRORS(_PREAUTH); the error
 * that reaches the limit is answered "-ERR too many errors" instead, and the
 * session closes. */
void pop3_session_error(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Stops reading commands (conn paused except for TLS) until resume. */
void pop3_session_wait(struct pop3_session *s, enum pop3_wait why);
/* Reads commands again and handles those already buffered. */
void pop3_session_resume(struct pop3_session *s);
/* Closes after what is queued has been sent. */
void pop3_session_close(struct pop3_session *s);
/* True when USER/PASS/AUTH may be used now (not a STARTTLS listener
 * still in plaintext). */
bool pop3_session_login_allowed(const struct pop3_session *s);
/* Back to a fresh AUTHORIZATION state (failed login, after STLS). */
void pop3_session_reset_auth(struct pop3_session *s);
/* Arms the idle timer for the current state. */
void pop3_session_touch(struct pop3_session *s);
/* Starts a multi-line reply already prepared in s->stream (the "+OK" line
 * is queued by the caller); the session waits until it is all written. */
void pop3_session_stream(struct pop3_session *s);

/* --- commands.c --- */

/* Runs one command line through the table. */
void pop3_commands_dispatch(struct pop3_session *s, const struct pop3_cmd *cmd);

/* --- cmd_auth.c: AUTHORIZATION (RFC 1939 section 7, RFC 5034, RFC 2595) --- */
void pop3_cmd_capa(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_user(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_pass(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_auth(struct pop3_session *s, const struct pop3_cmd *cmd);
/* The line answering AUTH's "+ " continuation. */
void pop3_cmd_auth_response(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_stls(struct pop3_session *s, const struct pop3_cmd *cmd);

/* --- cmd_maildrop.c: TRANSACTION and UPDATE (RFC 1939 sections 5, 6) --- */
void pop3_cmd_stat(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_list(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_uidl(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_retr(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_top(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_dele(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_noop(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_rset(struct pop3_session *s, const struct pop3_cmd *cmd);
void pop3_cmd_quit(struct pop3_session *s, const struct pop3_cmd *cmd);
/* Frees the maildrop snapshot and any stream (session end, failed load). */
void pop3_maildrop_free(struct pop3_session *s);

#endif
