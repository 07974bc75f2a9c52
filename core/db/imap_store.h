/* imap_store.h - typed queries of the IMAP server (core/imap/): mailboxes
 * of an account, the per-mailbox sync (changes since a MODSEQ), message
 * rows with their stored ENVELOPE / BODYSTRUCTURE / BODY / part table,
 * flags, COPY/MOVE, APPEND (SEARCH: search_store.h). Worker threads only. Every
 * function returns DB_OK or the failure class of db.h. Mailbox names are
 * UTF-8 ("INBOX" exactly for the inbox, '/' the hierarchy delimiter). */
#ifndef POSTERN_DB_IMAP_STORE_H
#define POSTERN_DB_IMAP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* System flag bits of messages.flags (001_init.sql). */
#define IMAP_FLAG_SEEN		1
#define IMAP_FLAG_ANSWERED	2
#define IMAP_FLAG_FLAGGED	4
#define IMAP_FLAG_DELETED	8
#define IMAP_FLAG_DRAFT		16

struct imap_store_mbox {
	int64_t id;
	char *name;		/* UTF-8, malloc'd */
	char special_use[16];	/* "\Sent" or "" */
	bool subscribed;
};
/* Every mailbox of the account, by name. Free with imap_store_mboxes_free. */
enum db_status imap_store_list(struct db *db, int64_t account_id, struct imap_store_mbox **out,
			       size_t *n_r);
void imap_store_mboxes_free(struct imap_store_mbox *m, size_t n);

struct imap_store_mbox_info {
	int64_t id;
	int64_t uidvalidity;
	int64_t uidnext;
	int64_t highestmodseq;
};
enum db_status imap_store_mailbox_get(struct db *db, int64_t account_id, const char *name,
				      struct imap_store_mbox_info *out, bool *found_r);

/* CREATE: *exists_r when the name is taken. */
enum db_status imap_store_create(struct db *db, int64_t account_id, const char *name,
				 bool *exists_r);
/* CREATE name (USE (use)) (RFC 6154 3), use one of "\Archive" "\Drafts"
 * "\Junk" "\Sent" "\Trash": *result_r 0 created, 1 the name is taken, 2
 * another mailbox of the account already has that special use (nothing
 * created). The account row is locked for the transaction. */
enum imap_store_create_result {
	IMAP_STORE_CREATED = 0,
	IMAP_STORE_NAME_TAKEN = 1,
	IMAP_STORE_USE_TAKEN = 2,
};
enum db_status imap_store_create_use(struct db *db, int64_t account_id, const char *name,
				     const char *use, enum imap_store_create_result *result_r);
/* DELETE (not INBOX: the caller refuses): messages go, used_bytes and
 * blobs follow. *found_r false when there is no such mailbox. */
enum db_status imap_store_delete(struct db *db, int64_t account_id, const char *name,
				 bool *found_r);
/* RENAME with its children ("a" -> "b" moves "a/x" to "b/x").
 * *result_r: 0 done, 1 no such mailbox, 2 the new name exists. */
enum db_status imap_store_rename(struct db *db, int64_t account_id, const char *from,
				 const char *to, int *result_r);
enum db_status imap_store_subscribe(struct db *db, int64_t account_id, const char *name, bool on,
				    bool *found_r);

struct imap_store_status {
	int64_t messages, unseen, size;
	int64_t uidnext, uidvalidity, highestmodseq;
	int64_t deleted;	/* \Deleted messages (RFC 9051 STATUS DELETED) */
	int64_t recent;		/* recent: messages no session has claimed (uid >= recent_uid) */
};
enum db_status imap_store_status(struct db *db, int64_t account_id, const char *name,
				 struct imap_store_status *out, bool *found_r);

/* A message's flags as the sync and STORE report them. */
struct imap_store_flags {
	uint32_t uid;
	int flags;
	char *keywords;		/* space separated, malloc'd ("" for none) */
	int64_t modseq;		/* RFC 7162 MODSEQ of the message */
};

/* Changes of a mailbox after MODSEQ since (one snapshot): expunged UIDs
 * (ascending) and messages added or changed (ascending UID). */
struct imap_store_sync {
	int64_t highestmodseq;
	int64_t uidnext;
	bool gone;		/* the mailbox was deleted */
	/* recent: the mailbox's first unclaimed UID in the same snapshot, and
	 * the UIDs [claim_from, claim_to) that imap_store_recent_claim() gave
	 * this session (0, 0: none) */
	int64_t recent_uid;
	int64_t claim_from, claim_to;
	uint32_t *expunged;
	size_t n_expunged;
	struct imap_store_flags *msgs;
	size_t n_msgs;
};
enum db_status imap_store_sync(struct db *db, int64_t mailbox_id, int64_t since,
			       struct imap_store_sync *out);
void imap_store_sync_free(struct imap_store_sync *s);

/* The metadata computed once per message. */
struct imap_store_meta {
	char *envelope;
	char *bodystructure;
	char *body;		/* non-extended BODY */
	char *parts;		/* mime_serialize() */
};
/* Parses msg once and renders the four strings. 0, or -1 when a
 * rendering passed its cap (the message is then served without). */
int imap_store_meta_compute(const unsigned char *msg, size_t len, struct imap_store_meta *out);
void imap_store_meta_free(struct imap_store_meta *m);
/* Stores meta on every copy of blob_id that has none yet. */
enum db_status imap_store_meta_save(struct db *db, int64_t blob_id,
				    const struct imap_store_meta *m);

struct imap_store_row {
	uint32_t uid;
	int flags;
	char *keywords;
	int64_t internal_date;	/* unix time */
	int64_t size;
	int64_t blob_id;
	int64_t modseq;
	struct imap_store_meta meta;	/* NULL members: not computed yet */
};
/* Rows of the given UIDs (ascending, n >= 1). */
enum db_status imap_store_rows(struct db *db, int64_t mailbox_id, const uint32_t *uids, size_t n,
			       struct imap_store_row **out, size_t *n_r);
void imap_store_rows_free(struct imap_store_row *rows, size_t n);
/* Body of one message (malloc'd); *found_r false when it is gone. */
enum db_status imap_store_body(struct db *db, int64_t mailbox_id, uint32_t uid,
			       unsigned char **data_r, size_t *len_r, bool *found_r);

/* Bodies of the given UIDs in one query (parallel arrays, ascending
 * UID, malloc'd). header_cap > 0: only the header block of each, at most
 * header_cap octets. */
enum db_status imap_store_bodies(struct db *db, int64_t mailbox_id, const char *uids,
				 size_t header_cap, uint32_t **uids_r, unsigned char ***data_r,
				 size_t **lens_r, size_t *n_r);

/* STORE: op '+' add, '-' remove, '=' replace; flags bits and keywords (a PG
 * array literal) for the UIDs; bumps MODSEQ, notifies. Returns the new
 * flags of the rows changed. */
enum db_status imap_store_set_flags(struct db *db, int64_t mailbox_id, const char *uids, char op,
				    int flags, const char *keywords,
				    struct imap_store_flags **out, size_t *n_r);
void imap_store_flags_free(struct imap_store_flags *f, size_t n);

/* EXPUNGE / UID EXPUNGE / CLOSE in one transaction: deletes the messages
 * that are \Deleted now (among uids, NULL = all), uncharges the account,
 * collects blobs, bumps MODSEQ and notifies; nothing changes when none is.
 * *out: the UIDs removed, ascending. */
enum db_status imap_store_expunge(struct db *db, int64_t account_id, int64_t mailbox_id,
				  const char *uids, uint32_t **out, size_t *n_r);

/* COPY / MOVE of uids into the mailbox named dest, in one transaction.
 * *found_r false: no such destination. Fills the source and new UIDs
 * (ascending source order) and the destination's UIDVALIDITY. A MOVE
 * expunges the sources in the same transaction. */
struct imap_store_copy {
	int64_t dest_uidvalidity;
	int64_t dest_id;
	uint32_t *src;
	uint32_t *dst;
	size_t n;
};
enum db_status imap_store_copy(struct db *db, int64_t account_id, int64_t src_mailbox,
			       const char *uids, const char *dest, bool move, bool *found_r,
			       bool *over_quota_r, struct imap_store_copy *out);
void imap_store_copy_free(struct imap_store_copy *c);

/* APPEND: the message with its metadata, flags, keywords (PG array
 * literal), internal date (unix time, 0 = now). */
struct imap_store_append {
	const unsigned char *msg;
	size_t len;
	const struct imap_store_meta *meta;
	int flags;
	const char *keywords;
	int64_t internal_date;
};
enum db_status imap_store_append(struct db *db, int64_t account_id, const char *name,
				 const struct imap_store_append *a, bool *found_r,
				 bool *over_quota_r, int64_t *uidvalidity_r, uint32_t *uid_r);

/* The same, with one more statement run in the APPEND's transaction (after
 * the message is stored, before COMMIT): posternctl import records what it
 * copied there, so a message and its record exist together or not at all.
 * The statement's failure (DB_CONFLICT for a unique violation) rolls the
 * whole APPEND back. */
struct imap_store_mark {
	enum db_stmt stmt;
	int nparams;
	const char *const *params;
};
enum db_status imap_store_append_marked(struct db *db, int64_t account_id, const char *name,
					const struct imap_store_append *a,
					const struct imap_store_mark *mark, bool *found_r,
					bool *over_quota_r, int64_t *uidvalidity_r, uint32_t *uid_r);

/* --- imapa: CONDSTORE / QRESYNC (RFC 7162), QUOTA (RFC 9208) --- */
/* STORE (UNCHANGEDSINCE unchanged_since): like imap_store_set_flags for
 * the rows whose MODSEQ is <= unchanged_since (< 0: every row); *out gets
 * those changed, *modified_r the UIDs (ascending, malloc'd) that failed
 * the test. */
enum db_status imap_store_set_flags_unchanged(struct db *db, int64_t mailbox_id, const char *uids,
					      char op, int flags, const char *keywords,
					      int64_t unchanged_since, struct imap_store_flags **out,
					      size_t *n_r, uint32_t **modified_r, size_t *n_modified_r);
/* UIDs expunged after MODSEQ since, ascending (malloc'd). */
enum db_status imap_store_vanished(struct db *db, int64_t mailbox_id, int64_t since,
				   uint32_t **out, size_t *n_r);
/* The account's quota (0 = unlimited) and usage in octets. */
enum db_status imap_store_quota(struct db *db, int64_t account_id, int64_t *quota_r,
				int64_t *used_r);

/* --- recent: \Recent (RFC 3501 2.3.2), sql/013_recent.sql --- */
/* SELECT / EXAMINE: imap_store_mailbox_get, and with claim (a read-write
 * SELECT) the atomic claim of every UID no session has claimed yet:
 * *from_r, *to_r the UIDs [from, to) now \Recent for the caller (0, 0
 * when there were none). */
enum db_status imap_store_recent_select(struct db *db, int64_t account_id, const char *name,
					bool claim, struct imap_store_mbox_info *out, bool *found_r,
					int64_t *from_r, int64_t *to_r);
/* The claim of a sync: moves the mailbox's recent_uid up to upto (the
 * sync's uidnext) unless another session already did. *from_r: the first
 * UID claimed (the claim is [*from_r, upto)), 0 when none was. */
enum db_status imap_store_recent_claim(struct db *db, int64_t mailbox_id, int64_t upto,
				       int64_t *from_r);

#endif
