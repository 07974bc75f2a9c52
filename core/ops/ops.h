/* ops.h - operations behind posternctl's health, backup and restore
 * commands (docs/OPERATIONS.md). Blocking: posternctl only, never posternd's
 * loop. Each returns an ops_status that posternctl maps to its exit code,
 * with one sentence for people in err->msg. */
#ifndef POSTERN_OPS_OPS_H
#define POSTERN_OPS_OPS_H

#include <stdio.h>

#include "config/config.h"
#include "db/admin.h"
#include "db/db.h"

enum ops_status {
	OPS_OK = 0,
	OPS_FAIL,		/* the request failed: err->msg */
	OPS_UNAVAILABLE,	/* the database cannot be reached: err->msg */
	OPS_UNHEALTHY,		/* health: an enabled listener does not accept connections */
};

/* Reads the listeners from the database and opens a TCP connection to every
 * enabled one on listen_address (0.0.0.0 / :: / empty = the loopback of that
 * family), each within timeout_ms. Writes one row per enabled listener to
 * out: name, port, "up" or "down" (then the reason). OPS_UNHEALTHY when one
 * is down. */
enum ops_status ops_health(struct db *db, const char *listen_address, int timeout_ms, FILE *out,
			   struct admin_err *err);

/* Writes a backup into dir (created 0700; must be empty if it exists):
 * postern.dump (pg_dump custom format of the database conninfo names),
 * seal.key (copied from cfg->data_dir) and MANIFEST, written last, with the
 * schema version and each file's size and SHA-256. */
enum ops_status ops_backup(const struct config *cfg, struct db *db, const char *conninfo,
			   const char *dir, struct admin_err *err);

/* Checks dir's MANIFEST against its files, refuses a database that already
 * holds a schema, a backup newer than the migrations at hand, and a
 * different seal.key in cfg->data_dir; then pg_restore, installs seal.key
 * and applies the newer migrations. */
enum ops_status ops_restore(const struct config *cfg, struct db *db, const char *conninfo,
			    const char *dir, struct admin_err *err);

/* posternctl import: copies mail from a maildir, an mbox file or another
 * IMAP server into an existing account, every folder with its flags,
 * keywords and internal dates. What was copied is recorded (import_seen,
 * sql/010) in the same transaction as each message, so a run can be
 * interrupted and repeated without duplicates. Writes one row per folder to
 * out: source folder, target mailbox, copied, already there, skipped. */
enum ops_import_kind { OPS_IMPORT_MAILDIR, OPS_IMPORT_MBOX, OPS_IMPORT_IMAP };
struct ops_import_req {
	enum ops_import_kind kind;
	const char *path;	/* maildir directory or mbox file */
	const char *to;		/* the account's address */
	const char *host, *port, *user, *password;	/* imap */
	const char *tls;	/* imap: implicit (default), starttls, none */
	const char *ca_file;	/* imap: CA (or self-signed certificate) to trust, NULL = system */
};
enum ops_status ops_import(struct db *db, const struct ops_import_req *req, FILE *out,
			   struct admin_err *err);

#endif
