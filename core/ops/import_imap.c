/* import_imap.c - posternctl import imap: copies every selectable folder of
 * another IMAP server (RFC 3501: LIST "" "*", EXAMINE, UID SEARCH ALL, UID
 * FETCH (UID FLAGS INTERNALDATE BODY.PEEK[]) in batches of
 * LIMIT_IMPORT_FETCH_BATCH). Folder names are decoded from modified UTF-7
 * and their hierarchy separator becomes "/". Each folder is resumable by
 * UIDVALIDITY + UID: UIDs copied before (import_seen) are not fetched again;
 * a new UIDVALIDITY on the source copies the folder again. EXAMINE and
 * BODY.PEEK leave the source untouched (no \Seen set, nothing expunged). */
#include "ops/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/limits.h"
#include "imap/mutf7.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "ops/imapc.h"

#define IMPORT_IMAP_FOLDERS 10000

struct imap_folder {
	char *raw;		/* as the server spells it (for EXAMINE) */
	char *name;		/* UTF-8 */
	char delim;
};

struct imap_list {
	struct imap_folder *v;
	size_t n;
};

static bool tok_is(const struct imapc_tok *t, const char *word)
{
	return t->type == IMAPC_ATOM && strlen(word) == t->len && strncasecmp(t->p, word, t->len) == 0;
}

/* "* LIST (\HasNoChildren) "/" name" */
static void imap_on_list(void *arg, const char *resp, size_t len)
{
	struct imap_list *l = arg;
	struct imapc_cursor cur = { resp, resp + len };
	struct imapc_tok t;
	char raw[LIMIT_IMAP_MAILBOX_NAME * 4 + 1], delim[4] = "";
	bool selectable = true;
	struct buf dec;

	t = imapc_next(&cur);		/* * */
	t = imapc_next(&cur);
	if (!tok_is(&t, "LIST") || l->n == IMPORT_IMAP_FOLDERS)
		return;
	t = imapc_next(&cur);
	if (t.type != IMAPC_LPAREN)
		return;
	while ((t = imapc_next(&cur)).type == IMAPC_ATOM)
		if (tok_is(&t, "\\Noselect") || tok_is(&t, "\\NonExistent"))
			selectable = false;
	if (t.type != IMAPC_RPAREN)
		return;
	t = imapc_next(&cur);
	if (t.type == IMAPC_STRING && imapc_tok_copy(&t, delim, sizeof(delim)) < 0)
		return;
	t = imapc_next(&cur);
	if (!selectable || imapc_tok_copy(&t, raw, sizeof(raw)) < 0)
		return;
	buf_init(&dec, LIMIT_IMAP_MAILBOX_NAME + 1);
	if (imap_mutf7_decode(raw, strlen(raw), &dec) < 0 || buf_append(&dec, "", 1) < 0) {
		fprintf(stderr, "posternctl: warning: folder %s skipped: not valid modified "
			"UTF-7\n", raw);
		buf_free(&dec);
		return;
	}
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n].raw = xstrdup(raw);
	l->v[l->n].name = xstrdup((const char *)buf_data(&dec));
	l->v[l->n].delim = strlen(delim) == 1 ? delim[0] : '\0';
	l->n++;
	buf_free(&dec);
}

/* "* OK [UIDVALIDITY 123] ..." */
static void imap_on_examine(void *arg, const char *resp, size_t len)
{
	int64_t *uidvalidity = arg;
	const char *k = memmem(resp, len, "[UIDVALIDITY ", 13);
	uint64_t v;

	if (k == NULL)
		return;
	k += 13;
	size_t n = strspn(k, "0123456789");
	if (strnum_u64(k, n, UINT32_MAX, &v) == 0)
		*uidvalidity = (int64_t)v;
}

struct imap_uids {
	uint32_t *v;
	size_t n, cap;
};

/* "* SEARCH 1 2 3" */
static void imap_on_search(void *arg, const char *resp, size_t len)
{
	struct imap_uids *u = arg;
	struct imapc_cursor cur = { resp, resp + len };
	struct imapc_tok t = imapc_next(&cur);

	t = imapc_next(&cur);
	if (!tok_is(&t, "SEARCH"))
		return;
	while ((t = imapc_next(&cur)).type == IMAPC_ATOM) {
		uint64_t v;
		if (strnum_u64(t.p, t.len, UINT32_MAX, &v) < 0)
			continue;
		if (u->n == u->cap) {
			u->cap = u->cap ? u->cap * 2 : 256;
			u->v = xrealloc(u->v, u->cap * sizeof(*u->v));
		}
		u->v[u->n++] = (uint32_t)v;
	}
}

/* "04-Mar-2021 05:06:07 +0000" -> unix time, 0 when malformed. */
static int64_t imap_parse_date(const char *s)
{
	struct tm tm;
	const char *rest;
	int sign, hh, mm;

	while (*s == ' ')
		s++;
	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%d-%b-%Y %H:%M:%S", &tm);
	if (rest == NULL)
		return 0;
	while (*rest == ' ')
		rest++;
	if ((rest[0] != '+' && rest[0] != '-') || strlen(rest) != 5 ||
	    strspn(rest + 1, "0123456789") != 4)
		return 0;
	sign = rest[0] == '-' ? -1 : 1;
	hh = (rest[1] - '0') * 10 + (rest[2] - '0');
	mm = (rest[3] - '0') * 10 + (rest[4] - '0');
	return (int64_t)timegm(&tm) - sign * (int64_t)(hh * 3600 + mm * 60);
}

struct imap_fetch_ctx {
	struct import_ctx *ctx;
	bool stop;
};

/* "* 3 FETCH (UID 5 FLAGS (\Seen) INTERNALDATE "..." BODY[] {n}...)" */
static void imap_on_fetch(void *arg, const char *resp, size_t len)
{
	struct imap_fetch_ctx *f = arg;
	struct imapc_cursor cur = { resp, resp + len };
	struct imapc_tok t = imapc_next(&cur), body = { IMAPC_END, NULL, 0 };
	struct import_keywords kw;
	char item[16] = "", date[40] = "";
	int flags = 0;

	if (f->stop)
		return;
	t = imapc_next(&cur);		/* sequence number */
	t = imapc_next(&cur);
	if (!tok_is(&t, "FETCH") || imapc_next(&cur).type != IMAPC_LPAREN)
		return;
	import_keywords_init(&kw);
	for (;;) {
		struct imapc_tok key = imapc_next(&cur), v;
		if (key.type != IMAPC_ATOM)
			break;
		v = imapc_next(&cur);
		if (tok_is(&key, "UID")) {
			(void)imapc_tok_copy(&v, item, sizeof(item));
		} else if (tok_is(&key, "FLAGS") && v.type == IMAPC_LPAREN) {
			while ((t = imapc_next(&cur)).type == IMAPC_ATOM)
				import_flag_parse(t.p, t.len, &flags, &kw);
		} else if (tok_is(&key, "INTERNALDATE")) {
			(void)imapc_tok_copy(&v, date, sizeof(date));
		} else if (tok_is(&key, "BODY[]")) {
			body = v;
		} else {
			imapc_skip(&cur, v);
		}
	}
	if (item[0] == '\0')
		return;
	if (body.type != IMAPC_LITERAL && body.type != IMAPC_STRING) {
		import_skip(f->ctx, item, "the server sent no body");
		return;
	}
	struct import_msg m = { .item = item, .data = (const unsigned char *)body.p,
				.len = body.len, .flags = flags, .keywords = kw.lit,
				.internal_date = imap_parse_date(date) };
	if (import_message(f->ctx, &m) < 0)
		f->stop = true;
}

/* XXX: a message over LIMIT_IMPORT_RESPONSE ends the import (its response
 * cannot be read past) instead of being skipped: fetching RFC822.SIZE first
 * would let it be skipped like the local sources do. */
static int imap_folder(struct import_ctx *ctx, struct imapc *c, const struct imap_folder *fo)
{
	char err[256], target[LIMIT_IMAP_MAILBOX_NAME + 1];
	int64_t uidvalidity = 0;
	struct imap_uids uids = { NULL, 0, 0 };
	struct imap_fetch_ctx f = { ctx, false };
	struct buf cmd;
	int rc = 0;

	if (import_target_name(fo->name, fo->delim, target, sizeof(target)) < 0) {
		fprintf(stderr, "posternctl: warning: folder %s skipped: not a valid mailbox name\n",
			fo->raw);
		return 0;
	}
	buf_init(&cmd, sizeof(target) * 2 + 64 + LIMIT_IMPORT_FETCH_BATCH * 12);
	if (buf_append_str(&cmd, "EXAMINE ") < 0 || imapc_quote(&cmd, fo->raw) < 0 ||
	    buf_append(&cmd, "", 1) < 0 ||
	    imapc_command(c, (const char *)buf_data(&cmd), imap_on_examine, &uidvalidity, err,
			  sizeof(err)) < 0) {
		buf_free(&cmd);
		return import_fail(ctx, OPS_FAIL, "%s: EXAMINE failed: %s", fo->raw, err);
	}
	if (import_folder_begin(ctx, fo->name, target, uidvalidity) < 0) {
		buf_free(&cmd);
		return -1;
	}
	if (imapc_command(c, "UID SEARCH ALL", imap_on_search, &uids, err, sizeof(err)) < 0) {
		buf_free(&cmd);
		free(uids.v);
		return import_fail(ctx, OPS_FAIL, "%s: UID SEARCH failed: %s", fo->raw, err);
	}
	for (size_t i = 0; i < uids.n && rc == 0;) {
		size_t batch = 0;
		buf_reset(&cmd);
		(void)buf_append_str(&cmd, "UID FETCH ");
		for (; i < uids.n && batch < LIMIT_IMPORT_FETCH_BATCH; i++) {
			char item[16];
			(void)str_fmt(item, sizeof(item), "%u", uids.v[i]);
			if (import_seen(ctx, item)) {
				struct import_msg m = { .item = item };
				rc = import_message(ctx, &m);	/* counted as already there */
				continue;
			}
			(void)buf_printf(&cmd, "%s%s", batch > 0 ? "," : "", item);
			batch++;
		}
		if (batch == 0 || rc < 0)
			continue;
		if (buf_append_str(&cmd, " (UID FLAGS INTERNALDATE BODY.PEEK[])") < 0 ||
		    buf_append(&cmd, "", 1) < 0)
			rc = import_fail(ctx, OPS_FAIL, "command buffer too small");
		else if (imapc_command(c, (const char *)buf_data(&cmd), imap_on_fetch, &f, err,
				       sizeof(err)) < 0)
			rc = import_fail(ctx, OPS_FAIL, "%s: UID FETCH failed: %s", fo->raw, err);
		else if (f.stop)
			rc = -1;
	}
	buf_free(&cmd);
	free(uids.v);
	return rc;
}

static int imap_folder_cmp(const void *a, const void *b)
{
	const struct imap_folder *x = a, *y = b;
	bool xi = strcasecmp(x->name, "INBOX") == 0, yi = strcasecmp(y->name, "INBOX") == 0;

	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

int import_imap(struct import_ctx *ctx, const struct ops_import_req *req)
{
	enum imapc_tls tls = IMAPC_TLS_IMPLICIT;
	struct imap_list list = { NULL, 0 };
	struct imapc *c;
	char err[256];
	int rc = 0;

	if (req->tls != NULL && strcmp(req->tls, "starttls") == 0)
		tls = IMAPC_TLS_STARTTLS;
	else if (req->tls != NULL && strcmp(req->tls, "none") == 0)
		tls = IMAPC_TLS_NONE;
	c = imapc_connect(req->host, req->port, tls, req->ca_file, err, sizeof(err));
	if (c == NULL)
		return import_fail(ctx, OPS_UNAVAILABLE, "%s port %s: %s", req->host, req->port, err);
	if (imapc_login(c, req->user, req->password, err, sizeof(err)) < 0) {
		imapc_free(&c);
		return import_fail(ctx, OPS_FAIL, "%s", err);
	}
	if (imapc_command(c, "LIST \"\" \"*\"", imap_on_list, &list, err, sizeof(err)) < 0)
		rc = import_fail(ctx, OPS_FAIL, "LIST failed: %s", err);
	if (list.n > 0)
		qsort(list.v, list.n, sizeof(*list.v), imap_folder_cmp);
	for (size_t i = 0; i < list.n && rc == 0; i++)
		rc = imap_folder(ctx, c, &list.v[i]);
	if (rc == 0)
		(void)imapc_command(c, "LOGOUT", NULL, NULL, err, sizeof(err));
	for (size_t i = 0; i < list.n; i++) {
		free(list.v[i].raw);
		free(list.v[i].name);
	}
	free(list.v);
	imapc_free(&c);
	return rc;
}
