/* store.h - typed queries of the mail store: accounts, recipients, delivery,
 * the POP3 view of INBOX, listeners and certificates. Worker threads only.
 * Every function returns DB_OK or the failure class of db.h. */
#ifndef POSTERN_DB_STORE_H
#define POSTERN_DB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/limits.h"
#include "db/db.h"
#include "net/listener.h"
#include "net/tls.h"

struct db_account {
	int64_t id;
	int64_t domain_id;
	int64_t inbox_id;		/* mailboxes.id of INBOX */
	char address[LIMIT_ADDRESS + 1];	/* canonical local@domain (lower-case domain) */
	char password_hash[256];	/* argon2id string */
	bool active;			/* account and domain active */
	int64_t quota_bytes;		/* 0 = unlimited */
	int64_t used_bytes;
};

/* Login lookup by full address (case-insensitive, no +tag handling).
 * *found_r false when there is no such account. */
enum db_status db_account_by_address(struct db *db, const char *address, struct db_account *out,
				     bool *found_r);

#define DB_RCPT_MAX_TARGETS 32	/* accounts + remote addresses one recipient may expand to */

enum db_rcpt_result {
	DB_RCPT_HOSTED = 0,	/* resolved: accounts and/or remote targets */
	DB_RCPT_NO_USER,	/* domain hosted, no account, alias or catch-all: 550 5.1.1 */
	DB_RCPT_NOT_HOSTED,	/* domain not ours: relay rules apply */
	DB_RCPT_INACTIVE,	/* account disabled: 550 5.2.1 */
};

struct db_rcpt {
	enum db_rcpt_result result;
	int64_t accounts[DB_RCPT_MAX_TARGETS];
	size_t n_accounts;
	char remote[DB_RCPT_MAX_TARGETS][LIMIT_ADDRESS + 1];	/* alias destinations elsewhere */
	size_t n_remote;
	bool over_quota;	/* some local target is at or over quota: 452 4.2.2 */
};

/* Resolves local@domain (domain lower-case, IDNA A-label or UTF-8). Order:
 * account, alias, then the same with a "+tag" removed from the local part,
 * then the domain's catch-all. Aliases expand recursively (depth 4). */
enum db_status db_rcpt_resolve(struct db *db, const char *local, const char *domain,
			       struct db_rcpt *out);

/* True when account may use address as envelope sender: its own address
 * (or +tag of it) or an alias that delivers to it (catch-alls do not
 * count). The null sender "" is allowed. */
enum db_status db_sender_allowed(struct db *db, int64_t account_id, const char *address,
				 bool *allowed_r);

struct db_delivery {
	const char *sender;		/* envelope sender, "" for <> */
	/* Local copy: Return-Path + Received + message. NULL when no accounts. */
	const unsigned char *local_body;
	size_t local_len;
	const int64_t *accounts;	/* distinct account ids, INBOX delivery */
	size_t n_accounts;
	/* Outbound copy: Received + message. NULL when no remote recipients. */
	const unsigned char *remote_body;
	size_t remote_len;
	const char *const *remote;	/* distinct remote recipient addresses */
	size_t n_remote;
	/* IMAP metadata of local_body, computed once before the transaction
	 * (db/imap_store.h imap_store_meta_compute) and stored with every
	 * copy; NULL: computed on the first FETCH instead. */
	const char *envelope;
	const char *bodystructure;
	const char *body;		/* non-extended BODY */
	const char *parts;		/* mime_serialize() */
};

/* Stores everything in ONE transaction: blob(s) (deduplicated by sha256),
 * a messages row per account INBOX with the next UID from the mailbox row,
 * used_bytes, queue rows, and NOTIFY mailbox_changed for each mailbox.
 * *over_quota_r true (nothing stored, DB_OK returned) when a local account
 * would pass its quota. Retries serialization failures itself. */
enum db_status db_deliver(struct db *db, const struct db_delivery *d, bool *over_quota_r);

/* Result of one delivery of a batch. */
struct db_delivery_result {
	/* DB_OK: committed (or over quota, below); otherwise the failure
	 * class for this message's reply (a batch that failed as a whole
	 * gives every message the batch's status). */
	enum db_status st;
	/* With DB_OK: nothing of this message was stored because a local
	 * account would pass its quota (452 4.2.2); the others were. */
	bool over_quota;
};

/* Group commit: stores n deliveries in ONE transaction with one COMMIT.
 * Over quota (or one message's failed statement) affects only that
 * message: a copy that does not fit changes nothing, a message with several
 * local accounts runs under its own savepoint, and a message whose
 * statement fails the transaction is left out and the others go again.
 * When every message goes to the same single account (the MX case), the
 * whole transaction is sent in one round trip (libpq pipeline mode).
 * Otherwise blobs are written first, the INBOX rows of a batch with
 * several accounts are locked in one statement in mailbox id order (no
 * deadlock between concurrent batches), then the copies. mailbox_changed
 * is notified for each mailbox written. A serialization failure or
 * deadlock retries the whole batch (LIMIT_DELIVER_RETRIES). Returns the
 * batch's status: DB_OK when the COMMIT succeeded (each results[i] then
 * tells that message's own outcome); otherwise every message not failed
 * alone gets that status and none of them was stored. The caller may
 * answer 250 only when results[i].st == DB_OK and !results[i].over_quota.
 * db_deliver() is this with n = 1. */
enum db_status db_deliver_batch(struct db *db, const struct db_delivery *d, size_t n,
				struct db_delivery_result *results);

/* POP3: the INBOX of an account, in UID order. */
struct db_pop3_msg {
	int64_t uid;
	int64_t size;		/* octets of the stored message (CRLF lines) */
};
enum db_status db_pop3_list(struct db *db, int64_t account_id, int64_t *mailbox_id_r,
			    int64_t *uidvalidity_r, struct db_pop3_msg **msgs_r, size_t *n_r);
/* Body of one message (malloc'd). *found_r false when it was expunged. */
enum db_status db_message_body(struct db *db, int64_t mailbox_id, int64_t uid,
			       unsigned char **data_r, size_t *len_r, bool *found_r);
/* Deletes the given UIDs from the mailbox in one transaction (updates
 * used_bytes, highestmodseq, frees unreferenced blobs, NOTIFY). UIDs already
 * gone are ignored. */
enum db_status db_expunge_uids(struct db *db, int64_t account_id, int64_t mailbox_id,
			       const int64_t *uids, size_t n);

/* Inside the caller's transaction: deletes the blobs among blob_ids (an
 * array literal "{1,2,3}") that no message or queue row refers to any
 * more. Runs under a savepoint, so a concurrent delivery that reuses a
 * blob only keeps it. DB_OK or the failure class. */
enum db_status db_blob_gc(struct db *db, const char *blob_ids);

/* Listeners and certificates (config_changed reload). *out malloc'd. */
enum db_status db_listeners_load(struct db *db, struct listener_spec **out, size_t *n_r);
/* Certificates with unsealed keys; the one whose hostnames contain
 * default_host (or the newest) first. Free with db_certs_free(). */
enum db_status db_certs_load(struct db *db, const char *default_host, struct tls_cert_pem **out,
			     size_t *n_r);
void db_certs_free(struct tls_cert_pem *certs, size_t n);
/* Inserts a certificate, sealing key_pem. */
enum db_status db_cert_insert(struct db *db, const char *const *hostnames, size_t n_hostnames,
			      const char *cert_pem, const char *key_pem, long long not_after);
/* Count of rows in certificates. */
enum db_status db_cert_count(struct db *db, long long *n_r);

#endif
