/* cmd_fetch.c - FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2): FLAGS, UID,
 * INTERNALDATE, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY, BODY[section]
 * and BODY.PEEK[section]<partial> (HEADER, HEADER.FIELDS(.NOT), TEXT, MIME,
 * part numbers), RFC822, RFC822.HEADER, RFC822.TEXT; \Seen set by a
 * non-PEEK body fetch. ENVELOPE/BODYSTRUCTURE/BODY and the part table are
 * read from the message row; a message stored without them (delivered
 * before 004_imap.sql) gets them computed once here and saved. The worker
 * renders the reply; LIMIT_IMAP_FETCH_BATCH messages or
 * LIMIT_IMAP_FETCH_BYTES per job, streamed, then the next batch.
 * BINARY[part], BINARY.PEEK and BINARY.SIZE (RFC 3516) decode base64 and
 * quoted-printable; an unknown Content-Transfer-Encoding ends the FETCH
 * with NO [UNKNOWN-CTE] (its items are NIL).
 * CONDSTORE / QRESYNC (RFC 7162 3.1.4, 3.2.6): MODSEQ, the CHANGEDSINCE
 * modifier and, for UID FETCH with QRESYNC enabled, VANISHED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/session.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "mail/mime.h"
#include "mail/mime_decode.h"
#include "mail/mime_private.h"

/* XXX: a FETCH naming several whole-message items of one huge message can
 * pass this and is cut; a streaming renderer is the fix. */
#define FETCH_OUT_MAX ((size_t)LIMIT_IMAP_FETCH_BYTES + 3 * (size_t)LIMIT_IMAP_LITERAL)

enum fi_kind {
	FI_FLAGS,
	FI_UID,
	FI_INTERNALDATE,
	FI_SIZE,
	FI_ENVELOPE,
	FI_BODYSTRUCTURE,
	FI_BODY,
	FI_SECTION,
	FI_RFC822,
	FI_RFC822_HEADER,
	FI_RFC822_TEXT,
	FI_BINARY,		/* imapb: RFC 3516 */
	FI_BINARY_SIZE,
	FI_MODSEQ,
};

struct fetch_item {
	enum fi_kind kind;
	bool peek;
	char *spec;
	char **fields;
	unsigned n_fields;
	bool partial;
	uint64_t off, len;
};

/* The request, kept across batches. */
struct fetch_req {
	struct fetch_item *items;
	size_t n_items;
	bool uid_cmd;
	bool seen;		/* a non-PEEK body item */
	bool readonly;
	uint32_t *todo;		/* UIDs, ascending */
	size_t n_todo;
	size_t next;		/* first UID not rendered yet */
	bool unknown_cte;	/* a BINARY item met an unknown encoding */
	bool condstore;		/* MODSEQ in every response (RFC 7162 3.1.4.1) */
	int64_t changedsince;	/* > 0: only messages with a higher MODSEQ */
	struct imap_seqset *vanished;	/* UID FETCH (VANISHED): the UID set asked */
	bool vanished_wanted;
	bool changedsince_given;	/* implies the MODSEQ item (RFC 7162 3.1.4.1) */
	bool quiet;		/* NOTIFY MessageNew (fetch-att): no tagged reply */
};

struct fetch_job {
	struct imap_job j;
	struct fetch_req *req;
	size_t first, end;	/* todo[first .. end) attempted */
	struct buf out;
	/* bodies (or header blocks) loaded in one query (worker) */
	uint32_t *b_uids;
	unsigned char **b_data;
	size_t *b_lens;
	size_t n_b;
	uint32_t *vanished;	/* QRESYNC: expunged since CHANGEDSINCE */
	size_t n_vanished;
};

static void req_free(void *p)
{
	struct fetch_req *r = p;

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_items; i++) {
		free(r->items[i].spec);
		for (unsigned k = 0; k < r->items[i].n_fields; k++)
			free(r->items[i].fields[k]);
		free(r->items[i].fields);
	}
	free(r->items);
	free(r->todo);
	imap_seqset_free(&r->vanished);
	free(r);
}

/* ---------- worker: rendering ---------- */

static bool has_item(const struct fetch_req *r, enum fi_kind k)
{
	for (size_t i = 0; i < r->n_items; i++)
		if (r->items[i].kind == k)
			return true;
	return false;
}

static void write_literal(struct buf *b, const unsigned char *p, size_t n)
{
	buf_printf(b, "{%zu}\r\n", n);
	buf_append(b, p, n);
}

static bool field_listed(const struct fetch_item *it, const unsigned char *name, size_t len)
{
	for (unsigned k = 0; k < it->n_fields; k++)
		if (strlen(it->fields[k]) == len && strncasecmp(it->fields[k], (const char *)name,
								len) == 0)
			return true;
	return false;
}

/* The bytes of one section, malloc'd into *out (HEADER.FIELDS filtered). */
static int section_bytes(const struct fetch_item *it, const char *spec, const struct mime_tree *tree,
			 const unsigned char *msg, size_t len, unsigned char **out, size_t *n_r)
{
	struct mime_section sec;
	const char *err = NULL;

	if (mime_section_lookup(tree, spec, strlen(spec), &sec, &err) < 0)
		return -1;
	if (sec.off > len || sec.len > len - sec.off)
		return -1;
	if (sec.kind == MIME_SECTION_HEADER_FIELDS || sec.kind == MIME_SECTION_HEADER_FIELDS_NOT) {
		bool not = sec.kind == MIME_SECTION_HEADER_FIELDS_NOT;
		size_t pos = sec.off, end = sec.off + sec.len, no, nl, vo, vl, o = 0;
		unsigned char *d = xmalloc(sec.len + 3);

		for (;;) {
			size_t start = pos;

			if (mime_header_next(msg, &pos, end, &no, &nl, &vo, &vl) != 1)
				break;
			(void)start;
			if (field_listed(it, msg + no, nl) != not) {
				memcpy(d + o, msg + no, pos - no);
				o += pos - no;
			}
		}
		d[o++] = '\r';
		d[o++] = '\n';
		*out = d;
		*n_r = o;
		return 0;
	}
	*out = xmalloc(sec.len > 0 ? sec.len : 1);
	memcpy(*out, msg + sec.off, sec.len);
	*n_r = sec.len;
	return 0;
}

static void write_section(struct buf *b, const struct fetch_item *it, const char *label,
			  const char *spec, const struct mime_tree *tree, const unsigned char *msg,
			  size_t len)
{
	unsigned char *d = NULL;
	size_t n = 0;

	if (it->kind == FI_SECTION)
		buf_printf(b, "BODY[%s]", it->spec);
	else
		buf_append_str(b, label);
	if (it->partial)
		buf_printf(b, "<%llu>", (unsigned long long)it->off);
	buf_append_str(b, " ");
	if (msg == NULL || tree == NULL || section_bytes(it, spec, tree, msg, len, &d, &n) < 0) {
		buf_append_str(b, "NIL");
		return;
	}
	if (it->partial) {
		size_t o = it->off > n ? n : (size_t)it->off;
		size_t k = n - o;

		if ((uint64_t)k > it->len)
			k = (size_t)it->len;
		write_literal(b, d + o, k);
	} else {
		write_literal(b, d, n);
	}
	free(d);
}

/* Whether a part's Content-Transfer-Encoding is one RFC 2045 defines (or
 * absent: 7bit). */
static bool cte_known(const unsigned char *msg, const struct mime_part *p)
{
	static const char *const known[] = { "7bit", "8bit", "binary", "base64",
					     "quoted-printable" };
	size_t vo, vl;

	if (mime_header_find(msg, p->hdr_off, p->hdr_len, "Content-Transfer-Encoding", &vo, &vl) !=
	    1)
		return true;
	while (vl > 0 && (msg[vo] == ' ' || msg[vo] == '\t'))
		vo++, vl--;
	while (vl > 0 && (msg[vo + vl - 1] == ' ' || msg[vo + vl - 1] == '\t' ||
			  msg[vo + vl - 1] == '\r' || msg[vo + vl - 1] == '\n'))
		vl--;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (vl == strlen(known[i]) && strncasecmp((const char *)msg + vo, known[i], vl) == 0)
			return true;
	return false;
}

/* BINARY[part]<o.n> / BINARY.SIZE[part] (RFC 3516 4): the part's body with
 * its transfer encoding undone; literal8 when it holds a NUL. */
static void write_binary(struct buf *b, const struct fetch_item *it, const struct mime_tree *tree,
			 const unsigned char *msg, size_t len, bool *unknown_cte)
{
	struct mime_section sec;
	const char *err = NULL;
	struct buf dec;
	enum mime_enc enc = MIME_ENC_7BIT;
	const unsigned char *d;
	size_t n;

	buf_printf(b, "%s[%s]", it->kind == FI_BINARY_SIZE ? "BINARY.SIZE" : "BINARY", it->spec);
	if (it->partial)
		buf_printf(b, "<%llu>", (unsigned long long)it->off);
	buf_append_str(b, " ");
	if (msg == NULL || tree == NULL ||
	    mime_section_lookup(tree, it->spec, strlen(it->spec), &sec, &err) < 0 ||
	    sec.off > len || sec.len > len - sec.off) {
		buf_append_str(b, "NIL");
		return;
	}
	if (sec.kind != MIME_SECTION_ALL) {
		const struct mime_part *p = &tree->parts[sec.part];

		if (!cte_known(msg, p)) {
			*unknown_cte = true;
			buf_append_str(b, "NIL");
			return;
		}
		enc = (enum mime_enc)p->enc;
	}
	/* decoded data is never longer than its encoding */
	buf_init(&dec, sec.len + 1);
	mime_decode_body(msg + sec.off, sec.len, enc, &dec);
	d = buf_data(&dec);
	n = buf_len(&dec);
	if (it->kind == FI_BINARY_SIZE) {
		buf_printf(b, "%zu", n);
		buf_free(&dec);
		return;
	}
	if (it->partial) {
		size_t o = it->off > n ? n : (size_t)it->off;

		d += o;
		n -= o;
		if ((uint64_t)n > it->len)
			n = (size_t)it->len;
	}
	if (memchr(d, '\0', n) != NULL)
		buf_append_str(b, "~");
	write_literal(b, d, n);
	buf_free(&dec);
}

static void write_date(struct buf *b, int64_t t)
{
	static const char *const mon[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	buf_printf(b, "INTERNALDATE \"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
		   mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Whether the request needs message bytes, and only the top-level header
 * (HEADER, HEADER.FIELDS[.NOT], RFC822.HEADER: what header syncs ask). */
static bool req_needs_body(const struct fetch_req *r, bool *header_only_r)
{
	bool need = false, header_only = true;

	for (size_t i = 0; i < r->n_items; i++) {
		const struct fetch_item *it = &r->items[i];

		if (it->kind == FI_RFC822_HEADER) {
			need = true;
		} else if (it->kind == FI_SECTION) {
			need = true;
			if (strncasecmp(it->spec, "HEADER", 6) != 0)
				header_only = false;
		} else if (it->kind == FI_RFC822 || it->kind == FI_RFC822_TEXT ||
			   it->kind == FI_BINARY || it->kind == FI_BINARY_SIZE) {
			need = true;
			header_only = false;
		}
	}
	*header_only_r = header_only;
	return need;
}

/* pre/pre_len: the message (or, header_only, its header block) loaded
 * in bulk for this row, or NULL. */
static void render_row(struct fetch_job *fj, struct db *db, struct imap_store_row *row,
		       uint32_t seq, bool flags_changed, const unsigned char *pre, size_t pre_len)
{
	const struct fetch_req *r = fj->req;
	struct buf *b = &fj->out;
	bool need_body = false, need_meta = false, header_only = false;
	unsigned char *own = NULL;
	const unsigned char *msg = NULL;
	size_t len = 0;
	struct mime_tree *tree = NULL;
	bool first = true;

	need_body = req_needs_body(r, &header_only);
	need_meta = need_body || has_item(r, FI_ENVELOPE) || has_item(r, FI_BODYSTRUCTURE) ||
		    has_item(r, FI_BODY);
	if (need_meta && row->meta.parts == NULL)
		pre = NULL;	/* the metadata needs the whole message */
	if (pre != NULL) {
		msg = pre;
		len = pre_len;
	} else if (need_body || (need_meta && row->meta.parts == NULL)) {
		bool found = false;

		if (imap_store_body(db, fj->j.mailbox_id, row->uid, &own, &len, &found) != DB_OK ||
		    !found) {
			free(own);
			own = NULL;
			len = 0;
		}
		msg = own;
	}
	if (need_meta && row->meta.parts == NULL && own != NULL) {
		struct imap_store_meta m;

		if (imap_store_meta_compute(own, len, &m) == 0) {
			imap_store_meta_save(db, row->blob_id, &m);
			imap_store_meta_free(&row->meta);
			row->meta = m;
		}
	}
	if (msg != NULL && row->meta.parts != NULL) {
		const char *err = NULL;

		/* offsets are checked against the whole message; section_bytes()
		 * checks them against the bytes at hand (a header block) */
		tree = mime_deserialize(row->meta.parts, strlen(row->meta.parts), (size_t)row->size,
					&err);
		if (tree == NULL && own != NULL)
			tree = mime_parse(own, len);
	}

	buf_printf(b, "* %u FETCH (", seq);
#define SEP()                                                                                   \
	do {                                                                                    \
		if (!first)                                                                     \
			buf_append_str(b, " ");                                                 \
		first = false;                                                                  \
	} while (0)
	if (r->uid_cmd && !has_item(r, FI_UID)) {
		SEP();
		buf_printf(b, "UID %u", row->uid);
	}
	if (flags_changed && !has_item(r, FI_FLAGS)) {
		SEP();
		imap_flags_write(b, imap_recent_job_flags(&fj->j, row->uid, row->flags),
				 row->keywords);
	}
	for (size_t i = 0; i < r->n_items; i++) {
		const struct fetch_item *it = &r->items[i];

		SEP();
		switch (it->kind) {
		case FI_FLAGS:
			imap_flags_write(b, imap_recent_job_flags(&fj->j, row->uid, row->flags),
					 row->keywords);
			break;
		case FI_UID:
			buf_printf(b, "UID %u", row->uid);
			break;
		case FI_INTERNALDATE:
			write_date(b, row->internal_date);
			break;
		case FI_SIZE:
			buf_printf(b, "RFC822.SIZE %lld", (long long)row->size);
			break;
		case FI_ENVELOPE:
			buf_printf(b, "ENVELOPE %s", row->meta.envelope ? row->meta.envelope : "NIL");
			break;
		case FI_BODYSTRUCTURE:
			buf_printf(b, "BODYSTRUCTURE %s",
				   row->meta.bodystructure ? row->meta.bodystructure : "NIL");
			break;
		case FI_BODY:
			buf_printf(b, "BODY %s", row->meta.body ? row->meta.body : "NIL");
			break;
		case FI_SECTION:
			write_section(b, it, NULL, it->spec, tree, msg, len);
			break;
		case FI_RFC822:
			write_section(b, it, "RFC822", "", tree, msg, len);
			break;
		case FI_RFC822_HEADER:
			write_section(b, it, "RFC822.HEADER", "HEADER", tree, msg, len);
			break;
		case FI_RFC822_TEXT:
			write_section(b, it, "RFC822.TEXT", "TEXT", tree, msg, len);
			break;
		case FI_BINARY:
		case FI_BINARY_SIZE:
			write_binary(b, it, tree, msg, len, &fj->req->unknown_cte);
			break;
		case FI_MODSEQ:
			buf_printf(b, "MODSEQ (%lld)", (long long)row->modseq);
			break;
		}
	}
	if (r->condstore && !has_item(r, FI_MODSEQ) && (flags_changed || has_item(r, FI_FLAGS))) {
		SEP();
		buf_printf(b, "MODSEQ (%lld)", (long long)row->modseq);
	}
#undef SEP
	buf_append_str(b, ")\r\n");
	mime_tree_free(&tree);
	free(own);
}

/* One query for the bodies of a batch instead of one per message: the
 * header blocks (capped at LIMIT_MIME_HEADER_SIZE; a longer one is loaded
 * alone later), or whole messages up to LIMIT_IMAP_FETCH_BYTES in all. */
static void bulk_load(struct fetch_job *fj, struct db *db, const struct imap_store_row *rows,
		      size_t n_rows, bool header_only)
{
	uint32_t *want = xcalloc(n_rows + 1, sizeof(*want));
	size_t k = 0, total = 0;
	char *arr;

	for (size_t i = 0; i < n_rows; i++) {
		if (rows[i].meta.parts == NULL)
			continue;	/* loaded whole for its metadata */
		if (!header_only) {
			if (total + (size_t)rows[i].size > LIMIT_IMAP_FETCH_BYTES && k > 0)
				break;
			total += (size_t)rows[i].size;
		}
		want[k++] = rows[i].uid;
	}
	if (k > 1) {
		arr = db_array_u32(want, k);
		if (imap_store_bodies(db, fj->j.mailbox_id, arr, header_only ? LIMIT_MIME_HEADER_SIZE : 0,
				      &fj->b_uids, &fj->b_data, &fj->b_lens, &fj->n_b) != DB_OK)
			fj->n_b = 0;
		free(arr);
		/* a header block cut at the cap is loaded whole, alone */
		for (size_t i = 0; header_only && i < fj->n_b; i++)
			if (fj->b_lens[i] >= LIMIT_MIME_HEADER_SIZE)
				xfree(fj->b_data[i]);
	}
	free(want);
}

static void fetch_work(struct imap_job *jj, struct db *db)
{
	struct fetch_job *fj = (struct fetch_job *)jj;
	struct fetch_req *r = fj->req;
	size_t end = fj->first + LIMIT_IMAP_FETCH_BATCH;
	struct imap_store_row *rows = NULL;
	struct imap_store_flags *changed = NULL;
	size_t n_rows = 0, n_changed = 0;
	uint32_t last = 0;
	char *arr;

	if (end > r->n_todo)
		end = r->n_todo;
	if (fj->first == 0 && r->changedsince > 0) {
		/* One query for what changed after CHANGEDSINCE: the UIDs to
		 * render shrink to those, and the expunged ones are VANISHED
		 * (EARLIER) before the FETCH responses (RFC 7162 3.2.6). */
		struct imap_store_sync sy;
		size_t k = 0, m = 0;

		jj->st = imap_store_sync(db, jj->mailbox_id, r->changedsince, &sy);
		if (jj->st != DB_OK) {
			fj->end = fj->first;
			return;
		}
		/* both ascend: a merge */
		for (size_t i = 0; i < r->n_todo; i++) {
			while (m < sy.n_msgs && sy.msgs[m].uid < r->todo[i])
				m++;
			if (m < sy.n_msgs && sy.msgs[m].uid == r->todo[i])
				r->todo[k++] = r->todo[i];
		}
		r->n_todo = k;
		end = end > k ? k : end;
		if (r->vanished != NULL && sy.n_expunged > 0) {
			fj->vanished = sy.expunged;
			fj->n_vanished = sy.n_expunged;
			sy.expunged = NULL;
			sy.n_expunged = 0;
		}
		imap_store_sync_free(&sy);
	}
	if (end == fj->first) {
		fj->end = end;	/* only VANISHED was asked for */
		return;
	}
	jj->st = imap_store_rows(db, jj->mailbox_id, r->todo + fj->first, end - fj->first, &rows,
				 &n_rows);
	if (jj->st != DB_OK) {
		fj->end = fj->first;
		return;
	}
	if (r->seen && !r->readonly) {
		uint32_t *unseen = xcalloc(n_rows + 1, sizeof(*unseen));
		size_t k = 0;

		for (size_t i = 0; i < n_rows; i++)
			if ((rows[i].flags & IMAP_FLAG_SEEN) == 0)
				unseen[k++] = rows[i].uid;
		if (k > 0) {
			arr = db_array_u32(unseen, k);
			jj->st = imap_store_set_flags(db, jj->mailbox_id, arr, '+', IMAP_FLAG_SEEN,
						      "{}", &changed, &n_changed);
			free(arr);
		}
		free(unseen);
		if (jj->st != DB_OK) {
			imap_store_rows_free(rows, n_rows);
			fj->end = fj->first;
			return;
		}
	}
	fj->end = end;
	{
		bool header_only = false;

		if (req_needs_body(r, &header_only))
			bulk_load(fj, db, rows, n_rows, header_only);
	}
	for (size_t i = 0; i < n_rows; i++) {
		uint32_t seq = imap_view_seq(jj->uids, jj->n_uids, rows[i].uid);
		bool flags_changed = false;
		uint32_t bi = imap_view_seq(fj->b_uids, fj->n_b, rows[i].uid);
		const unsigned char *pre = bi ? fj->b_data[bi - 1] : NULL;

		last = rows[i].uid;
		if (seq == 0)
			continue;
		if (r->changedsince > 0 && rows[i].modseq <= r->changedsince)
			continue;
		for (size_t c = 0; c < n_changed; c++)
			if (changed[c].uid == rows[i].uid) {
				rows[i].flags = changed[c].flags;
				rows[i].modseq = changed[c].modseq;
				flags_changed = true;
			}
		render_row(fj, db, &rows[i], seq, flags_changed, pre, pre ? fj->b_lens[bi - 1] : 0);
		if (buf_len(&fj->out) >= LIMIT_IMAP_FETCH_BYTES && i + 1 < n_rows) {
			/* the rest of this batch goes in the next job */
			size_t k = fj->first;

			while (k < end && r->todo[k] <= rows[i].uid)
				k++;
			fj->end = k;
			break;
		}
	}
	/* the skip list: our own \Seen changes rendered here; those of rows
	 * left for the next job go out through the sync */
	if (n_changed > 0) {
		jj->skip = xcalloc(n_changed, sizeof(uint32_t));
		for (size_t c = 0; c < n_changed; c++)
			if (changed[c].uid <= last)
				jj->skip[jj->n_skip++] = changed[c].uid;
	}
	imap_store_flags_free(changed, n_changed);
	imap_store_rows_free(rows, n_rows);
}

/* ---------- loop: batches ---------- */

static void fetch_submit(struct imap_session *s, struct fetch_req *r);

static void fetch_next(struct imap_session *s)
{
	struct fetch_req *r = s->cont_data;

	s->cont_data = NULL;
	s->cont_free = NULL;
	if (r == NULL || r->next >= r->n_todo) {
		bool unknown_cte = r != NULL && r->unknown_cte;
		bool quiet = r != NULL && r->quiet;

		req_free(r);
		if (!quiet && unknown_cte)	/* quiet: NOTIFY MessageNew, untagged only */
			imap_tagged(s, "NO", "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
		else if (!quiet)
			imap_tagged(s, "OK", "FETCH completed");
		imap_session_resume(s);
		return;
	}
	fetch_submit(s, r);
}

static void fetch_cleanup(struct imap_job *jj)
{
	struct fetch_job *fj = (struct fetch_job *)jj;

	req_free(fj->req);
	buf_free(&fj->out);
	for (size_t i = 0; i < fj->n_b; i++)
		free(fj->b_data[i]);
	free(fj->b_data);
	free(fj->b_uids);
	free(fj->b_lens);
	free(fj->vanished);
}

static void fetch_finish(struct imap_session *s, struct imap_job *jj)
{
	struct fetch_job *fj = (struct fetch_job *)jj;
	struct fetch_req *r = fj->req;
	unsigned char *data;
	size_t len;

	if (jj->st != DB_OK) {
		if (!r->quiet)
			imap_tagged(s, "NO", "[UNAVAILABLE] Try again later");
		return;
	}
	if (fj->vanished != NULL)
		imap_vanished_send(s, fj->vanished, fj->n_vanished, r->vanished, true);
	r->next = fj->end;
	fj->req = NULL;
	s->cont_data = r;
	s->cont_free = req_free;
	len = buf_len(&fj->out);
	data = xmalloc(len > 0 ? len : 1);
	memcpy(data, buf_data(&fj->out), len);
	imap_session_stream(s, data, len, fetch_next);
}

static void fetch_submit(struct imap_session *s, struct fetch_req *r)
{
	struct fetch_job *fj = xcalloc(1, sizeof(*fj));

	fj->j.work = fetch_work;
	fj->j.finish = fetch_finish;
	fj->j.cleanup = fetch_cleanup;
	fj->req = r;
	fj->first = r->next;
	buf_init(&fj->out, FETCH_OUT_MAX);
	if (s->sel.n > 0) {
		fj->j.uids = xmalloc(s->sel.n * sizeof(uint32_t));
		memcpy(fj->j.uids, s->sel.uids, s->sel.n * sizeof(uint32_t));
		fj->j.n_uids = s->sel.n;
	}
	imap_recent_snapshot(s, &fj->j);
	imap_job_submit(s, &fj->j);
	if (s->wait != IMAP_WAIT_JOB && s->wait != IMAP_WAIT_NONE)
		imap_session_resume(s);	/* a later batch could not be queued */
}

/* ---------- parsing ---------- */

static int add_item(struct fetch_req *r, const struct imap_arg *a)
{
	static const struct {
		const char *name;
		enum fi_kind kind;
	} atoms[] = {
		{ "FLAGS", FI_FLAGS },
		{ "UID", FI_UID },
		{ "INTERNALDATE", FI_INTERNALDATE },
		{ "RFC822.SIZE", FI_SIZE },
		{ "ENVELOPE", FI_ENVELOPE },
		{ "BODYSTRUCTURE", FI_BODYSTRUCTURE },
		{ "BODY", FI_BODY },
		{ "RFC822", FI_RFC822 },
		{ "RFC822.HEADER", FI_RFC822_HEADER },
		{ "RFC822.TEXT", FI_RFC822_TEXT },
		{ "MODSEQ", FI_MODSEQ },
	};
	struct fetch_item *it;

	if (r->n_items >= 64)
		return -1;
	r->items = xrealloc(r->items, (r->n_items + 1) * sizeof(*r->items));
	it = &r->items[r->n_items];
	memset(it, 0, sizeof(*it));
	if (a->type == IMAP_ARG_SECTION) {
		const struct imap_section *sec = a->section;

		it->kind = sec->kind == IMAP_FETCH_BINARY_SIZE ? FI_BINARY_SIZE
			   : sec->kind == IMAP_FETCH_BINARY || sec->kind == IMAP_FETCH_BINARY_PEEK
				   ? FI_BINARY
				   : FI_SECTION;
		it->peek = sec->kind == IMAP_FETCH_BODY_PEEK || sec->kind == IMAP_FETCH_BINARY_PEEK ||
			   sec->kind == IMAP_FETCH_BINARY_SIZE;
		it->spec = xstrdup(sec->spec != NULL ? sec->spec : "");
		it->partial = sec->partial;
		it->off = sec->partial_offset;
		it->len = sec->partial_length;
		if (sec->n_fields > 0) {
			it->fields = xcalloc(sec->n_fields, sizeof(char *));
			for (unsigned k = 0; k < sec->n_fields; k++)
				it->fields[k] = xstrdup(sec->fields[k]);
			it->n_fields = sec->n_fields;
		}
		if (!it->peek)
			r->seen = true;
		r->n_items++;
		return 0;
	}
	if (a->type != IMAP_ARG_ATOM)
		return -1;
	for (size_t i = 0; i < sizeof(atoms) / sizeof(atoms[0]); i++)
		if (strcasecmp(a->str, atoms[i].name) == 0) {
			it->kind = atoms[i].kind;
			if (it->kind == FI_RFC822 || it->kind == FI_RFC822_TEXT)
				r->seen = true;
			r->n_items++;
			return 0;
		}
	return -1;
}

static int add_macro(struct fetch_req *r, const struct imap_arg *a)
{
	static const char *const fast[] = { "FLAGS", "INTERNALDATE", "RFC822.SIZE" };
	bool all = imap_arg_atom_is(a, "ALL"), full = imap_arg_atom_is(a, "FULL");
	struct imap_arg tmp;

	if (!all && !full && !imap_arg_atom_is(a, "FAST"))
		return 1;
	memset(&tmp, 0, sizeof(tmp));
	tmp.type = IMAP_ARG_ATOM;
	for (size_t i = 0; i < 3; i++) {
		tmp.str = fast[i];
		add_item(r, &tmp);
	}
	if (all || full) {
		tmp.str = "ENVELOPE";
		add_item(r, &tmp);
	}
	if (full) {
		tmp.str = "BODY";
		add_item(r, &tmp);
	}
	return 0;
}

/* The FETCH items: a list, a macro or one item. 0 or -1. */
static int parse_items(struct fetch_req *r, const struct imap_arg *items)
{
	int bad = 0;

	if (items->type == IMAP_ARG_LIST) {
		for (unsigned i = 0; i < items->list_count && bad == 0; i++)
			bad = add_item(r, &items->list[i]);
		if (items->list_count == 0)
			bad = -1;
	} else {
		int m = add_macro(r, items);

		bad = m == 0 ? 0 : add_item(r, items);
	}
	return bad;
}

struct fetch_req *imap_fetch_template(const struct imap_arg *items)
{
	struct fetch_req *r = xcalloc(1, sizeof(*r));

	if (parse_items(r, items) != 0) {
		req_free(r);
		return NULL;
	}
	r->uid_cmd = true;	/* the UID tells the client which message it is */
	r->quiet = true;
	return r;
}

void imap_fetch_template_free(struct fetch_req **t)
{
	req_free(*t);
	*t = NULL;
}

void imap_fetch_quiet(struct imap_session *s, const struct fetch_req *t, const uint32_t *uids,
		      size_t n)
{
	struct fetch_req *r = xcalloc(1, sizeof(*r));

	*r = *t;
	r->items = xcalloc(t->n_items + 1, sizeof(*r->items));
	for (size_t i = 0; i < t->n_items; i++) {
		struct fetch_item *it = &r->items[i];

		*it = t->items[i];
		it->spec = t->items[i].spec != NULL ? xstrdup(t->items[i].spec) : NULL;
		it->fields = it->n_fields > 0 ? xcalloc(it->n_fields, sizeof(char *)) : NULL;
		for (unsigned k = 0; k < it->n_fields; k++)
			it->fields[k] = xstrdup(t->items[i].fields[k]);
	}
	r->todo = xcalloc(n + 1, sizeof(*r->todo));
	memcpy(r->todo, uids, n * sizeof(*uids));
	r->n_todo = n;
	r->readonly = s->sel.readonly;
	r->condstore = s->condstore;
	s->idle_job = true;	/* a refused submit answers nothing */
	fetch_submit(s, r);
	s->idle_job = false;
}

/* FETCH modifiers (RFC 4466 2.4, RFC 7162 3.1.4, 3.2.6): (CHANGEDSINCE
 * modseq [VANISHED]); VANISHED only in UID FETCH after ENABLE QRESYNC.
 * 0, or -1 after answering BAD. */
static int fetch_modifiers(struct imap_session *s, struct fetch_req *r, const struct imap_arg *m,
			   bool uid)
{
	bool vanished = false, have_since = false;
	uint64_t since = 0;

	if (m->type == IMAP_ARG_EOL)
		return 0;
	if (m->type != IMAP_ARG_LIST || m[1].type != IMAP_ARG_EOL) {
		imap_error(s, "BAD", "FETCH set items [(modifiers)]");
		return -1;
	}
	for (unsigned i = 0; i < m->list_count; i++) {
		const struct imap_arg *a = &m->list[i];

		if (imap_arg_atom_is(a, "CHANGEDSINCE") && i + 1 < m->list_count &&
		    imap_arg_u64(&m->list[i + 1], INT64_MAX, &since) == 0) {
			have_since = true;
			i++;
		} else if (imap_arg_atom_is(a, "VANISHED")) {
			vanished = true;
		} else {
			imap_error(s, "BAD", "Unknown FETCH modifier");
			return -1;
		}
	}
	if (!have_since) {
		imap_error(s, "BAD", "CHANGEDSINCE modseq expected");
		return -1;
	}
	if (vanished && (!uid || !s->qresync)) {
		imap_error(s, "BAD", "VANISHED needs UID FETCH and ENABLE QRESYNC");
		return -1;
	}
	s->condstore = true;
	r->changedsince = (int64_t)since;
	r->changedsince_given = true;
	r->vanished_wanted = vanished;
	return 0;
}

void imap_cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd, bool uid,
		    const struct imap_arg *args)
{
	struct fetch_req *r = xcalloc(1, sizeof(*r));
	const struct imap_arg *items = &args[1];
	int bad = 0;

	(void)cmd;
	r->uid_cmd = uid;
	if (fetch_modifiers(s, r, &args[2], uid) < 0) {
		req_free(r);
		return;
	}
	r->readonly = s->sel.readonly;
	bad = parse_items(r, items);
	if (bad != 0) {
		req_free(r);
		imap_error(s, "BAD", "Invalid FETCH item");
		return;
	}
	if (r->changedsince_given && !has_item(r, FI_MODSEQ)) {
		struct imap_arg ms;

		memset(&ms, 0, sizeof(ms));
		ms.type = IMAP_ARG_ATOM;
		ms.str = "MODSEQ";
		ms.len = 6;
		add_item(r, &ms);
	}
	if (has_item(r, FI_MODSEQ))
		s->condstore = true;	/* RFC 7162 3.1 */
	r->condstore = s->condstore;
	if (imap_seqset_uids(s, &args[0], uid, &r->todo, &r->n_todo) < 0) {
		req_free(r);
		return;
	}
	if (r->vanished_wanted) {
		const char *err = NULL;

		if (imap_seqset_parse(args[0].str, args[0].len, &r->vanished, &err) < 0) {
			req_free(r);
			imap_error(s, "BAD", "%s", err != NULL ? err : "Invalid sequence set");
			return;
		}
		imap_seqset_resolve(r->vanished,
				    s->sel.uidnext > 1 ? (uint32_t)(s->sel.uidnext - 1) : 0);
	}
	if (r->n_todo == 0 && r->vanished == NULL) {
		req_free(r);
		imap_tagged(s, "OK", "FETCH completed");
		return;
	}
	fetch_submit(s, r);
}
