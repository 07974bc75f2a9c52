/* cmd_store.c - STORE (RFC 3501 6.4.6), COPY / MOVE with COPYUID (RFC 4315,
 * RFC 6851) and SEARCH (RFC 3501 6.4.4), with their UID forms. STORE
 * changes flags and keywords in one statement that bumps MODSEQ and
 * notifies (UNCHANGEDSINCE and [MODIFIED]: RFC 7162 3.1.3); COPY/MOVE run in one transaction with UIDs from the mailbox
 * row. SEARCH evaluates flags, sizes, dates, sets and NOT/OR in the worker
 * over the mailbox's rows; text keys are answered by SQL.
 * XXX: SENT* dates, RFC 2047 decoding in header search, ESEARCH, SEARCHRES,
 * a text index (the scan is ILIKE-like over the raw octets). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/session.h"
#include "lib/mem.h"
#include "lib/strnum.h"
#include "mail/mime.h"

/* ---------- STORE ---------- */

struct store_job {
	struct imap_job j;
	char *uids;
	char op;
	int flags;
	char *keywords;
	bool silent;
	bool uid_cmd;
	bool condstore;		/* MODSEQ in the FETCH responses (RFC 7162 3.1.3) */
	int64_t unchanged_since;	/* -1: unconditional STORE */
	struct imap_store_flags *res;
	size_t n_res;
	uint32_t *modified;	/* UIDs that failed UNCHANGEDSINCE */
	size_t n_modified;
};

static void store_cleanup(struct imap_job *jj)
{
	struct store_job *sj = (struct store_job *)jj;

	free(sj->uids);
	free(sj->keywords);
	imap_store_flags_free(sj->res, sj->n_res);
	free(sj->modified);
}

static void store_work(struct imap_job *jj, struct db *db)
{
	struct store_job *sj = (struct store_job *)jj;

	if (sj->unchanged_since >= 0)
		jj->st = imap_store_set_flags_unchanged(db, jj->mailbox_id, sj->uids, sj->op,
							sj->flags, sj->keywords, sj->unchanged_since,
							&sj->res, &sj->n_res, &sj->modified,
							&sj->n_modified);
	else
		jj->st = imap_store_set_flags(db, jj->mailbox_id, sj->uids, sj->op, sj->flags,
					      sj->keywords, &sj->res, &sj->n_res);
	if (jj->st == DB_OK && sj->n_res > 0) {
		jj->skip = xcalloc(sj->n_res, sizeof(uint32_t));
		for (size_t i = 0; i < sj->n_res; i++)
			jj->skip[i] = sj->res[i].uid;
		jj->n_skip = sj->n_res;
	}
}

static void store_finish(struct imap_session *s, struct imap_job *jj)
{
	struct store_job *sj = (struct store_job *)jj;

	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	for (size_t i = 0; i < sj->n_res && (!sj->silent || sj->condstore); i++) {
		uint32_t seq = imap_view_seq(s->sel.uids, s->sel.n, sj->res[i].uid);
		struct buf b;

		if (seq == 0)
			continue;
		buf_init(&b, 64 * 1024);
		buf_printf(&b, "* %u FETCH (", seq);
		if (!sj->silent)
			imap_flags_write(&b, sj->res[i].flags, sj->res[i].keywords);
		if (sj->uid_cmd)
			buf_printf(&b, "%sUID %u", sj->silent ? "" : " ", sj->res[i].uid);
		if (sj->condstore)
			buf_printf(&b, "%sMODSEQ (%lld)", sj->silent && !sj->uid_cmd ? "" : " ",
				   (long long)sj->res[i].modseq);
		buf_append_str(&b, ")\r\n");
		imap_send_raw(s, buf_data(&b), buf_len(&b));
		buf_free(&b);
	}
	if (sj->n_modified > 0) {
		/* RFC 7162 3.1.3: [MODIFIED set], UIDs for UID STORE */
		struct imap_seqset *set = imap_seqset_create();
		struct buf b;

		for (size_t i = 0; i < sj->n_modified; i++) {
			uint32_t n = sj->uid_cmd ? sj->modified[i]
						 : imap_view_seq(s->sel.uids, s->sel.n,
								 sj->modified[i]);

			if (n > 0)
				imap_seqset_add(set, n, n);
		}
		imap_seqset_resolve(set, 0);
		buf_init(&b, 1024 * 1024);
		imap_seqset_write(set, &b);
		imap_seqset_free(&set);
		if (buf_len(&b) > 0) {
			imap_tagged(s, "OK", "[MODIFIED %.*s] Conditional STORE failed",
				    (int)buf_len(&b), (const char *)buf_data(&b));
			buf_free(&b);
			return;
		}
		buf_free(&b);
	}
	imap_tagged(s, "OK", "STORE completed");
}

/* STORE modifiers (RFC 4466 2.5): (UNCHANGEDSINCE modseq). Returns the
 * number of arguments used (0 or 1), or -1 after answering BAD. */
static int store_modifiers(struct imap_session *s, const struct imap_arg *m, int64_t *since_r)
{
	uint64_t v;

	*since_r = -1;
	if (m->type != IMAP_ARG_LIST)
		return 0;
	if (m->list_count != 2 || !imap_arg_atom_is(&m->list[0], "UNCHANGEDSINCE") ||
	    imap_arg_u64(&m->list[1], INT64_MAX, &v) < 0) {
		imap_error(s, "BAD", "STORE set [(UNCHANGEDSINCE modseq)] item value");
		return -1;
	}
	*since_r = (int64_t)v;
	s->condstore = true;	/* RFC 7162 3.1 */
	return 1;
}

void imap_cmd_store(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		    const struct imap_arg *args)
{
	const struct imap_arg *item = &args[1];
	int64_t since = -1;
	int used;
	struct imap_arg list;
	struct store_job *sj;
	const char *err = NULL, *name;
	uint32_t *uids;
	size_t n;
	char op = '=';
	int flags;
	char *keywords;
	unsigned count = 0;

	(void)cmd;
	if (s->sel.readonly) {
		imap_error(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if ((used = store_modifiers(s, item, &since)) < 0)
		return;
	item += used;
	if (item->type != IMAP_ARG_ATOM) {
		imap_error(s, "BAD", "Invalid STORE item");
		return;
	}
	name = item->str;
	if (name[0] == '+' || name[0] == '-')
		op = *name++;
	if (strcasecmp(name, "FLAGS") != 0 && strcasecmp(name, "FLAGS.SILENT") != 0) {
		imap_error(s, "BAD", "Invalid STORE item");
		return;
	}
	while (item[1 + count].type != IMAP_ARG_EOL)
		count++;
	if (count == 0) {
		imap_error(s, "BAD", "Missing flags");
		return;
	}
	if (item[1].type == IMAP_ARG_LIST && count == 1) {
		list = item[1];
	} else {
		memset(&list, 0, sizeof(list));
		list.type = IMAP_ARG_LIST;
		list.list = &item[1];
		list.list_count = count;
	}
	if (imap_flags_parse(&list, &flags, &keywords, &err) < 0) {
		imap_error(s, "BAD", "%s", err);
		return;
	}
	if (imap_seqset_uids(s, &args[0], uid, &uids, &n) < 0) {
		free(keywords);
		return;
	}
	if (n == 0) {
		free(keywords);
		free(uids);
		imap_tagged(s, "OK", "STORE completed");
		return;
	}
	sj = xcalloc(1, sizeof(*sj));
	sj->j.work = store_work;
	sj->j.finish = store_finish;
	sj->j.cleanup = store_cleanup;
	sj->uids = db_array_u32(uids, n);
	free(uids);
	sj->op = op;
	sj->flags = flags;
	sj->keywords = keywords;
	sj->silent = strcasecmp(name, "FLAGS.SILENT") == 0;
	sj->uid_cmd = uid;
	sj->unchanged_since = since;
	sj->condstore = s->condstore;
	imap_job_submit(s, &sj->j);
}

/* ---------- COPY / MOVE ---------- */

struct copy_job {
	struct imap_job j;
	char *uids;
	char *dest;
	bool move;
	bool found, over_quota;
	struct imap_store_copy res;
};

static void copy_cleanup(struct imap_job *jj)
{
	struct copy_job *cj = (struct copy_job *)jj;

	free(cj->uids);
	free(cj->dest);
	imap_store_copy_free(&cj->res);
}

static void copy_work(struct imap_job *jj, struct db *db)
{
	struct copy_job *cj = (struct copy_job *)jj;

	jj->st = imap_store_copy(db, jj->account_id, jj->mailbox_id, cj->uids, cj->dest, cj->move,
				 &cj->found, &cj->over_quota, &cj->res);
}

static void copy_finish(struct imap_session *s, struct imap_job *jj)
{
	struct copy_job *cj = (struct copy_job *)jj;
	struct imap_seqset *src, *dst;
	struct buf a, b;

	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	if (!cj->found) {
		imap_error(s, "NO", "[TRYCREATE] No such mailbox");
		return;
	}
	if (cj->over_quota) {
		imap_tagged(s, "NO", "[OVERQUOTA] Quota exceeded");
		return;
	}
	if (cj->res.n == 0) {
		imap_tagged(s, "OK", "%s completed", cj->move ? "MOVE" : "COPY");
		return;
	}
	src = imap_seqset_create();
	dst = imap_seqset_create();
	/* Source and new UIDs pair in order; both ascend, so the sets keep
	 * the pairing (RFC 4315 section 3). */
	for (size_t i = 0; i < cj->res.n; i++) {
		imap_seqset_add(src, cj->res.src[i], cj->res.src[i]);
		imap_seqset_add(dst, cj->res.dst[i], cj->res.dst[i]);
	}
	imap_seqset_resolve(src, 0);
	imap_seqset_resolve(dst, 0);
	buf_init(&a, 1024 * 1024);
	buf_init(&b, 1024 * 1024);
	imap_seqset_write(src, &a);
	imap_seqset_write(dst, &b);
	if (cj->move) {
		imap_send(s, "* OK [COPYUID %lld %.*s %.*s] Moved", (long long)cj->res.dest_uidvalidity,
			  (int)buf_len(&a), (const char *)buf_data(&a), (int)buf_len(&b),
			  (const char *)buf_data(&b));
		imap_view_expunge_many(s, cj->res.src, cj->res.n);
		imap_tagged(s, "OK", "MOVE completed");
	} else {
		imap_tagged(s, "OK", "[COPYUID %lld %.*s %.*s] COPY completed",
			    (long long)cj->res.dest_uidvalidity, (int)buf_len(&a),
			    (const char *)buf_data(&a), (int)buf_len(&b), (const char *)buf_data(&b));
	}
	buf_free(&a);
	buf_free(&b);
	imap_seqset_free(&src);
	imap_seqset_free(&dst);
}

void imap_cmd_copy(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		   const struct imap_arg *args, bool move)
{
	struct copy_job *cj;
	uint32_t *uids;
	size_t n;
	char *dest;

	(void)cmd;
	if (move && s->sel.readonly) {
		imap_error(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (args[2].type != IMAP_ARG_EOL) {
		imap_error(s, "BAD", "Too many arguments");
		return;
	}
	if (imap_seqset_uids(s, &args[0], uid, &uids, &n) < 0)
		return;
	if ((dest = imap_mailbox_arg(s, &args[1])) == NULL) {
		free(uids);
		return;
	}
	if (n == 0) {
		free(uids);
		free(dest);
		imap_tagged(s, "OK", "%s completed", move ? "MOVE" : "COPY");
		return;
	}
	cj = xcalloc(1, sizeof(*cj));
	cj->j.work = copy_work;
	cj->j.finish = copy_finish;
	cj->j.cleanup = copy_cleanup;
	/* MOVE reports its own EXPUNGEs after the COPYUID (RFC 6851 4.3). */
	cj->j.allow_expunge = !move;
	cj->uids = db_array_u32(uids, n);
	free(uids);
	cj->dest = dest;
	cj->move = move;
	imap_job_submit(s, &cj->j);
}

/* ---------- SEARCH ---------- */

enum sk_kind {
	SK_ALL,
	SK_NONE,
	SK_FLAG,
	SK_KEYWORD,
	SK_LARGER,
	SK_SMALLER,
	SK_BEFORE,
	SK_ON,
	SK_SINCE,
	SK_SET,
	SK_TEXT,
	SK_HEADER,
	SK_NOT,
	SK_OR,
	SK_AND,
	SK_MODSEQ,		/* RFC 7162 3.1.5 */
};

struct skey {
	enum sk_kind kind;
	int bit;
	bool want;
	char *str;		/* keyword, needle */
	char *field;		/* HEADER field */
	int where;		/* TEXT: 0 text, 1 body */
	int64_t num;		/* size or day number */
	uint32_t *set;		/* SET: UIDs ascending; TEXT: matches (worker) */
	size_t n_set;
	int a, b;		/* NOT: a; OR: a, b */
	int *kids;		/* AND */
	size_t n_kids;
};

struct search_job {
	struct imap_job j;
	struct skey *keys;
	size_t n_keys;
	int root;
	bool uid_cmd;
	bool modseq;		/* a MODSEQ key: "(MODSEQ n)" after the results */
	struct buf out;
	/* worker */
	uint32_t *h_uids;
	char **h_text;
	size_t *h_len;
	size_t n_h;
};

static void search_cleanup(struct imap_job *jj)
{
	struct search_job *sj = (struct search_job *)jj;

	for (size_t i = 0; i < sj->n_keys; i++) {
		free(sj->keys[i].str);
		free(sj->keys[i].field);
		free(sj->keys[i].set);
		free(sj->keys[i].kids);
	}
	free(sj->keys);
	for (size_t i = 0; i < sj->n_h; i++)
		free(sj->h_text[i]);
	free(sj->h_text);
	free(sj->h_uids);
	free(sj->h_len);
	buf_free(&sj->out);
}

static bool ci_contains(const char *hay, size_t hlen, const char *needle)
{
	size_t nlen = strlen(needle);

	if (nlen == 0)
		return true;
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (strncasecmp(hay + i, needle, nlen) == 0)
			return true;
	return false;
}

static bool keyword_has(const char *kws, const char *kw)
{
	size_t len = strlen(kw);

	while (*kws != '\0') {
		const char *end = strchr(kws, ' ');
		size_t l = end ? (size_t)(end - kws) : strlen(kws);

		if (l == len && strncasecmp(kws, kw, len) == 0)
			return true;
		kws += l;
		while (*kws == ' ')
			kws++;
	}
	return false;
}

static bool header_match(const struct search_job *sj, const struct skey *k, uint32_t uid)
{
	uint32_t idx = imap_view_seq(sj->h_uids, sj->n_h, uid);
	const unsigned char *h;
	size_t pos = 0, end, no, nl, vo, vl;

	if (idx == 0)
		return false;
	h = (const unsigned char *)sj->h_text[idx - 1];
	end = sj->h_len[idx - 1];
	while (mime_header_next(h, &pos, end, &no, &nl, &vo, &vl) == 1)
		if (nl == strlen(k->field) && strncasecmp((const char *)h + no, k->field, nl) == 0 &&
		    ci_contains((const char *)h + vo, vl, k->str))
			return true;
	return false;
}

static bool eval(const struct search_job *sj, int idx, const struct imap_store_search_row *r)
{
	const struct skey *k = &sj->keys[idx];

	switch (k->kind) {
	case SK_ALL:
		return true;
	case SK_NONE:
		return false;
	case SK_FLAG:
		return ((r->flags & k->bit) != 0) == k->want;
	case SK_KEYWORD:
		return keyword_has(r->keywords, k->str) == k->want;
	case SK_LARGER:
		return r->size > k->num;
	case SK_SMALLER:
		return r->size < k->num;
	case SK_BEFORE:
		return r->internal_date / 86400 < k->num;
	case SK_ON:
		return r->internal_date / 86400 == k->num;
	case SK_SINCE:
		return r->internal_date / 86400 >= k->num;
	case SK_SET:
	case SK_TEXT:
		return imap_view_seq(k->set, k->n_set, r->uid) != 0;
	case SK_HEADER:
		return header_match(sj, k, r->uid);
	case SK_NOT:
		return !eval(sj, k->a, r);
	case SK_OR:
		return eval(sj, k->a, r) || eval(sj, k->b, r);
	case SK_AND:
		for (size_t i = 0; i < k->n_kids; i++)
			if (!eval(sj, k->kids[i], r))
				return false;
		return true;
	case SK_MODSEQ:
		return r->modseq >= k->num;
	}
	return false;
}

static void search_work(struct imap_job *jj, struct db *db)
{
	struct search_job *sj = (struct search_job *)jj;
	struct imap_store_search_row *rows = NULL;
	size_t n = 0;
	bool headers = false;
	int64_t max_modseq = 0;

	for (size_t i = 0; i < sj->n_keys && jj->st == DB_OK; i++) {
		struct skey *k = &sj->keys[i];

		if (k->kind == SK_TEXT)
			jj->st = imap_store_search_text(db, jj->mailbox_id, k->where, k->str, &k->set,
							&k->n_set);
		if (k->kind == SK_HEADER)
			headers = true;
	}
	if (jj->st == DB_OK && headers)
		jj->st = imap_store_headers(db, jj->mailbox_id, &sj->h_uids, &sj->h_text, &sj->h_len,
					    &sj->n_h);
	if (jj->st == DB_OK)
		jj->st = imap_store_search_rows(db, jj->mailbox_id, &rows, &n);
	if (jj->st != DB_OK)
		return;
	buf_append_str(&sj->out, "* SEARCH");
	for (size_t i = 0; i < n; i++) {
		uint32_t seq = imap_view_seq(jj->uids, jj->n_uids, rows[i].uid);

		if (seq == 0 || !eval(sj, sj->root, &rows[i]))
			continue;
		buf_printf(&sj->out, " %u", sj->uid_cmd ? rows[i].uid : seq);
		if (rows[i].modseq > max_modseq)
			max_modseq = rows[i].modseq;
	}
	if (sj->modseq && max_modseq > 0)
		buf_printf(&sj->out, " (MODSEQ %lld)", (long long)max_modseq);
	buf_append_str(&sj->out, "\r\n");
	imap_store_search_rows_free(rows, n);
}

/* XXX (imapb): after ENABLE IMAP4rev2 (s->rev2) the answer is ESEARCH
 * (RFC 9051 6.4.4); IMAP4rev2 is advertised once that is so. */
static void search_finish(struct imap_session *s, struct imap_job *jj)
{
	struct search_job *sj = (struct search_job *)jj;

	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	imap_send_raw(s, buf_data(&sj->out), buf_len(&sj->out));
	imap_tagged(s, "OK", "SEARCH completed");
}

/* --- parsing --- */

struct sparse {
	struct imap_session *s;
	struct search_job *sj;
	const char *error;
	bool answered;		/* an error reply was already sent */
};

static int new_key(struct sparse *p, enum sk_kind kind)
{
	struct search_job *sj = p->sj;

	if (sj->n_keys >= LIMIT_IMAP_SEARCH_KEYS) {
		p->error = "[LIMIT] Too many search keys";
		return -1;
	}
	sj->keys = xrealloc(sj->keys, (sj->n_keys + 1) * sizeof(*sj->keys));
	memset(&sj->keys[sj->n_keys], 0, sizeof(*sj->keys));
	sj->keys[sj->n_keys].kind = kind;
	return (int)sj->n_keys++;
}

static int parse_day(const struct imap_arg *a, int64_t *day_r)
{
	static const char *const mon[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	const char *s;
	size_t len;
	int d, y, n = 0;
	char m[4];
	struct tm tm;

	if (imap_arg_astring(a, &s, &len) < 0 || len < 10 || len > 11)
		return -1;
	if (sscanf(s, "%2d-%3c-%4d%n", &d, m, &y, &n) != 3 || (size_t)n != len)
		return -1;
	m[3] = '\0';
	memset(&tm, 0, sizeof(tm));
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (strcasecmp(m, mon[i]) == 0)
			tm.tm_mon = i;
	if (tm.tm_mon < 0 || d < 1 || d > 31 || y < 1900)
		return -1;
	tm.tm_mday = d;
	tm.tm_year = y - 1900;
	*day_r = (int64_t)timegm(&tm) / 86400;
	return 0;
}

/* A sequence-set key (message numbers, or UIDs after "UID"). */
static int set_key(struct sparse *p, const struct imap_arg *arg, bool uid)
{
	uint32_t *uids;
	size_t cnt;
	int idx;

	if (imap_seqset_uids(p->s, arg, uid, &uids, &cnt) < 0) {
		p->answered = true;
		return -1;
	}
	if ((idx = new_key(p, SK_SET)) < 0) {
		free(uids);
		return -1;
	}
	p->sj->keys[idx].set = uids;
	p->sj->keys[idx].n_set = cnt;
	return idx;
}

static int parse_key(struct sparse *p, const struct imap_arg *args, unsigned *i, unsigned n);

static char *astr_dup(const struct imap_arg *a)
{
	const char *s;
	size_t len;

	if (imap_arg_astring(a, &s, &len) < 0 || memchr(s, '\0', len) != NULL)
		return NULL;
	return xstrndup(s, len);
}

static int parse_and(struct sparse *p, const struct imap_arg *args, unsigned n)
{
	unsigned i = 0;
	int idx = new_key(p, SK_AND);

	if (idx < 0)
		return -1;
	while (i < n) {
		int k = parse_key(p, args, &i, n);
		struct skey *and = &p->sj->keys[idx];

		if (k < 0)
			return -1;
		and->kids = xrealloc(and->kids, (and->n_kids + 1) * sizeof(int));
		and->kids[and->n_kids++] = k;
	}
	return idx;
}

static int parse_key(struct sparse *p, const struct imap_arg *args, unsigned *i, unsigned n)
{
	static const struct {
		const char *name;
		int bit;
		bool want;
	} flags[] = {
		{ "ANSWERED", IMAP_FLAG_ANSWERED, true },  { "DELETED", IMAP_FLAG_DELETED, true },
		{ "DRAFT", IMAP_FLAG_DRAFT, true },	   { "FLAGGED", IMAP_FLAG_FLAGGED, true },
		{ "SEEN", IMAP_FLAG_SEEN, true },	   { "UNANSWERED", IMAP_FLAG_ANSWERED, false },
		{ "UNDELETED", IMAP_FLAG_DELETED, false }, { "UNDRAFT", IMAP_FLAG_DRAFT, false },
		{ "UNFLAGGED", IMAP_FLAG_FLAGGED, false }, { "UNSEEN", IMAP_FLAG_SEEN, false },
	};
	static const struct {
		const char *name;
		const char *field;	/* NULL: TEXT/BODY */
		int where;
	} texts[] = {
		{ "FROM", "From", 0 }, { "TO", "To", 0 },     { "CC", "Cc", 0 },
		{ "BCC", "Bcc", 0 },   { "SUBJECT", "Subject", 0 }, { "BODY", NULL, 1 },
		{ "TEXT", NULL, 0 },
	};
	const struct imap_arg *a = &args[*i];
	int idx;

	if (*i >= n) {
		p->error = "Missing search key";
		return -1;
	}
	(*i)++;
	if (a->type == IMAP_ARG_LIST)
		return parse_and(p, a->list, a->list_count);
	if (a->type != IMAP_ARG_ATOM) {
		p->error = "Invalid search key";
		return -1;
	}
	if (imap_arg_atom_is(a, "ALL") || imap_arg_atom_is(a, "OLD"))
		return new_key(p, SK_ALL);
	if (imap_arg_atom_is(a, "RECENT") || imap_arg_atom_is(a, "NEW"))
		return new_key(p, SK_NONE);
	for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
		if (imap_arg_atom_is(a, flags[k].name)) {
			if ((idx = new_key(p, SK_FLAG)) < 0)
				return -1;
			p->sj->keys[idx].bit = flags[k].bit;
			p->sj->keys[idx].want = flags[k].want;
			return idx;
		}
	if (imap_arg_atom_is(a, "NOT")) {
		int c;

		if ((idx = new_key(p, SK_NOT)) < 0 || (c = parse_key(p, args, i, n)) < 0)
			return -1;
		p->sj->keys[idx].a = c;
		return idx;
	}
	if (imap_arg_atom_is(a, "OR")) {
		int x, y;

		if ((idx = new_key(p, SK_OR)) < 0 || (x = parse_key(p, args, i, n)) < 0 ||
		    (y = parse_key(p, args, i, n)) < 0)
			return -1;
		p->sj->keys[idx].a = x;
		p->sj->keys[idx].b = y;
		return idx;
	}
	if (*i < n && (imap_arg_atom_is(a, "KEYWORD") || imap_arg_atom_is(a, "UNKEYWORD"))) {
		if ((idx = new_key(p, SK_KEYWORD)) < 0)
			return -1;
		p->sj->keys[idx].want = imap_arg_atom_is(a, "KEYWORD");
		if ((p->sj->keys[idx].str = astr_dup(&args[(*i)++])) == NULL) {
			p->error = "Invalid keyword";
			return -1;
		}
		return idx;
	}
	if (*i < n && (imap_arg_atom_is(a, "LARGER") || imap_arg_atom_is(a, "SMALLER"))) {
		uint64_t v;

		if (args[*i].type != IMAP_ARG_ATOM || strnum_parse(args[*i].str, INT64_MAX, &v) < 0) {
			p->error = "Invalid number";
			return -1;
		}
		(*i)++;
		if ((idx = new_key(p, imap_arg_atom_is(a, "LARGER") ? SK_LARGER : SK_SMALLER)) < 0)
			return -1;
		p->sj->keys[idx].num = (int64_t)v;
		return idx;
	}
	if (*i < n && (imap_arg_atom_is(a, "BEFORE") || imap_arg_atom_is(a, "ON") ||
		       imap_arg_atom_is(a, "SINCE"))) {
		int64_t day;

		if (parse_day(&args[(*i)++], &day) < 0) {
			p->error = "Invalid date";
			return -1;
		}
		if ((idx = new_key(p, imap_arg_atom_is(a, "BEFORE") ? SK_BEFORE
				      : imap_arg_atom_is(a, "ON")   ? SK_ON
								    : SK_SINCE)) < 0)
			return -1;
		p->sj->keys[idx].num = day;
		return idx;
	}
	if (*i + 1 < n && imap_arg_atom_is(a, "HEADER")) {
		char *f = astr_dup(&args[(*i)++]), *v = astr_dup(&args[(*i)++]);

		if (f == NULL || v == NULL || (idx = new_key(p, SK_HEADER)) < 0) {
			free(f);
			free(v);
			if (p->error == NULL)
				p->error = "Invalid HEADER key";
			return -1;
		}
		p->sj->keys[idx].field = f;
		p->sj->keys[idx].str = v;
		return idx;
	}
	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++)
		if (*i < n && imap_arg_atom_is(a, texts[k].name)) {
			char *v = astr_dup(&args[(*i)++]);

			if (v == NULL ||
			    (idx = new_key(p, texts[k].field ? SK_HEADER : SK_TEXT)) < 0) {
				free(v);
				if (p->error == NULL)
					p->error = "Invalid search string";
				return -1;
			}
			p->sj->keys[idx].str = v;
			p->sj->keys[idx].where = texts[k].where;
			if (texts[k].field != NULL)
				p->sj->keys[idx].field = xstrdup(texts[k].field);
			return idx;
		}
	if (*i < n && imap_arg_atom_is(a, "MODSEQ")) {
		/* MODSEQ [entry-name entry-type-req] value: the per-flag
		 * entries are answered with the message's own MODSEQ */
		uint64_t v;

		if (*i + 2 < n && args[*i].type == IMAP_ARG_STRING)
			*i += 2;
		if (*i >= n || imap_arg_u64(&args[*i], INT64_MAX, &v) < 0) {
			p->error = "Invalid MODSEQ key";
			return -1;
		}
		(*i)++;
		if ((idx = new_key(p, SK_MODSEQ)) < 0)
			return -1;
		p->sj->keys[idx].num = (int64_t)v;
		p->sj->modseq = true;
		p->s->condstore = true;
		return idx;
	}
	if (*i < n && imap_arg_atom_is(a, "UID"))
		return set_key(p, &args[(*i)++], true);
	if ((a->str[0] >= '0' && a->str[0] <= '9') || a->str[0] == '*' || a->str[0] == '$')
		return set_key(p, a, false);
	p->error = "Unknown or unsupported search key";
	return -1;
}

void imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		     const struct imap_arg *args)
{
	struct search_job *sj = xcalloc(1, sizeof(*sj));
	struct sparse p = { .s = s, .sj = sj };
	unsigned n = 0, start = 0;

	(void)cmd;
	while (args[n].type != IMAP_ARG_EOL)
		n++;
	if (n >= 2 && imap_arg_atom_is(&args[0], "CHARSET")) {
		if (!imap_arg_atom_is(&args[1], "UTF-8") && !imap_arg_atom_is(&args[1], "US-ASCII")) {
			free(sj);
			imap_error(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
			return;
		}
		start = 2;
	}
	sj->j.work = search_work;
	sj->j.finish = search_finish;
	sj->j.cleanup = search_cleanup;
	sj->uid_cmd = uid;
	buf_init(&sj->out, (size_t)LIMIT_IMAP_MESSAGES * 11 + 64);
	sj->root = parse_and(&p, args + start, n - start);
	if (sj->root < 0 || n == start) {
		if (!p.answered)
			imap_error(s, "BAD", "%s", p.error ? p.error : "Missing search key");
		imap_job_free(&sj->j);
		return;
	}
	if (s->sel.n > 0) {
		sj->j.uids = xmalloc(s->sel.n * sizeof(uint32_t));
		memcpy(sj->j.uids, s->sel.uids, s->sel.n * sizeof(uint32_t));
		sj->j.n_uids = s->sel.n;
	}
	imap_job_submit(s, &sj->j);
}
