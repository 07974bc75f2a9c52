/* import.c - posternctl import: resolves the target account, names the
 * source (its key in import_seen), and is the sink every source feeds:
 * folders are created when missing, each message is stored with its flags,
 * keywords and internal date through imap_store_append_marked(), together
 * with its import_seen row in one transaction, so an interrupted run loses
 * nothing and a repeated one copies nothing twice (a unique violation on
 * import_seen means "already there"). Messages are parsed once for
 * ENVELOPE/BODYSTRUCTURE as an IMAP APPEND would. */
#include "ops/import.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/limits.h"
#include "db/imap_store.h"
#include "imap/mutf7.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"

#define IMPORT_SOURCE_MAX 1200

struct import_ctx {
	struct db *db;
	int64_t account_id;
	char acc[24];
	char source[IMPORT_SOURCE_MAX];
	FILE *out;
	struct admin_err *err;
	enum ops_status status;
	bool in_folder;
	char folder[LIMIT_IMAP_MAILBOX_NAME + 1];
	char target[LIMIT_IMAP_MAILBOX_NAME + 1];
	char uidv[24];
	char **seen;
	size_t n_seen;
	unsigned long copied, present, skipped;
};

int import_fail(struct import_ctx *ctx, enum ops_status st, const char *fmt, ...)
{
	va_list ap;

	if (ctx->status == OPS_OK) {
		va_start(ap, fmt);
		if (vsnprintf(ctx->err->msg, sizeof(ctx->err->msg), fmt, ap) < 0)
			str_lcpy(ctx->err->msg, "import failed", sizeof(ctx->err->msg));
		va_end(ap);
		ctx->status = st;
	}
	return -1;
}

static int import_db_fail(struct import_ctx *ctx, enum db_status st, const char *what)
{
	return import_fail(ctx, st == DB_TEMP ? OPS_UNAVAILABLE : OPS_FAIL, "%s: %s", what,
			   db_error(ctx->db));
}

/* ---------- flags and keywords ---------- */

void import_keywords_init(struct import_keywords *k)
{
	k->lit[0] = '{';
	k->lit[1] = '}';
	k->lit[2] = '\0';
	k->len = 1;	/* before the closing brace */
	k->n = 0;
}

void import_keywords_add(struct import_keywords *k, const char *name, size_t len)
{
	if (len == 0 || len > 200)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		/* an IMAP atom: no controls, space, specials or 8-bit */
		if (ch <= 0x20 || ch >= 0x7f || strchr("(){%*\"\\]", ch) != NULL)
			return;
	}
	/* ,"name"} and the NUL; XXX: keywords past IMPORT_KEYWORDS_MAX are dropped */
	if (k->len + len + 5 > sizeof(k->lit))
		return;
	if (k->n > 0)
		k->lit[k->len++] = ',';
	k->lit[k->len++] = '"';
	memcpy(k->lit + k->len, name, len);
	k->len += len;
	k->lit[k->len++] = '"';
	k->lit[k->len] = '}';
	k->lit[k->len + 1] = '\0';
	k->n++;
}

void import_flag_parse(const char *name, size_t len, int *flags, struct import_keywords *k)
{
	static const struct {
		const char *name;
		int bit;
	} sys[] = {
		{ "\\Seen", IMPORT_SEEN }, { "\\Answered", IMPORT_ANSWERED },
		{ "\\Flagged", IMPORT_FLAGGED }, { "\\Deleted", IMPORT_DELETED },
		{ "\\Draft", IMPORT_DRAFT },
	};

	if (len > 0 && name[0] == '\\') {
		for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
			if (strlen(sys[i].name) == len && strncasecmp(sys[i].name, name, len) == 0)
				*flags |= sys[i].bit;
		return;		/* \Recent and unknown system flags are not kept */
	}
	import_keywords_add(k, name, len);
}

int import_target_name(const char *folder, char delim, char *out, size_t outsize)
{
	size_t len = strlen(folder);

	if (len == 0 || len >= outsize || len > LIMIT_IMAP_MAILBOX_NAME ||
	    !imap_mutf7_utf8_valid((const unsigned char *)folder, len))
		return -1;
	for (size_t i = 0; i <= len; i++)
		out[i] = delim != '\0' && folder[i] == delim ? '/' : folder[i];
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	if (out[0] == '/' || out[len - 1] == '/' || strstr(out, "//") != NULL)
		return -1;
	return 0;
}

/* ---------- the sink ---------- */

static int import_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void import_seen_free(struct import_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n_seen; i++)
		free(ctx->seen[i]);
	free(ctx->seen);
	ctx->seen = NULL;
	ctx->n_seen = 0;
}

int import_folder_begin(struct import_ctx *ctx, const char *folder, const char *target,
			int64_t uidvalidity)
{
	const char *p[4] = { ctx->acc, ctx->source, folder, ctx->uidv };
	enum db_status st;
	bool exists;
	PGresult *res;

	if (ctx->in_folder)
		import_folder_end(ctx);
	str_lcpy(ctx->folder, folder, sizeof(ctx->folder));
	str_lcpy(ctx->target, target, sizeof(ctx->target));
	(void)str_fmt(ctx->uidv, sizeof(ctx->uidv), "%lld", (long long)uidvalidity);
	ctx->copied = ctx->present = ctx->skipped = 0;
	if (strcmp(target, "INBOX") != 0) {
		st = imap_store_create(ctx->db, ctx->account_id, target, &exists);
		if (st != DB_OK)
			return import_db_fail(ctx, st, "cannot create the mailbox");
	}
	res = db_exec(ctx->db, STMT_OPS_IMPORT_SEEN, 4, p, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		return import_db_fail(ctx, st, "cannot read what was imported before");
	}
	ctx->n_seen = (size_t)PQntuples(res);
	ctx->seen = xcalloc(ctx->n_seen + 1, sizeof(char *));
	for (size_t i = 0; i < ctx->n_seen; i++)
		ctx->seen[i] = xstrdup(PQgetvalue(res, (int)i, 0));
	PQclear(res);
	qsort(ctx->seen, ctx->n_seen, sizeof(char *), import_cmp);
	ctx->in_folder = true;
	return 0;
}

bool import_seen(const struct import_ctx *ctx, const char *item)
{
	return bsearch(&item, ctx->seen, ctx->n_seen, sizeof(char *), import_cmp) != NULL;
}

int import_message(struct import_ctx *ctx, const struct import_msg *m)
{
	const char *mark_params[5] = { ctx->acc, ctx->source, ctx->folder, ctx->uidv, m->item };
	struct imap_store_mark mark = { STMT_OPS_IMPORT_MARK, 5, mark_params };
	struct imap_store_append ap;
	struct imap_store_meta meta;
	bool found, over_quota;
	int64_t uidvalidity;
	uint32_t uid;
	enum db_status st;

	if (import_seen(ctx, m->item)) {
		ctx->present++;
		return 0;
	}
	if (imap_store_meta_compute(m->data, m->len, &meta) < 0)
		memset(&meta, 0, sizeof(meta));
	memset(&ap, 0, sizeof(ap));
	ap.msg = m->data;
	ap.len = m->len;
	ap.meta = &meta;
	ap.flags = m->flags;
	ap.keywords = m->keywords;
	ap.internal_date = m->internal_date;
	st = imap_store_append_marked(ctx->db, ctx->account_id, ctx->target, &ap, &mark, &found,
				      &over_quota, &uidvalidity, &uid);
	imap_store_meta_free(&meta);
	if (st == DB_CONFLICT) {
		ctx->present++;
		return 0;
	}
	if (st != DB_OK)
		return import_db_fail(ctx, st, "cannot store a message");
	if (over_quota)
		return import_fail(ctx, OPS_FAIL, "the account is over its quota (folder %s): "
				   "raise it and run the import again", ctx->target);
	if (!found)
		return import_fail(ctx, OPS_FAIL, "the mailbox %s disappeared during the import",
				   ctx->target);
	ctx->copied++;
	return 0;
}

void import_skip(struct import_ctx *ctx, const char *item, const char *why)
{
	char safe[128];

	ctx->skipped++;
	fprintf(stderr, "posternctl: warning: %s: message %s skipped: %s\n", ctx->folder,
		str_printable(safe, sizeof(safe), item, strlen(item)), why);
}

void import_folder_end(struct import_ctx *ctx)
{
	if (!ctx->in_folder)
		return;
	for (const char *s = ctx->folder; *s != '\0'; s++)
		fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, ctx->out);
	fprintf(ctx->out, "\t%s\t%lu\t%lu\t%lu\n", ctx->target, ctx->copied, ctx->present,
		ctx->skipped);
	import_seen_free(ctx);
	ctx->in_folder = false;
}

/* ---------- entry ---------- */

static int import_account(struct import_ctx *ctx, const char *address)
{
	char local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1];
	const char *p[2] = { local, domain };
	enum db_status st;
	PGresult *res;
	uint64_t id;

	if (!admin_address_check(address, false, local, domain, ctx->err))
		return import_fail(ctx, OPS_FAIL, "%s", ctx->err->msg);
	res = db_exec(ctx->db, STMT_ACCOUNT_BY_ADDRESS, 2, p, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		return import_db_fail(ctx, st, "cannot look up the account");
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		return import_fail(ctx, OPS_FAIL, "account %s does not exist; add it first with "
				   "posternctl user add", address);
	}
	str_lcpy(ctx->acc, PQgetvalue(res, 0, 0), sizeof(ctx->acc));
	PQclear(res);
	if (strnum_parse(ctx->acc, INT64_MAX, &id) < 0)
		return import_fail(ctx, OPS_FAIL, "bad account id %s", ctx->acc);
	ctx->account_id = (int64_t)id;
	return 0;
}

enum ops_status ops_import(struct db *db, const struct ops_import_req *req, FILE *out,
			   struct admin_err *err)
{
	struct import_ctx ctx = { .db = db, .out = out, .err = err, .status = OPS_OK };
	char real[PATH_MAX];
	int rc;

	if (import_account(&ctx, req->to) < 0)
		return ctx.status;
	if (req->kind == OPS_IMPORT_IMAP) {
		/* not the port: 993 and 143 reach the same mailboxes */
		rc = str_fmt(ctx.source, sizeof(ctx.source), "imap://%s@%s", req->user, req->host);
	} else {
		if (realpath(req->path, real) == NULL) {
			import_fail(&ctx, OPS_FAIL, "cannot open %s: %s", req->path, strerror(errno));
			return ctx.status;
		}
		rc = str_fmt(ctx.source, sizeof(ctx.source), "%s:%s",
			     req->kind == OPS_IMPORT_MBOX ? "mbox" : "maildir", real);
	}
	if (rc < 0) {
		import_fail(&ctx, OPS_FAIL, "the source name is too long");
		return ctx.status;
	}
	switch (req->kind) {
	case OPS_IMPORT_MAILDIR: rc = import_maildir(&ctx, real); break;
	case OPS_IMPORT_MBOX: rc = import_mbox(&ctx, real); break;
	default: rc = import_imap(&ctx, req); break;
	}
	import_folder_end(&ctx);
	import_seen_free(&ctx);
	if (rc < 0 && ctx.status == OPS_OK)
		import_fail(&ctx, OPS_FAIL, "the import failed");
	return ctx.status;
}
