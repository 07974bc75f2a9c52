/* import.h - inside posternctl import (ops/import*.c): the sink every source
 * feeds (import.c) and the three sources (import_local.c: maildir and mbox;
 * import_imap.c: another IMAP server). */
#ifndef POSTERN_OPS_IMPORT_H
#define POSTERN_OPS_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/ops.h"

/* IMAP system flag bits as messages.flags stores them (sql/001). */
enum {
	IMPORT_SEEN = 1,
	IMPORT_ANSWERED = 2,
	IMPORT_FLAGGED = 4,
	IMPORT_DELETED = 8,
	IMPORT_DRAFT = 16,
};

#define IMPORT_KEYWORDS_MAX 2048	/* octets of the keyword array literal */

/* Keywords as a PostgreSQL text[] literal ({"a","b"}). */
struct import_keywords {
	char lit[IMPORT_KEYWORDS_MAX];
	size_t len;
	unsigned n;
};
void import_keywords_init(struct import_keywords *k);
/* Adds an IMAP keyword (an atom); others are ignored. */
void import_keywords_add(struct import_keywords *k, const char *name, size_t len);
/* Sets a flag bit or adds a keyword from an IMAP flag ("\Seen", "$Work"). */
void import_flag_parse(const char *name, size_t len, int *flags, struct import_keywords *k);

struct import_msg {
	const char *item;		/* the source's id of the message (import_seen.item) */
	const unsigned char *data;	/* CRLF lines */
	size_t len;
	int flags;
	const char *keywords;		/* text[] literal */
	int64_t internal_date;		/* unix time, 0 = now */
};

struct import_ctx;

/* Starts a folder: maps it to target (created when missing) and loads what
 * was copied from it before. -1 = stop (err set). */
int import_folder_begin(struct import_ctx *ctx, const char *folder, const char *target,
			int64_t uidvalidity);
/* True when item of the current folder was copied before. */
bool import_seen(const struct import_ctx *ctx, const char *item);
/* Copies one message into the current folder's target. -1 = stop. */
int import_message(struct import_ctx *ctx, const struct import_msg *m);
/* A message the source could not give (too large, unreadable): counted and
 * named on stderr. */
void import_skip(struct import_ctx *ctx, const char *item, const char *why);
/* Ends the current folder: prints its row. */
void import_folder_end(struct import_ctx *ctx);
/* Stops the import with a reason (source errors). Returns -1. */
int import_fail(struct import_ctx *ctx, enum ops_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The target mailbox for a source folder name (UTF-8, delim = the source's
 * hierarchy separator, 0 = none): separators become '/', INBOX in any case
 * becomes INBOX. -1 when it does not fit or is not a valid name. */
int import_target_name(const char *folder, char delim, char *out, size_t outsize);

/* Sources: run the whole import through the functions above. 0 or -1. */
int import_maildir(struct import_ctx *ctx, const char *path);
int import_mbox(struct import_ctx *ctx, const char *path);
int import_imap(struct import_ctx *ctx, const struct ops_import_req *req);

#endif
