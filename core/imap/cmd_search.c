/* cmd_search.c - SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4), ESEARCH (RFC
 * 4731), SEARCHRES (RFC 5182), SORT and THREAD (RFC 5256, DISPLAYFROM /
 * DISPLAYTO of RFC 5957) with their UID forms. The loop parses the keys
 * into a tree (at most LIMIT_IMAP_SEARCH_KEYS nodes); the worker first
 * indexes, in batches, the messages of the mailbox that the search index
 * lacks (decoded headers and text parts, sort keys: sql/006_search.sql),
 * answers each text key with one trigram-indexed query, then evaluates
 * flags, sizes, dates and sets over the mailbox's rows and renders the
 * reply. RECENT, NEW and OLD are the session's \Recent set (recent.c) taken
 * when the command is parsed; IMAP4rev2 has no such keys (RFC 9051). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db/search_store.h"
#include "imap/session.h"
#include "imap/sort.h"
#include "lib/mem.h"
#include "lib/strnum.h"
#include "mail/mime.h"
#include "mail/mime_decode.h"
#include "mail/mime_private.h"

enum sk_kind {
	SK_ALL,
	SK_FLAG,
	SK_KEYWORD,
	SK_LARGER,
	SK_SMALLER,
	SK_BEFORE,
	SK_ON,
	SK_SINCE,
	SK_SENTBEFORE,
	SK_SENTON,
	SK_SENTSINCE,
	SK_SET,		/* a set of UIDs (sequence set, UID set, $, text matches) */
	SK_TEXT,	/* the worker turns it into a set */
	SK_NOT,
	SK_OR,
	SK_AND,
	SK_MODSEQ,	/* RFC 7162 3.1.5 */
};

struct skey {
	enum sk_kind kind;
	int bit;
	bool want;
	char *str;		/* keyword, needle */
	char *field;		/* header field (SK_TEXT, where FIELD) */
	enum search_store_where where;
	int64_t num;		/* size or day number */
	uint32_t *set;		/* UIDs ascending */
	size_t n_set;
	int a, b;		/* NOT: a; OR: a, b */
	int *kids;		/* AND */
	size_t n_kids;
};

/* RFC 4731 RETURN options */
#define RET_MIN (1u << 0)
#define RET_MAX (1u << 1)
#define RET_ALL (1u << 2)
#define RET_COUNT (1u << 3)
#define RET_SAVE (1u << 4)

enum search_kind { KIND_SEARCH, KIND_SORT, KIND_THREAD };

/* SORT criteria; REVERSE is a bit. */
enum sort_key {
	SORT_ARRIVAL,
	SORT_CC,
	SORT_DATE,
	SORT_FROM,
	SORT_SIZE,
	SORT_SUBJECT,
	SORT_TO,
	SORT_DISPLAYFROM,
	SORT_DISPLAYTO,
};
#define SORT_REVERSE 0x100
#define SORT_MAX_KEYS 16

struct search_job {
	struct imap_job j;
	enum search_kind kind;
	struct skey *keys;
	size_t n_keys;
	int root;
	bool uid_cmd;
	bool esearch;		/* answer "* ESEARCH" */
	unsigned ret;		/* RET_* */
	char *tag;
	int sort[SORT_MAX_KEYS];
	size_t n_sort;
	bool references;	/* THREAD=REFERENCES (else ORDEREDSUBJECT) */
	struct buf out;
	uint32_t *saved;	/* RET_SAVE: the UIDs to save */
	size_t n_saved;
	bool modseq;		/* a MODSEQ key: the highest MODSEQ of the hits follows */
	int64_t max_modseq;
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
	free(sj->tag);
	free(sj->saved);
	buf_free(&sj->out);
}

/* ---------- the worker ---------- */

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

static int64_t sent_day(const struct search_store_row *r)
{
	/* no Date: header: the internal date stands in (as in Dovecot) */
	return r->has_sent ? r->sent_day : r->internal_date / 86400;
}

static bool eval(const struct search_job *sj, int idx, const struct search_store_row *r)
{
	const struct skey *k = &sj->keys[idx];

	switch (k->kind) {
	case SK_ALL:
		return true;
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
	case SK_SENTBEFORE:
		return sent_day(r) < k->num;
	case SK_SENTON:
		return sent_day(r) == k->num;
	case SK_SENTSINCE:
		return sent_day(r) >= k->num;
	case SK_SET:
	case SK_TEXT:
		return imap_view_seq(k->set, k->n_set, r->uid) != 0;
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

/* A header value of the message decoded into a fresh buf. */
static void header_value(const unsigned char *msg, const struct mime_part *p, const char *name,
			 struct buf *out)
{
	size_t vo, vl;

	if (mime_header_find(msg, p->hdr_off, p->hdr_len, name, &vo, &vl) == 1)
		mime_decode_header(msg + vo, vl, out);
}

/* The text of b as a string, without a UTF-8 sequence cut by the cap. */
static char *text_dup(const struct buf *b)
{
	const unsigned char *d = buf_data(b);
	size_t n = buf_len(b), k = n;

	while (k > 0 && n - k < 4 && (d[k - 1] & 0xc0) == 0x80)
		k--;
	if (k > 0 && d[k - 1] >= 0xc0) {
		size_t need = d[k - 1] >= 0xf0 ? 4 : d[k - 1] >= 0xe0 ? 3 : 2;

		if (n - (k - 1) < need)
			n = k - 1;
	}
	return xstrndup((const char *)d, n);
}

/* Builds one index row from a message (prefix) into e; strs receives the
 * 10 strings e points to (malloc'd). */
static void index_entry(const struct search_store_blob *b, struct search_store_entry *e,
			char **strs)
{
	struct mime_tree *tree = mime_parse(b->body, b->len);
	const struct mime_part *root = &tree->parts[0];
	struct buf bufs[11], v;
	size_t vo, vl;

	buf_init(&bufs[0], LIMIT_SEARCH_HEADER_TEXT);
	buf_init(&bufs[1], LIMIT_SEARCH_BODY_TEXT);
	for (int i = 2; i < 11; i++)
		buf_init(&bufs[i], 4096);
	mime_search_text(tree, b->body, b->len, &bufs[0], &bufs[1]);
	memset(e, 0, sizeof(*e));
	e->blob_id = b->id;
	if (mime_header_find(b->body, root->hdr_off, root->hdr_len, "Date", &vo, &vl) == 1 &&
	    mime_date_parse(b->body + vo, vl, &e->sent_at, &e->sent_day) == 0)
		e->has_sent = true;
	buf_init(&v, 4096);
	header_value(b->body, root, "Subject", &v);
	buf_append(&v, "", 1);
	imap_sort_base_subject((const char *)buf_data(&v), &bufs[2], &e->reply);
	buf_reset(&v);
	header_value(b->body, root, "From", &v);
	buf_append(&v, "", 1);
	imap_sort_addr_keys((const char *)buf_data(&v), &bufs[3], &bufs[6]);
	buf_reset(&v);
	header_value(b->body, root, "To", &v);
	buf_append(&v, "", 1);
	imap_sort_addr_keys((const char *)buf_data(&v), &bufs[4], &bufs[7]);
	buf_reset(&v);
	header_value(b->body, root, "Cc", &v);
	buf_append(&v, "", 1);
	{
		struct buf ignore;

		buf_init(&ignore, 4096);
		imap_sort_addr_keys((const char *)buf_data(&v), &bufs[5], &ignore);
		buf_free(&ignore);
	}
	buf_reset(&v);
	header_value(b->body, root, "Message-ID", &v);
	buf_append(&v, "", 1);
	imap_sort_msgids((const char *)buf_data(&v), 1, &bufs[8]);
	buf_reset(&v);
	header_value(b->body, root, "References", &v);
	if (buf_len(&v) == 0 || memchr(buf_data(&v), '<', buf_len(&v)) == NULL) {
		buf_reset(&v);
		header_value(b->body, root, "In-Reply-To", &v);
	}
	buf_append(&v, "", 1);
	imap_sort_msgids((const char *)buf_data(&v), LIMIT_IMAP_THREAD_REFS, &bufs[9]);
	buf_free(&v);
	for (int i = 0; i < 10; i++)
		strs[i] = text_dup(&bufs[i]);
	/* the index keeps folded text; needles are folded the same way */
	mime_utf8_fold(strs[0], strlen(strs[0]));
	mime_utf8_fold(strs[1], strlen(strs[1]));
	e->header = strs[0];
	e->body = strs[1];
	e->subject = strs[2];
	e->from_key = strs[3];
	e->to_key = strs[4];
	e->cc_key = strs[5];
	e->display_from = strs[6];
	e->display_to = strs[7];
	e->message_id = strs[8];
	e->refs = strs[9];
	for (int i = 0; i < 11; i++)
		buf_free(&bufs[i]);
	mime_tree_free(&tree);
}

/* Per mailbox, a UID below which every message is known to be indexed, so
 * a search looks for unindexed messages only above it. It only ever
 * rises and stays true on every node: an index row goes only with its
 * blob, and a blob only when no message uses it; a message copied in
 * gets a new, higher UID. One slot per mailbox id (ids are never reused);
 * a slot taken by another mailbox just means a full look. */
struct indexed_mark {
	int64_t mailbox_id;
	uint32_t below;
};
static struct indexed_mark indexed_marks[LIMIT_SEARCH_INDEXED_CACHE];
static pthread_mutex_t indexed_mu = PTHREAD_MUTEX_INITIALIZER;

static uint32_t indexed_below(int64_t mailbox_id)
{
	struct indexed_mark *m = &indexed_marks[(uint64_t)mailbox_id % LIMIT_SEARCH_INDEXED_CACHE];
	uint32_t below = 0;

	pthread_mutex_lock(&indexed_mu);
	if (m->mailbox_id == mailbox_id)
		below = m->below;
	pthread_mutex_unlock(&indexed_mu);
	return below;
}

static void indexed_mark(int64_t mailbox_id, uint32_t below)
{
	struct indexed_mark *m = &indexed_marks[(uint64_t)mailbox_id % LIMIT_SEARCH_INDEXED_CACHE];

	pthread_mutex_lock(&indexed_mu);
	if (m->mailbox_id != mailbox_id || m->below < below)
		*m = (struct indexed_mark){ .mailbox_id = mailbox_id, .below = below };
	pthread_mutex_unlock(&indexed_mu);
}

/* Indexes every message of the mailbox that has no index row, in batches
 * of at most LIMIT_SEARCH_INDEX_BATCH messages and
 * LIMIT_SEARCH_INDEX_BATCH_BYTES of bodies (at least one message).
 * view_max: the highest UID of the session's view; every message up to
 * it was committed before this runs (UIDs become visible in order), so
 * afterwards all of them are indexed. */
static enum db_status index_mailbox(struct db *db, int64_t mailbox_id, uint32_t view_max)
{
	int64_t *ids = NULL, *sizes = NULL;
	size_t n_ids = 0, k;
	enum db_status st = search_store_unindexed(db, mailbox_id, indexed_below(mailbox_id), &ids,
						   &sizes, &n_ids);

	for (size_t off = 0; off < n_ids && st == DB_OK; off += k) {
		struct search_store_blob *blobs = NULL;
		struct search_store_entry *e;
		size_t n = 0, bytes = 0;
		char **strs;

		for (k = 0; off + k < n_ids && k < LIMIT_SEARCH_INDEX_BATCH; k++) {
			size_t sz = sizes[off + k] < LIMIT_SEARCH_INDEX_FETCH ? (size_t)sizes[off + k]
									      : LIMIT_SEARCH_INDEX_FETCH;

			if (k > 0 && bytes + sz > LIMIT_SEARCH_INDEX_BATCH_BYTES)
				break;
			bytes += sz;
		}
		st = search_store_blobs(db, ids + off, k, LIMIT_SEARCH_INDEX_FETCH, &blobs, &n);
		if (st != DB_OK || n == 0)
			continue;	/* blobs removed meanwhile */
		e = xcalloc(n, sizeof(*e));
		strs = xcalloc(n * 10, sizeof(*strs));
		for (size_t i = 0; i < n; i++)
			index_entry(&blobs[i], &e[i], &strs[i * 10]);
		st = search_store_put(db, e, n);
		for (size_t i = 0; i < n * 10; i++)
			free(strs[i]);
		free(strs);
		free(e);
		search_store_blobs_free(&blobs, n);
	}
	free(ids);
	free(sizes);
	if (st == DB_OK && view_max > 0)
		indexed_mark(mailbox_id, view_max + 1);
	return st;
}

/* "1:3,5" of ascending numbers. */
static void write_set(struct buf *out, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			buf_append_str(out, ",");
		if (j > i)
			buf_printf(out, "%u:%u", v[i], v[j]);
		else
			buf_printf(out, "%u", v[i]);
		i = j + 1;
	}
}

static void write_esearch(struct search_job *sj, const uint32_t *v, size_t n)
{
	if (sj->ret == RET_SAVE)
		return;	/* RFC 5182 2.1: SAVE alone has no ESEARCH response */
	buf_printf(&sj->out, "* ESEARCH (TAG \"%s\")%s", sj->tag, sj->uid_cmd ? " UID" : "");
	if ((sj->ret & RET_MIN) && n > 0)
		buf_printf(&sj->out, " MIN %u", v[0]);
	if ((sj->ret & RET_MAX) && n > 0)
		buf_printf(&sj->out, " MAX %u", v[n - 1]);
	if ((sj->ret & RET_ALL) && n > 0) {
		buf_append_str(&sj->out, " ALL ");
		write_set(&sj->out, v, n);
	}
	if (sj->ret & RET_COUNT)
		buf_printf(&sj->out, " COUNT %zu", n);
	if (sj->modseq && n > 0)	/* RFC 7162 3.1.5 */
		buf_printf(&sj->out, " MODSEQ %lld", (long long)sj->max_modseq);
	buf_append_str(&sj->out, "\r\n");
}

/* RFC 5182 2.4: with MIN or MAX, SAVE keeps only those. */
static void save_result(struct search_job *sj, const uint32_t *uids, size_t n)
{
	if (!(sj->ret & RET_SAVE))
		return;
	sj->saved = xcalloc(n + 1, sizeof(uint32_t));
	if ((sj->ret & (RET_MIN | RET_MAX)) && !(sj->ret & (RET_ALL | RET_COUNT)) && n > 0) {
		if (sj->ret & RET_MIN)
			sj->saved[sj->n_saved++] = uids[0];
		if ((sj->ret & RET_MAX) && (sj->n_saved == 0 || uids[n - 1] != uids[0]))
			sj->saved[sj->n_saved++] = uids[n - 1];
		return;
	}
	memcpy(sj->saved, uids, n * sizeof(uint32_t));
	sj->n_saved = n;
}

static _Thread_local const int *cmp_crit;	/* qsort has no context argument */
static _Thread_local size_t cmp_n_crit;

static int64_t date_of(const struct search_store_row *r)
{
	return r->has_sent ? r->sent_at : r->internal_date;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct search_store_row *x = *(const struct search_store_row *const *)a;
	const struct search_store_row *y = *(const struct search_store_row *const *)b;

	for (size_t i = 0; i < cmp_n_crit; i++) {
		int c = 0, k = cmp_crit[i] & 0xff;

		switch (k) {
		case SORT_ARRIVAL:
			c = x->internal_date < y->internal_date ? -1 : x->internal_date > y->internal_date;
			break;
		case SORT_DATE:
			c = date_of(x) < date_of(y) ? -1 : date_of(x) > date_of(y);
			break;
		case SORT_SIZE:
			c = x->size < y->size ? -1 : x->size > y->size;
			break;
		case SORT_CC:
			c = strcmp(x->cc_key, y->cc_key);
			break;
		case SORT_FROM:
			c = strcmp(x->from_key, y->from_key);
			break;
		case SORT_TO:
			c = strcmp(x->to_key, y->to_key);
			break;
		case SORT_SUBJECT:
			c = strcmp(x->subject, y->subject);
			break;
		case SORT_DISPLAYFROM:
			c = strcmp(x->display_from, y->display_from);
			break;
		case SORT_DISPLAYTO:
			c = strcmp(x->display_to, y->display_to);
			break;
		}
		if (cmp_crit[i] & SORT_REVERSE)
			c = -c;
		if (c != 0)
			return c;
	}
	/* ties: the sequence (UID) order, RFC 5256 3 */
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* SORT, THREAD and the SENT* keys need the Date: facts and sort keys. */
static bool needs_keys(const struct search_job *sj)
{
	if (sj->kind != KIND_SEARCH)
		return true;
	for (size_t i = 0; i < sj->n_keys; i++)
		if (sj->keys[i].kind == SK_SENTBEFORE || sj->keys[i].kind == SK_SENTON ||
		    sj->keys[i].kind == SK_SENTSINCE)
			return true;
	return false;
}

/* Whether any key needs a message's facts (flags, dates, size, MODSEQ)
 * from the database; text matches and sets are answered over the view. */
static bool needs_facts(const struct search_job *sj)
{
	if (sj->kind != KIND_SEARCH || sj->modseq)
		return true;
	for (size_t i = 0; i < sj->n_keys; i++)
		switch (sj->keys[i].kind) {
		case SK_ALL:
		case SK_SET:
		case SK_TEXT:
		case SK_NOT:
		case SK_OR:
		case SK_AND:
			break;
		default:
			return true;
		}
	return false;
}

static bool needs_index(const struct search_job *sj)
{
	if (sj->kind != KIND_SEARCH)
		return true;
	for (size_t i = 0; i < sj->n_keys; i++)
		if (sj->keys[i].kind == SK_TEXT || sj->keys[i].kind == SK_SENTBEFORE ||
		    sj->keys[i].kind == SK_SENTON || sj->keys[i].kind == SK_SENTSINCE)
			return true;
	return false;
}

static void render_sort(struct search_job *sj, struct search_store_row **hits, size_t n)
{
	cmp_crit = sj->sort;
	cmp_n_crit = sj->n_sort;
	qsort(hits, n, sizeof(*hits), cmp_rows);
	buf_append_str(&sj->out, "* SORT");
	for (size_t i = 0; i < n; i++)
		buf_printf(&sj->out, " %u",
			   sj->uid_cmd ? hits[i]->uid
				       : imap_view_seq(sj->j.uids, sj->j.n_uids, hits[i]->uid));
	buf_append_str(&sj->out, "\r\n");
}

static void render_thread(struct search_job *sj, struct search_store_row **hits, size_t n)
{
	struct imap_thread_msg *m = xcalloc(n + 1, sizeof(*m));

	for (size_t i = 0; i < n; i++) {
		m[i].id = sj->uid_cmd ? hits[i]->uid
				      : imap_view_seq(sj->j.uids, sj->j.n_uids, hits[i]->uid);
		m[i].date = date_of(hits[i]);
		m[i].subject = hits[i]->subject;
		m[i].reply = hits[i]->reply;
		m[i].message_id = hits[i]->message_id;
		m[i].refs = hits[i]->refs;
	}
	/* RFC 5256 5: "THREAD" [SP 1*thread-list] */
	buf_append_str(&sj->out, n > 0 ? "* THREAD " : "* THREAD");
	if ((sj->references ? imap_thread_references(m, n, &sj->out)
			    : imap_thread_orderedsubject(m, n, &sj->out)) < 0)
		sj->j.st = DB_ERROR;
	buf_append_str(&sj->out, "\r\n");
	free(m);
}

static void search_work(struct imap_job *jj, struct db *db)
{
	struct search_job *sj = (struct search_job *)jj;
	struct search_store_row *rows = NULL, **hits = NULL;
	uint32_t *ids = NULL, *uids = NULL;
	size_t n = 0, nh = 0;

	if (needs_index(sj))
		jj->st = index_mailbox(db, jj->mailbox_id,
				       jj->n_uids > 0 ? jj->uids[jj->n_uids - 1] : 0);
	for (size_t i = 0; i < sj->n_keys && jj->st == DB_OK; i++) {
		struct skey *k = &sj->keys[i];

		if (k->kind == SK_TEXT)
			jj->st = search_store_match(db, jj->mailbox_id, jj->n_uids, k->where,
						    k->field, k->str, &k->set, &k->n_set);
	}
	if (jj->st == DB_OK && needs_facts(sj)) {
		jj->st = search_store_rows(db, jj->mailbox_id, needs_keys(sj), &rows, &n);
	} else if (jj->st == DB_OK) {
		/* the view's messages, UIDs only (nothing else is looked at) */
		n = jj->n_uids;
		rows = xcalloc(n + 1, sizeof(*rows));
		for (size_t i = 0; i < n; i++)
			rows[i].uid = jj->uids[i];
	}
	if (jj->st != DB_OK)
		return;
	hits = xcalloc(n + 1, sizeof(*hits));
	for (size_t i = 0; i < n; i++)
		if (imap_view_seq(jj->uids, jj->n_uids, rows[i].uid) != 0 &&
		    eval(sj, sj->root, &rows[i])) {
			hits[nh++] = &rows[i];
			if (rows[i].modseq > sj->max_modseq)
				sj->max_modseq = rows[i].modseq;
		}
	if (sj->kind == KIND_SORT)
		render_sort(sj, hits, nh);
	else if (sj->kind == KIND_THREAD)
		render_thread(sj, hits, nh);
	else {
		ids = xcalloc(nh + 1, sizeof(uint32_t));
		uids = xcalloc(nh + 1, sizeof(uint32_t));
		for (size_t i = 0; i < nh; i++) {
			uids[i] = hits[i]->uid;
			ids[i] = sj->uid_cmd ? uids[i] : imap_view_seq(jj->uids, jj->n_uids, uids[i]);
		}
		save_result(sj, uids, nh);
		if (sj->esearch)
			write_esearch(sj, ids, nh);
		else {
			buf_append_str(&sj->out, "* SEARCH");
			for (size_t i = 0; i < nh; i++)
				buf_printf(&sj->out, " %u", ids[i]);
			if (sj->modseq && nh > 0)	/* RFC 7162 3.1.5 */
				buf_printf(&sj->out, " (MODSEQ %lld)", (long long)sj->max_modseq);
			buf_append_str(&sj->out, "\r\n");
		}
	}
	free(ids);
	free(uids);
	free(hits);
	search_store_rows_free(&rows, n);
}

static void search_finish(struct imap_session *s, struct imap_job *jj)
{
	struct search_job *sj = (struct search_job *)jj;
	static const char *const names[] = { "SEARCH", "SORT", "THREAD" };

	if (sj->ret & RET_SAVE) {
		/* RFC 5182 2.1: a failed SEARCH ... SAVE leaves $ empty */
		xfree(s->sel.saved);
		s->sel.n_saved = 0;
		if (jj->st == DB_OK) {
			s->sel.saved = sj->saved;
			s->sel.n_saved = sj->n_saved;
			sj->saved = NULL;
		}
	}
	if (jj->st != DB_OK) {
		imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	imap_send_raw(s, buf_data(&sj->out), buf_len(&sj->out));
	imap_tagged(s, "OK", "%s%s completed", sj->uid_cmd ? "UID " : "", names[sj->kind]);
}

/* ---------- parsing (the loop) ---------- */

struct sparse {
	struct imap_session *s;
	struct search_job *sj;
	const char *error;
	bool answered;		/* an error reply was already sent */
	unsigned depth;
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

	if (imap_arg_astring(a, &s, &len) < 0 || len < 10 || len > 11 || memchr(s, '\0', len))
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

/* A sequence-set key (message numbers, or UIDs after "UID"; "$" too). */
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

/* RECENT (the session's \Recent UIDs), NEW (RECENT UNSEEN) and OLD (NOT
 * RECENT) of RFC 3501 6.4.4; RFC 9051 removed them with \Recent. */
static int recent_key(struct sparse *p, const struct imap_arg *a)
{
	const struct imap_view *v = &p->s->sel;
	int set, idx, unseen;

	if (p->s->rev2) {
		p->error = "RECENT, NEW and OLD are not IMAP4rev2 search keys";
		return -1;
	}
	if ((set = new_key(p, SK_SET)) < 0)
		return -1;
	if (v->n_recent > 0) {
		p->sj->keys[set].set = xmalloc(v->n_recent * sizeof(uint32_t));
		memcpy(p->sj->keys[set].set, v->recent, v->n_recent * sizeof(uint32_t));
		p->sj->keys[set].n_set = v->n_recent;
	}
	if (imap_arg_atom_is(a, "RECENT"))
		return set;
	if (imap_arg_atom_is(a, "OLD")) {
		if ((idx = new_key(p, SK_NOT)) < 0)
			return -1;
		p->sj->keys[idx].a = set;
		return idx;
	}
	if ((unseen = new_key(p, SK_FLAG)) < 0 || (idx = new_key(p, SK_AND)) < 0)
		return -1;
	p->sj->keys[unseen].bit = IMAP_FLAG_SEEN;
	p->sj->keys[unseen].want = false;
	p->sj->keys[idx].kids = xcalloc(2, sizeof(int));
	p->sj->keys[idx].kids[0] = set;
	p->sj->keys[idx].kids[1] = unseen;
	p->sj->keys[idx].n_kids = 2;
	return idx;
}

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
	if (n == 0) {
		p->error = "Missing search key";
		return -1;
	}
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

static int text_key(struct sparse *p, const struct imap_arg *args, unsigned *i, unsigned n,
		    enum search_store_where where, const char *field)
{
	char *f = NULL, *v;
	int idx;

	if (field == NULL && where == SEARCH_STORE_FIELD) {
		if (*i + 1 >= n || (f = astr_dup(&args[*i])) == NULL || f[0] == '\0' ||
		    strchr(f, ':') != NULL) {
			free(f);
			p->error = "Invalid HEADER key";
			return -1;
		}
		(*i)++;
	} else if (field != NULL)
		f = xstrdup(field);
	if (*i >= n || (v = astr_dup(&args[*i])) == NULL) {
		free(f);
		p->error = "Invalid search string";
		return -1;
	}
	(*i)++;
	if ((idx = new_key(p, SK_TEXT)) < 0) {
		free(f);
		free(v);
		return -1;
	}
	mime_utf8_fold(v, strlen(v));
	if (f != NULL)
		mime_utf8_fold(f, strlen(f));
	p->sj->keys[idx].str = v;
	p->sj->keys[idx].field = f;
	p->sj->keys[idx].where = where;
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
		const char *field;	/* NULL: TEXT/BODY, or HEADER's own */
		enum search_store_where where;
	} texts[] = {
		{ "FROM", "from", SEARCH_STORE_FIELD }, { "TO", "to", SEARCH_STORE_FIELD },
		{ "CC", "cc", SEARCH_STORE_FIELD },	{ "BCC", "bcc", SEARCH_STORE_FIELD },
		{ "SUBJECT", "subject", SEARCH_STORE_FIELD },
		{ "HEADER", NULL, SEARCH_STORE_FIELD }, { "BODY", NULL, SEARCH_STORE_BODY },
		{ "TEXT", NULL, SEARCH_STORE_TEXT },
	};
	static const struct {
		const char *name;
		enum sk_kind kind;
	} dates[] = {
		{ "BEFORE", SK_BEFORE },	 { "ON", SK_ON },	  { "SINCE", SK_SINCE },
		{ "SENTBEFORE", SK_SENTBEFORE }, { "SENTON", SK_SENTON }, { "SENTSINCE", SK_SENTSINCE },
	};
	const struct imap_arg *a = &args[*i];
	int idx;

	if (*i >= n) {
		p->error = "Missing search key";
		return -1;
	}
	(*i)++;
	if (a->type == IMAP_ARG_LIST) {
		if (++p->depth > LIMIT_IMAP_LIST_DEPTH) {
			p->error = "Search keys nested too deep";
			return -1;
		}
		idx = parse_and(p, a->list, a->list_count);
		p->depth--;
		return idx;
	}
	if (a->type != IMAP_ARG_ATOM) {
		p->error = "Invalid search key";
		return -1;
	}
	if (imap_arg_atom_is(a, "ALL"))
		return new_key(p, SK_ALL);
	if (imap_arg_atom_is(a, "RECENT") || imap_arg_atom_is(a, "NEW") ||
	    imap_arg_atom_is(a, "OLD"))
		return recent_key(p, a);
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
		p->s->condstore = true;	/* RFC 7162 3.1: a CONDSTORE-enabling command */
		return idx;
	}
	for (size_t k = 0; k < sizeof(dates) / sizeof(dates[0]); k++)
		if (*i < n && imap_arg_atom_is(a, dates[k].name)) {
			int64_t day;

			if (parse_day(&args[(*i)++], &day) < 0) {
				p->error = "Invalid date";
				return -1;
			}
			if ((idx = new_key(p, dates[k].kind)) < 0)
				return -1;
			p->sj->keys[idx].num = day;
			return idx;
		}
	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++)
		if (imap_arg_atom_is(a, texts[k].name))
			return text_key(p, args, i, n, texts[k].where, texts[k].field);
	if (*i < n && imap_arg_atom_is(a, "UID"))
		return set_key(p, &args[(*i)++], true);
	if ((a->str[0] >= '0' && a->str[0] <= '9') || a->str[0] == '*' || a->str[0] == '$')
		return set_key(p, a, false);
	p->error = "Unknown or unsupported search key";
	return -1;
}

/* RETURN (...) of RFC 4731 at args[*i]; 0, or -1 with p->error. */
static int parse_return(struct sparse *p, const struct imap_arg *args, unsigned *i, unsigned n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = { { "MIN", RET_MIN },     { "MAX", RET_MAX },   { "ALL", RET_ALL },
		     { "COUNT", RET_COUNT }, { "SAVE", RET_SAVE } };
	const struct imap_arg *l;

	if (*i >= n || !imap_arg_atom_is(&args[*i], "RETURN"))
		return 0;
	if (*i + 1 >= n || args[*i + 1].type != IMAP_ARG_LIST) {
		p->error = "RETURN needs a list";
		return -1;
	}
	l = &args[*i + 1];
	*i += 2;
	p->sj->esearch = true;
	for (unsigned k = 0; k < l->list_count; k++) {
		bool known = false;

		for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]); o++)
			if (imap_arg_atom_is(&l->list[k], opts[o].name)) {
				p->sj->ret |= opts[o].bit;
				known = true;
			}
		if (!known) {
			p->error = "Unknown RETURN option";
			return -1;
		}
	}
	if (p->sj->ret == 0)
		p->sj->ret = RET_ALL;	/* RETURN () means ALL (RFC 4731 3.1) */
	return 0;
}

/* CHARSET of SEARCH, or the charset argument of SORT/THREAD; 0, or -1
 * after answering NO [BADCHARSET]. */
static int check_charset(struct imap_session *s, const struct imap_arg *a)
{
	if (imap_arg_atom_is(a, "UTF-8") || imap_arg_atom_is(a, "US-ASCII"))
		return 0;
	imap_error(s, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
	return -1;
}

static struct search_job *job_new(struct imap_session *s, enum search_kind kind, bool uid)
{
	struct search_job *sj = xcalloc(1, sizeof(*sj));

	sj->j.work = search_work;
	sj->j.finish = search_finish;
	sj->j.cleanup = search_cleanup;
	sj->kind = kind;
	sj->uid_cmd = uid;
	sj->tag = xstrdup(s->tag != NULL ? s->tag : "*");
	buf_init(&sj->out, (size_t)LIMIT_IMAP_MESSAGES * 16 + 64);
	return sj;
}

/* Parses the keys from args[start..n) and submits the job. */
static void run(struct imap_session *s, struct search_job *sj, struct sparse *p,
		const struct imap_arg *args, unsigned start, unsigned n)
{
	sj->root = parse_and(p, args + start, n - start);
	if (sj->root < 0) {
		if (!p->answered)
			imap_error(s, "BAD", "%s", p->error ? p->error : "Missing search key");
		if (sj->ret & RET_SAVE) {
			xfree(s->sel.saved);
			s->sel.n_saved = 0;
		}
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

static unsigned count_args(const struct imap_arg *args)
{
	unsigned n = 0;

	while (args[n].type != IMAP_ARG_EOL)
		n++;
	return n;
}

void imap_cmd_search(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		     const struct imap_arg *args)
{
	struct search_job *sj = job_new(s, KIND_SEARCH, uid);
	struct sparse p = { .s = s, .sj = sj };
	unsigned n = count_args(args), i = 0;

	(void)cmd;
	if (parse_return(&p, args, &i, n) < 0) {
		imap_error(s, "BAD", "%s", p.error);
		imap_job_free(&sj->j);
		return;
	}
	if (s->rev2 && !sj->esearch) {
		sj->esearch = true;	/* RFC 9051 6.4.4: SEARCH answers ESEARCH */
		sj->ret = RET_ALL;
	}
	if (i + 1 < n && imap_arg_atom_is(&args[i], "CHARSET")) {
		if (check_charset(s, &args[i + 1]) < 0) {
			imap_job_free(&sj->j);
			return;
		}
		i += 2;
	}
	run(s, sj, &p, args, i, n);
}

void imap_cmd_sort(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		   const struct imap_arg *args)
{
	static const struct {
		const char *name;
		int key;
	} crit[] = {
		{ "ARRIVAL", SORT_ARRIVAL }, { "CC", SORT_CC },
		{ "DATE", SORT_DATE },	     { "FROM", SORT_FROM },
		{ "SIZE", SORT_SIZE },	     { "SUBJECT", SORT_SUBJECT },
		{ "TO", SORT_TO },	     { "DISPLAYFROM", SORT_DISPLAYFROM },
		{ "DISPLAYTO", SORT_DISPLAYTO },
	};
	struct search_job *sj = job_new(s, KIND_SORT, uid);
	struct sparse p = { .s = s, .sj = sj };
	unsigned n = count_args(args);
	const struct imap_arg *l = &args[0];
	int reverse = 0;

	(void)cmd;
	if (n < 3 || l->type != IMAP_ARG_LIST || l->list_count == 0) {
		imap_error(s, "BAD", "SORT needs (criteria) charset keys");
		imap_job_free(&sj->j);
		return;
	}
	for (unsigned k = 0; k < l->list_count; k++) {
		bool known = false;

		if (imap_arg_atom_is(&l->list[k], "REVERSE") && !reverse) {
			reverse = SORT_REVERSE;
			continue;
		}
		for (size_t c = 0; c < sizeof(crit) / sizeof(crit[0]) && !known; c++)
			if (imap_arg_atom_is(&l->list[k], crit[c].name) &&
			    sj->n_sort < SORT_MAX_KEYS) {
				sj->sort[sj->n_sort++] = crit[c].key | reverse;
				known = true;
			}
		reverse = 0;
		if (!known) {
			imap_error(s, "BAD", "Invalid sort criterion");
			imap_job_free(&sj->j);
			return;
		}
	}
	if (reverse) {
		imap_error(s, "BAD", "REVERSE must precede a sort criterion");
		imap_job_free(&sj->j);
		return;
	}
	if (check_charset(s, &args[1]) < 0) {
		imap_job_free(&sj->j);
		return;
	}
	run(s, sj, &p, args, 2, n);
}

void imap_cmd_thread(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		     const struct imap_arg *args)
{
	struct search_job *sj = job_new(s, KIND_THREAD, uid);
	struct sparse p = { .s = s, .sj = sj };
	unsigned n = count_args(args);

	(void)cmd;
	if (n < 3 || (!imap_arg_atom_is(&args[0], "REFERENCES") &&
		      !imap_arg_atom_is(&args[0], "ORDEREDSUBJECT"))) {
		imap_error(s, "BAD", "THREAD needs REFERENCES or ORDEREDSUBJECT, charset, keys");
		imap_job_free(&sj->j);
		return;
	}
	sj->references = imap_arg_atom_is(&args[0], "REFERENCES");
	if (check_charset(s, &args[1]) < 0) {
		imap_job_free(&sj->j);
		return;
	}
	run(s, sj, &p, args, 2, n);
}
