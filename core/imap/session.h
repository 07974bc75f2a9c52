/* session.h - one IMAP session (RFC 3501 section 3 states), shared by
 * session.c (conn callbacks, input loop, literals, IDLE, output streaming,
 * the selected mailbox's view and its untagged updates), commands.c (the
 * command table) and the cmd_*.c files. Internal to core/imap/. */
#ifndef POSTERN_IMAP_SESSION_H
#define POSTERN_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/limits.h"
#include "db/imap_store.h"
#include "imap/parser.h"
#include "imap/seqset.h"
#include "lib/buf.h"
#include "mail/spool.h"
#include "net/conn.h"
#include "net/loop.h"
#include "work/work.h"

enum imap_state {
	IMAP_STATE_NOTAUTH = 1 << 0,
	IMAP_STATE_AUTH = 1 << 1,
	IMAP_STATE_SELECTED = 1 << 2,
	IMAP_STATE_LOGOUT = 1 << 3,
};

/* Why commands are not being read. */
enum imap_wait {
	IMAP_WAIT_NONE = 0,
	IMAP_WAIT_JOB,		/* a DB / login job is out */
	IMAP_WAIT_TIMER,	/* failed-login delay */
	IMAP_WAIT_TLS,		/* STARTTLS handshake */
	IMAP_WAIT_STREAM,	/* a large reply is being written */
	IMAP_WAIT_DRAIN,	/* too much output pending */
};

/* The selected mailbox as this session has announced it: message
 * sequence number n is uids[n - 1]. */
struct imap_view {
	int64_t mailbox_id;
	char *name;		/* UTF-8 */
	bool readonly;		/* EXAMINE */
	int64_t uidvalidity;
	int64_t uidnext;
	int64_t modseq;		/* changes up to here are announced */
	uint32_t *uids;
	size_t n;
	size_t alloc;
	/* RFC 5182 SEARCHRES: the saved result ("$") as UIDs, ascending */
	uint32_t *saved;
	size_t n_saved;
	/* recent: the view's UIDs that are \Recent in this session (RFC 3501
	 * 2.3.2), ascending; at most n entries (recent.c) */
	uint32_t *recent;
	size_t n_recent;
	size_t recent_alloc;
};

struct imap_session;

/* A DB job of a command. The worker runs work() then, when sync is set,
 * the mailbox sync; the loop applies the sync (untagged EXISTS /
 * EXPUNGE / FETCH) and calls finish(). */
struct imap_job {
	struct job job;
	void (*work)(struct imap_job *j, struct db *db);
	void (*finish)(struct imap_session *s, struct imap_job *j);
	void (*cleanup)(struct imap_job *j);	/* frees the command's own fields; may be NULL */
	enum db_status st;
	int64_t account_id;
	int64_t mailbox_id;	/* selected mailbox (0: none) */
	int64_t since;
	bool sync;
	bool allow_expunge;	/* EXPUNGE responses may be sent now */
	bool sync_before;	/* sync before work() (STORE: its own changes are reported by it) */
	struct imap_store_sync sync_res;
	enum db_status sync_st;
	uint32_t *skip;		/* UIDs whose FETCH FLAGS the command reports itself */
	size_t n_skip;
	/* snapshot of the view (sequence numbers) */
	uint32_t *uids;
	size_t n_uids;
	/* recent: a read-write session claims the new UIDs its sync finds
	 * (imap_recent_claim); the \Recent UIDs of the view for a worker that
	 * renders FLAGS (imap_recent_snapshot), else NULL */
	bool claim_recent;
	uint32_t *recent;
	size_t n_recent;
};

struct imap_session {
	struct conn *conn;	/* valid until proto->close */
	uint64_t conn_id;
	enum imap_state state;
	enum imap_wait wait;
	bool closing;
	bool close_called;
	bool running;
	bool pumping;
	bool idling;		/* IDLE: lines are read raw until DONE */
	bool idle_job;		/* the job out is an IDLE sync */
	bool notify_pending;	/* the selected mailbox changed since the last sync */
	bool auth_cont;		/* next line answers AUTHENTICATE's "+ " */
	unsigned errors;
	struct imap_parser *parser;
	char *tag;		/* the command being run (malloc'd) */

	char user[LIMIT_ADDRESS + 1];
	struct loop_timer *fail_timer;
	int64_t account_id;
	int64_t quota_bytes;	/* at login; 0 = unlimited */
	char address[LIMIT_ADDRESS + 1];

	/* imapa: extensions turned on (RFC 5161 ENABLE, or implicitly) */
	bool condstore;		/* RFC 7162 3.1: MODSEQ in every FETCH */
	bool qresync;		/* RFC 7162 3.2: VANISHED instead of EXPUNGE */
	bool utf8;		/* RFC 6855 UTF8=ACCEPT: UTF-8 mailbox names, UTF8 APPEND */
	/* RFC 9051 IMAP4rev2: no RECENT, LIST in SELECT, STATUS DELETED.
	 * Hook for SEARCH (imapb): with rev2, SEARCH answers ESEARCH. */
	bool rev2;
	struct imap_notify *notify;	/* NOTIFY SET (cmd_notify.c), or NULL */

	struct imap_view sel;
	/* the registry of sessions by selected mailbox (session.c) */
	struct imap_session *reg_next, *reg_prev;
	bool registered;

	/* APPEND: the message literal streamed into the spool */
	struct spool *spool;
	uint64_t lit_left;
	bool lit_failed;

	/* a large reply in pieces, then cont() */
	unsigned char *out;
	size_t out_len, out_off;
	void (*out_cont)(struct imap_session *s);
	void *cont_data;	/* owned by the command that streams (FETCH) */
	void (*cont_free)(void *data);	/* frees cont_data at session end */
};

/* recent: a flag bit never stored (STORE cannot set it, RFC 3501 2.3.2):
 * imap_flags_write() writes \Recent for it. */
#define IMAP_FLAG_RECENT (1 << 30)

/* --- session.c --- */
struct imap_session *imap_session_find(uint64_t conn_id);
/* Queues a line; CRLF is added. */
void imap_send(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void imap_send_raw(struct imap_session *s, const void *p, size_t n);
/* "tag <status> <text>" for the command being run. */
void imap_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A tagged BAD / NO that counts against the error limit. */
void imap_error(struct imap_session *s, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void imap_session_wait(struct imap_session *s, enum imap_wait why);
void imap_session_resume(struct imap_session *s);
void imap_session_close(struct imap_session *s);
void imap_session_touch(struct imap_session *s);
bool imap_session_login_allowed(const struct imap_session *s);
bool imap_session_starttls_available(const struct imap_session *s);
/* Writes a large reply in pieces, then calls cont (may be NULL: resume). */
void imap_session_stream(struct imap_session *s, unsigned char *data, size_t len,
			 void (*cont)(struct imap_session *s));
/* Submits a job; on failure answers NO [UNAVAILABLE] and frees it. */
void imap_job_submit(struct imap_session *s, struct imap_job *j);
void imap_job_free(struct imap_job *j);
/* Selected-mailbox view. */
void imap_view_set(struct imap_session *s, int64_t id, const char *name, bool readonly);
void imap_view_clear(struct imap_session *s);
/* The sequence number of uid (1-based) or 0. */
uint32_t imap_view_seq(const uint32_t *uids, size_t n, uint32_t uid);
/* Removes uid and sends "* n EXPUNGE" (with QRESYNC "* VANISHED uid"). */
void imap_view_expunge(struct imap_session *s, uint32_t uid);
/* The same for uids (ascending); with QRESYNC one "* VANISHED set". */
void imap_view_expunge_many(struct imap_session *s, const uint32_t *uids, size_t n);
/* Announces the changes of a sync. */
void imap_view_apply(struct imap_session *s, const struct imap_store_sync *sy, bool allow_expunge,
		     const uint32_t *skip, size_t n_skip);
/* Writes "FLAGS (...)" of flag bits and keywords to b. */
void imap_flags_write(struct buf *b, int flags, const char *keywords);
/* Starts a sync job (NOOP, IDLE wake-up). */
void imap_sync_start(struct imap_session *s, bool idle);

/* --- commands.c --- */
void imap_commands_dispatch(struct imap_session *s, const struct imap_cmd *cmd);
/* Resolves a sequence set argument against the view to UIDs (ascending).
 * Returns 0, or -1 after answering BAD. */
int imap_seqset_uids(struct imap_session *s, const struct imap_arg *arg, bool uid,
		     uint32_t **uids_r, size_t *n_r);
/* Mailbox name argument -> UTF-8 (malloc'd), INBOX normalised. NULL after
 * answering. */
char *imap_mailbox_arg(struct imap_session *s, const struct imap_arg *arg);
/* Appends a mailbox name (UTF-8) as an IMAP string in modified UTF-7. */
int imap_mailbox_write(struct buf *b, const char *name);
/* The same for this session: UTF-8 after UTF8=ACCEPT / IMAP4rev2
 * (RFC 6855 3), modified UTF-7 otherwise. */
int imap_mailbox_out(const struct imap_session *s, struct buf *b, const char *name);
/* Appends s as a quoted string or a literal. */
void imap_astring_write(struct buf *b, const char *str, size_t len);
/* A flag list or single flag -> bits and keywords (PG array literal).
 * Returns 0, or -1 with *error_r. */
int imap_flags_parse(const struct imap_arg *arg, int *flags_r, char **keywords_r,
		     const char **error_r);

/* --- cmd_auth.c --- */
void imap_cmd_capability(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_noop(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_logout(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_id(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_enable(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_namespace(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_starttls(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_login(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_authenticate(struct imap_session *s, const struct imap_cmd *cmd);
void imap_auth_response(struct imap_session *s, const char *line, size_t len);
/* The capability list for the current state (no "* CAPABILITY"). */
void imap_capabilities(struct imap_session *s, struct buf *b);

/* --- cmd_mailbox.c --- */
void imap_cmd_list(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_create(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_delete(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_rename(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_subscribe(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_status(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_select(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_close(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_expunge(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_idle(struct imap_session *s, const struct imap_cmd *cmd);
void imap_idle_line(struct imap_session *s, const char *line, size_t len);
void imap_cmd_append(struct imap_session *s, const struct imap_cmd *cmd);
/* LIST wildcards: '*' matches anything, '%' anything but '/'. */
bool imap_list_match(const char *pattern, const char *name);
/* APPEND date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (day may be " d") ->
 * unix time. 0 or -1. */
int imap_date_time_parse(const char *s, size_t len, int64_t *out);
void imap_cmd_uid(struct imap_session *s, const struct imap_cmd *cmd);

/* --- cmd_fetch.c --- */
void imap_cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		    const struct imap_arg *args);

/* --- cmd_store.c --- */
void imap_cmd_store(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		    const struct imap_arg *args);
void imap_cmd_copy(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		   const struct imap_arg *args, bool move);
void imap_cmd_uid_expunge(struct imap_session *s, const struct imap_cmd *cmd,
			  const struct imap_arg *args);

/* --- imapb: cmd_auth.c --- */
void imap_cmd_compress(struct imap_session *s, const struct imap_cmd *cmd);

/* --- cmd_search.c --- */
/* SEARCH, SORT, THREAD and their UID forms; args after the command name. */
void imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		     const struct imap_arg *args);
void imap_cmd_sort(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		   const struct imap_arg *args);
void imap_cmd_thread(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		     const struct imap_arg *args);
/* --- cmd_sync.c (imapa: CONDSTORE/QRESYNC helpers, QUOTA) --- */
/* A number argument (atom of digits) up to max. 0, or -1. */
int imap_arg_u64(const struct imap_arg *arg, uint64_t max, uint64_t *out);
/* "* VANISHED [(EARLIER)] <set>" of the UIDs (ascending) that filter
 * holds (NULL: all), in lines of bounded length; nothing when none. */
void imap_vanished_send(struct imap_session *s, const uint32_t *uids, size_t n,
			const struct imap_seqset *filter, bool earlier);
/* STATUS items (RFC 3501 6.3.10, RFC 7162, RFC 8438 SIZE, RFC 7889) ->
 * bits; 0, or -1 after answering BAD. (cmd_mailbox.c) */
int imap_status_items_parse(struct imap_session *s, const struct imap_arg *l, unsigned *bits_r);
/* "* STATUS name (items)" (cmd_mailbox.c) */
void imap_status_write(struct imap_session *s, const char *name, unsigned items,
		       const struct imap_store_status *st);
/* NOTIFY MessageNew (fetch-att) (cmd_fetch.c): a parsed FETCH item list
 * (NULL when invalid), and an untagged-only FETCH of it for new UIDs. */
struct fetch_req;
struct fetch_req *imap_fetch_template(const struct imap_arg *items);
void imap_fetch_template_free(struct fetch_req **t);
void imap_fetch_quiet(struct imap_session *s, const struct fetch_req *t, const uint32_t *uids,
		      size_t n);
/* The selected mailbox's MessageNew fetch-att, or NULL (cmd_notify.c). */
const struct fetch_req *imap_notify_fetch_template(const struct imap_session *s);
/* The STATUS items NOTIFY reports for a non-selected mailbox (RFC 5465 5.2). */
unsigned imap_status_bits_notify(bool condstore);
/* --- cmd_notify.c (imapa: NOTIFY, RFC 5465) --- */
void imap_cmd_notify(struct imap_session *s, const struct imap_cmd *cmd);
/* mailbox_changed for mailbox id / for all (LISTEN reconnected). Loop. */
void imap_notify_event(int64_t id);
void imap_notify_event_all(void);
/* Whether the session has NOTIFY changes to report. */
bool imap_notify_pending(const struct imap_session *s);
/* A job that reports them (and syncs the selected mailbox), or NULL. */
struct imap_job *imap_notify_job(struct imap_session *s);
/* Forgets the session's NOTIFY state (NOTIFY NONE, session end). */
void imap_notify_free(struct imap_session *s);
/* The end of a NOOP / IDLE sync job (session.c). */
void imap_sync_finish(struct imap_session *s, struct imap_job *j);
/* --- cmd_list.c (imapa: LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819) --- */
void imap_cmd_list_extended(struct imap_session *s, const struct imap_cmd *cmd);
/* reference + pattern (modified UTF-7) -> UTF-8 pattern, INBOX
 * normalised (malloc'd); NULL after answering BAD. */
char *imap_list_pattern(struct imap_session *s, const char *ref, size_t rlen, const char *pat,
			size_t plen);
void imap_cmd_getquota(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_getquotaroot(struct imap_session *s, const struct imap_cmd *cmd);
void imap_cmd_setquota(struct imap_session *s, const struct imap_cmd *cmd);

/* --- recent.c (\Recent, RFC 3501 2.3.2 / 7.3.2; none in IMAP4rev2) --- */
/* Adds the view's UIDs from index first on that lie in [from, to) to the
 * session's \Recent set (calls come in ascending UID order). */
void imap_recent_mark(struct imap_session *s, size_t first, int64_t from, int64_t to);
/* Drops uid (expunged) from the set. */
void imap_recent_remove(struct imap_session *s, uint32_t uid);
/* flags | IMAP_FLAG_RECENT when uid is \Recent here and the session
 * speaks IMAP4rev1. */
int imap_recent_flags(const struct imap_session *s, uint32_t uid, int flags);
/* The same from a job's snapshot (worker thread). */
int imap_recent_job_flags(const struct imap_job *j, uint32_t uid, int flags);
/* Copies the set into j for a worker that renders FLAGS (none in rev2). */
void imap_recent_snapshot(const struct imap_session *s, struct imap_job *j);
/* Worker, after the sync of a job: the claim of the UIDs the sync found
 * that no session has claimed (one UPDATE, only when there are some). */
void imap_recent_claim(struct imap_job *j, struct db *db);

#endif
