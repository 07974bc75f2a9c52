/* admin.h - typed administration operations shared by posternctl and the
 * web panel: domains, accounts (with their mailboxes), aliases, listeners
 * and the outbound queue. Each one validates its input and returns
 * ADMIN_OK, or a failure with one sentence in err->msg (lower-case start,
 * no final period, client text escaped and cut) fit to show a person.
 * Every change runs in one transaction with a row in audit_log naming the
 * actor ("posternctl", or the panel's admin user). Blocking: worker
 * threads or posternctl only, never the loop (argon2id hashing is slow). */
#ifndef POSTERN_DB_ADMIN_H
#define POSTERN_DB_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/limits.h"
#include "db/db.h"
#include "net/tls_check.h"

enum admin_status {
	ADMIN_OK = 0,
	ADMIN_FAIL,		/* refused (bad input, unknown or duplicate name) or failed: err->msg */
	ADMIN_UNAVAILABLE,	/* database unreachable or commit outcome unknown: err->msg */
};

struct admin_err {
	char msg[256];
};

/* --- validation (pure; no database) --- */

/* Checks a domain name (LDH labels of 1..63, at most LIMIT_DOMAIN octets,
 * IDNA A-labels allowed) and writes it lower-cased into out (LIMIT_DOMAIN+1
 * bytes). true, or false with err->msg. */
bool admin_domain_check(const char *name, char *out, size_t outsize, struct admin_err *err);
/* Splits and checks local@domain: a dot-atom local part of at most
 * LIMIT_LOCAL_PART octets (UTF-8 allowed), a valid domain (lower-cased in
 * domain_r). With allow_catchall, "@domain" is accepted and gives local ""
 * (the catch-all). local_r and domain_r hold LIMIT_LOCAL_PART+1 and
 * LIMIT_DOMAIN+1 bytes. */
bool admin_address_check(const char *address, bool allow_catchall, char *local_r,
			 char *domain_r, struct admin_err *err);

/* --- domains --- */

struct admin_domain {
	const char *name;
	bool active;
};
typedef void admin_domain_fn(void *arg, const struct admin_domain *d);

enum admin_status admin_domain_add(struct db *db, const char *actor, const char *name,
				   struct admin_err *err);
/* Refused while the domain has accounts (their mail would go with it);
 * its aliases and DKIM keys are deleted with it. */
enum admin_status admin_domain_del(struct db *db, const char *actor, const char *name,
				   struct admin_err *err);
enum admin_status admin_domain_list(struct db *db, admin_domain_fn *fn, void *arg,
				    struct admin_err *err);

/* --- accounts --- */

struct admin_user {
	const char *address;
	int64_t used_bytes;
	int64_t quota_bytes;	/* 0 = unlimited */
	bool active;
};
typedef void admin_user_fn(void *arg, const struct admin_user *u);

/* Creates the account (password checked with password_weakness() and
 * hashed with argon2id) and its mailboxes INBOX, Drafts, Sent, Trash, Junk.
 * quota_bytes 0 = unlimited. */
enum admin_status admin_user_add(struct db *db, const char *actor, const char *address,
				 const char *password, size_t passlen, int64_t quota_bytes,
				 struct admin_err *err);
enum admin_status admin_user_passwd(struct db *db, const char *actor, const char *address,
				    const char *password, size_t passlen, struct admin_err *err);
/* Deletes the account, its mailboxes and messages (and blobs no longer used). */
enum admin_status admin_user_del(struct db *db, const char *actor, const char *address,
				 struct admin_err *err);
/* A disabled account cannot log in and receives no mail (550 5.2.1). */
enum admin_status admin_user_set_active(struct db *db, const char *actor, const char *address,
					bool active, struct admin_err *err);
/* quota_bytes 0 = unlimited; a quota below the current use only stops new mail. */
enum admin_status admin_user_set_quota(struct db *db, const char *actor, const char *address,
				       int64_t quota_bytes, struct admin_err *err);
/* domain NULL = every domain. */
enum admin_status admin_user_list(struct db *db, const char *domain, admin_user_fn *fn, void *arg,
				  struct admin_err *err);

/* --- aliases --- */

struct admin_alias {
	const char *source;	/* "local@domain", or "@domain" for the catch-all */
	const char *destination;
};
typedef void admin_alias_fn(void *arg, const struct admin_alias *a);

/* source "@domain" = the domain's catch-all. The source domain must be
 * hosted; the source must not be an account; a destination in a hosted
 * domain must resolve (account, alias or catch-all). */
enum admin_status admin_alias_add(struct db *db, const char *actor, const char *source,
				  const char *destination, struct admin_err *err);
enum admin_status admin_alias_del(struct db *db, const char *actor, const char *source,
				  const char *destination, struct admin_err *err);
enum admin_status admin_alias_list(struct db *db, const char *domain, admin_alias_fn *fn,
				   void *arg, struct admin_err *err);

/* --- listeners --- */

struct admin_listener {
	const char *name;
	const char *protocol;	/* smtp, pop3, imap */
	int port;
	const char *tls;	/* none, starttls, implicit */
	bool enabled;
};
typedef void admin_listener_fn(void *arg, const struct admin_listener *l);

struct admin_listener_change {
	bool set_port;
	int port;		/* 1..65535 */
	const char *tls;	/* NULL = unchanged; none, starttls or implicit */
	int enable;		/* -1 unchanged, 0 disable, 1 enable */
};

enum admin_status admin_listener_list(struct db *db, admin_listener_fn *fn, void *arg,
				      struct admin_err *err);
/* Checks port range and TLS mode without the database; false with err set. */
bool admin_listener_change_check(const struct admin_listener_change *change, struct admin_err *err);
/* Applies the change and sends NOTIFY config_changed in the same
 * transaction (posternd rebinds). Refuses a port another enabled listener
 * uses. */
enum admin_status admin_listener_set(struct db *db, const char *actor, const char *name,
				     const struct admin_listener_change *change,
				     struct admin_err *err);

/* --- queue --- */

struct admin_queue_item {
	int64_t id;
	const char *sender;	/* "" = <> */
	const char *recipient;
	const char *state;
	int attempts;
	const char *next_attempt;	/* ISO 8601 UTC, "2026-01-02T03:04:05Z" */
	const char *last_error;		/* "" when none */
};
typedef void admin_queue_fn(void *arg, const struct admin_queue_item *q);

enum admin_status admin_queue_list(struct db *db, admin_queue_fn *fn, void *arg,
				   struct admin_err *err);

/* --- queue operations (outbound) --- */

enum admin_queue_op {
	ADMIN_QUEUE_RETRY,	/* due now (a queued row; id < 0: every queued row) */
	ADMIN_QUEUE_DROP,	/* removed without a DSN */
	ADMIN_QUEUE_HOLD,	/* kept but not delivered until released */
	ADMIN_QUEUE_RELEASE,	/* a held row becomes due now */
};

/* Applies op to queue row id, audited. ADMIN_FAIL when no row in a state
 * that allows it (err->msg says so); *count_r rows changed. */
enum admin_status admin_queue_op(struct db *db, const char *actor, enum admin_queue_op op,
				 int64_t id, long long *count_r, struct admin_err *err);
/* --- TLS certificates (panel) --- */

struct admin_cert {
	int64_t id;
	const char *const *hostnames;	/* the names it serves (SNI) */
	size_t n_hostnames;
	const struct tls_check_info *info;	/* what the certificate itself says */
	bool is_default;	/* served when SNI names nothing it knows */
};
typedef void admin_cert_fn(void *arg, const struct admin_cert *c);

/* Checks the upload with tls_check_pair() (a failure names the field:
 * "cert_pem", "key_pem" or "hostnames"), seals the key (seal_init() done
 * by the caller), stores it serving hostnames (NULL/0 = every name the
 * certificate covers; each must be covered), takes those names from the
 * other certificates, optionally makes it the default, and sends NOTIFY
 * config_changed. *id_r = the new row. */
enum admin_status admin_cert_import(struct db *db, const char *actor, const char *cert_pem,
				    const char *key_pem, const char *const *hostnames,
				    size_t n_hostnames, bool make_default, int64_t *id_r,
				    const char **field_r, struct admin_err *err);
/* A self-signed certificate for hostname, valid days (1..LIMIT_CERT_DAYS),
 * stored as admin_cert_import() does. */
enum admin_status admin_cert_generate(struct db *db, const char *actor, const char *hostname,
				      int days, bool make_default, int64_t *id_r,
				      struct admin_err *err);
enum admin_status admin_cert_list(struct db *db, admin_cert_fn *fn, void *arg,
				  struct admin_err *err);
/* Changes which names certificate id serves (hostnames NULL = unchanged;
 * each must be covered; they are taken from other certificates) and/or
 * makes it the default; NOTIFY config_changed. *field_r as above. */
enum admin_status admin_cert_set(struct db *db, const char *actor, int64_t id,
				 const char *const *hostnames, size_t n_hostnames, bool make_default,
				 const char **field_r, struct admin_err *err);
/* Refuses to delete the last certificate (TLS ports would have none). */
enum admin_status admin_cert_del(struct db *db, const char *actor, int64_t id,
				 struct admin_err *err);

/* --- panel admins --- */

/* 1..LIMIT_WEB_USERNAME of letters, digits, . _ - @. */
bool admin_admin_name_check(const char *name, struct admin_err *err);
/* A new admin (password checked with password_weakness(), argon2id). */
enum admin_status admin_admin_add(struct db *db, const char *actor, const char *name,
				  const char *password, size_t passlen, struct admin_err *err);
/* A new password; the admin's sessions end (logged out everywhere). */
enum admin_status admin_admin_passwd(struct db *db, const char *actor, const char *name,
				     const char *password, size_t passlen, struct admin_err *err);
/* Removes the admin's TOTP second factor (a lost authenticator); the
 * admin's sessions end. */
enum admin_status admin_admin_totp_reset(struct db *db, const char *actor, const char *name,
					 struct admin_err *err);

#endif
