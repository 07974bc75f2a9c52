/* imap_store.c - typed queries of the IMAP server (imap_store.h): mailbox
 * management, the MODSEQ-based sync that feeds untagged EXISTS / EXPUNGE /
 * FETCH FLAGS, message rows with their stored metadata (computed once by
 * imap_store_meta_compute at APPEND or on first FETCH), STORE, COPY/MOVE
 * and APPEND each in one transaction with UIDs from the mailbox row.
 * Statements live in stmt.c (STMT_IMAP_*). */
#include <arpa/inet.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "db/imap_store.h"
#include "db/store.h"
#include "lib/digest.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/strnum.h"
#include "mail/mime.h"

#define IMAP_META_MAX (4 * 1024 * 1024)	/* one rendered ENVELOPE/BODYSTRUCTURE/part table */

static enum db_status run(struct db *db, enum db_stmt id, int n, const char *const *values)
{
	enum db_status st;

	PQclear(db_exec(db, id, n, values, NULL, NULL, &st));
	return st;
}

static char *col_dup(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return xstrdup(PQgetvalue(res, row, col));
}

/* ---------- mailboxes ---------- */

enum db_status imap_store_list(struct db *db, int64_t account_id, struct imap_store_mbox **out,
			       size_t *n_r)
{
	char acc[24];
	const char *p[1] = { acc };
	enum db_status st;
	PGresult *res;
	int n;

	*out = NULL;
	*n_r = 0;
	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	res = db_exec(db, STMT_IMAP_LIST, 1, p, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		return st;
	}
	n = PQntuples(res);
	if (n > 0)
		*out = xcalloc((size_t)n, sizeof(**out));
	for (int i = 0; i < n; i++) {
		struct imap_store_mbox *m = &(*out)[i];

		m->id = db_col_i64(res, i, 0);
		m->name = xstrdup(PQgetvalue(res, i, 1));
		snprintf(m->special_use, sizeof(m->special_use), "%s", PQgetvalue(res, i, 2));
		m->subscribed = PQgetvalue(res, i, 3)[0] == 't';
	}
	*n_r = (size_t)n;
	PQclear(res);
	return DB_OK;
}

void imap_store_mboxes_free(struct imap_store_mbox *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].name);
	free(m);
}

/* id, uidvalidity, uidnext, highestmodseq from the first four columns */
static void mbox_info_read(const PGresult *res, struct imap_store_mbox_info *out)
{
	out->id = db_col_i64(res, 0, 0);
	out->uidvalidity = db_col_i64(res, 0, 1);
	out->uidnext = db_col_i64(res, 0, 2);
	out->highestmodseq = db_col_i64(res, 0, 3);
}

enum db_status imap_store_mailbox_get(struct db *db, int64_t account_id, const char *name,
				      struct imap_store_mbox_info *out, bool *found_r)
{
	char acc[24];
	const char *p[2] = { acc, name };
	enum db_status st;
	PGresult *res;

	*found_r = false;
	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	res = db_exec(db, STMT_IMAP_MAILBOX_GET, 2, p, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		*found_r = true;
		mbox_info_read(res, out);
	}
	PQclear(res);
	return st;
}

enum db_status imap_store_create(struct db *db, int64_t account_id, const char *name,
				 bool *exists_r)
{
	char acc[24];
	const char *p[2] = { acc, name };
	enum db_status st;
	PGresult *res;

	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	res = db_exec(db, STMT_IMAP_CREATE, 2, p, NULL, NULL, &st);
	*exists_r = st == DB_OK && PQntuples(res) == 0;
	PQclear(res);
	return st;
}

enum db_status imap_store_create_use(struct db *db, int64_t account_id, const char *name,
				     const char *use, enum imap_store_create_result *result_r)
{
	char acc[24];
	const char *p[3] = { acc, name, use };
	enum db_status st;
	PGresult *res;

	*result_r = IMAP_STORE_NAME_TAKEN;
	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	if ((st = db_begin(db)) != DB_OK)
		return st;
	st = run(db, STMT_IMAP_CREATE_USE_LOCK, 1, p);
	if (st == DB_OK) {
		res = db_exec(db, STMT_IMAP_CREATE_USE, 3, p, NULL, NULL, &st);
		if (st == DB_OK && PQntuples(res) == 1) {
			if (db_col_i64(res, 0, 0) == 1)
				*result_r = IMAP_STORE_CREATED;
			else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0 && !PQgetisnull(res, 0, 2))
				*result_r = IMAP_STORE_USE_TAKEN;
		}
		PQclear(res);
	}
	if (st != DB_OK) {
		db_rollback(db);
		return st;
	}
	return db_commit(db);
}

enum db_status imap_store_delete(struct db *db, int64_t account_id, const char *name,
				 bool *found_r)
{
	char acc[24];
	const char *p[2] = { acc, name };
	enum db_status st;
	PGresult *res;
	char *blobs = NULL;

	*found_r = false;
	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	if ((st = db_begin(db)) != DB_OK)
		return st;
	res = db_exec(db, STMT_IMAP_DELETE, 2, p, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		*found_r = db_col_i64(res, 0, 0) > 0;
		blobs = xstrdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	if (st == DB_OK && blobs != NULL && strcmp(blobs, "{}") != 0)
		st = db_blob_gc(db, blobs);
	free(blobs);
	if (st != DB_OK) {
		db_rollback(db);
		return st;
	}
	return db_commit(db);
}

enum db_status imap_store_rename(struct db *db, int64_t account_id, const char *from,
				 const char *to, int *result_r)
{
	char acc[24];
	const char *p[3] = { acc, from, to };
	enum db_status st;
	PGresult *res;

	*result_r = 1;
	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	res = db_exec(db, STMT_IMAP_RENAME, 3, p, NULL, NULL, &st);
	if (st == DB_OK)
		*result_r = PQntuples(res) > 0 ? 0 : 1;
	else if (st == DB_CONFLICT) {
		*result_r = 2;
		st = DB_OK;
	}
	PQclear(res);
	return st;
}

enum db_status imap_store_subscribe(struct db *db, int64_t account_id, const char *name, bool on,
				    bool *found_r)
{
	char acc[24];
	const char *p[3] = { acc, name, on ? "true" : "false" };
	enum db_status st;
	PGresult *res;

	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	res = db_exec(db, STMT_IMAP_SUBSCRIBE, 3, p, NULL, NULL, &st);
	*found_r = st == DB_OK && PQntuples(res) > 0;
	PQclear(res);
	return st;
}

enum db_status imap_store_status(struct db *db, int64_t account_id, const char *name,
				 struct imap_store_status *out, bool *found_r)
{
	char acc[24];
	const char *p[2] = { acc, name };
	enum db_status st;
	PGresult *res;

	*found_r = false;
	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	res = db_exec(db, STMT_IMAP_STATUS, 2, p, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		*found_r = true;
		out->messages = db_col_i64(res, 0, 0);
		out->unseen = db_col_i64(res, 0, 1);
		out->size = db_col_i64(res, 0, 2);
		out->uidnext = db_col_i64(res, 0, 3);
		out->uidvalidity = db_col_i64(res, 0, 4);
		out->highestmodseq = db_col_i64(res, 0, 5);
		out->deleted = db_col_i64(res, 0, 6);
		out->recent = db_col_i64(res, 0, 7);
	}
	PQclear(res);
	return st;
}

/* ---------- sync ---------- */

enum db_status imap_store_sync(struct db *db, int64_t mailbox_id, int64_t since,
			       struct imap_store_sync *out)
{
	char mb[24], sn[24];
	const char *p[2] = { mb, sn };
	enum db_status st;
	PGresult *res;
	int n;

	memset(out, 0, sizeof(*out));
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	snprintf(sn, sizeof(sn), "%lld", (long long)since);
	res = db_exec(db, STMT_IMAP_SYNC, 2, p, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		return st;
	}
	n = PQntuples(res);
	out->gone = true;
	if (n > 0) {
		out->expunged = xcalloc((size_t)n, sizeof(*out->expunged));
		out->msgs = xcalloc((size_t)n, sizeof(*out->msgs));
	}
	for (int i = 0; i < n; i++) {
		int k = (int)db_col_i64(res, i, 0);

		if (k == 0) {
			out->gone = false;
			out->highestmodseq = db_col_i64(res, i, 1);
			out->uidnext = db_col_i64(res, i, 2);
			out->recent_uid = db_col_i64(res, i, 3);
		} else if (k == 1) {
			out->expunged[out->n_expunged++] = (uint32_t)db_col_i64(res, i, 1);
		} else {
			struct imap_store_flags *f = &out->msgs[out->n_msgs++];

			f->uid = (uint32_t)db_col_i64(res, i, 1);
			f->flags = (int)db_col_i64(res, i, 3);
			f->keywords = xstrdup(PQgetvalue(res, i, 4));
			f->modseq = db_col_i64(res, i, 2);
		}
	}
	PQclear(res);
	return DB_OK;
}

void imap_store_sync_free(struct imap_store_sync *s)
{
	free(s->expunged);
	imap_store_flags_free(s->msgs, s->n_msgs);
	memset(s, 0, sizeof(*s));
}

void imap_store_flags_free(struct imap_store_flags *f, size_t n)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(f[i].keywords);
	free(f);
}

/* ---------- metadata ---------- */

static char *buf_take_str(struct buf *b)
{
	char *s = xmalloc(buf_len(b) + 1);

	memcpy(s, buf_data(b), buf_len(b));
	s[buf_len(b)] = '\0';
	buf_free(b);
	return s;
}

int imap_store_meta_compute(const unsigned char *msg, size_t len, struct imap_store_meta *out)
{
	struct mime_tree *tree = mime_parse(msg, len);
	struct buf env, bs, body, parts;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	buf_init(&env, IMAP_META_MAX);
	buf_init(&bs, IMAP_META_MAX);
	buf_init(&body, IMAP_META_MAX);
	buf_init(&parts, IMAP_META_MAX);
	if (mime_render_envelope(tree, msg, 0, &env) < 0 ||
	    mime_render_bodystructure(tree, msg, 0, true, &bs) < 0 ||
	    mime_render_bodystructure(tree, msg, 0, false, &body) < 0 ||
	    mime_serialize(tree, &parts) < 0) {
		buf_free(&env);
		buf_free(&bs);
		buf_free(&body);
		buf_free(&parts);
		rc = -1;
	} else {
		out->envelope = buf_take_str(&env);
		out->bodystructure = buf_take_str(&bs);
		out->body = buf_take_str(&body);
		out->parts = buf_take_str(&parts);
	}
	mime_tree_free(&tree);
	return rc;
}

void imap_store_meta_free(struct imap_store_meta *m)
{
	xfree(m->envelope);
	xfree(m->bodystructure);
	xfree(m->body);
	xfree(m->parts);
}

enum db_status imap_store_meta_save(struct db *db, int64_t blob_id,
				    const struct imap_store_meta *m)
{
	char bl[24];
	const char *p[5] = { bl, m->envelope, m->bodystructure, m->body, m->parts };

	snprintf(bl, sizeof(bl), "%lld", (long long)blob_id);
	return run(db, STMT_IMAP_META_SAVE, 5, p);
}

/* ---------- rows and bodies ---------- */

enum db_status imap_store_rows(struct db *db, int64_t mailbox_id, const uint32_t *uids, size_t n_uids,
			       struct imap_store_row **out, size_t *n_r)
{
	char mb[24], lo[16], hi[16];
	/* at least half of the range asked for: read the range, drop the rest */
	bool dense = (uint64_t)uids[n_uids - 1] - uids[0] + 1 <= 2 * (uint64_t)n_uids;
	char *arr = dense ? NULL : db_array_u32(uids, n_uids);
	const char *p[4] = { mb, lo, hi, arr };
	enum db_status st;
	PGresult *res;
	size_t k = 0, w = 0;
	int n;

	*out = NULL;
	*n_r = 0;
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	snprintf(lo, sizeof(lo), "%u", uids[0]);
	snprintf(hi, sizeof(hi), "%u", uids[n_uids - 1]);
	res = db_exec(db, STMT_IMAP_ROWS, 4, p, NULL, NULL, &st);
	free(arr);
	if (st != DB_OK) {
		PQclear(res);
		return st;
	}
	n = PQntuples(res);
	if (n > 0)
		*out = xcalloc((size_t)n, sizeof(**out));
	for (int i = 0; i < n; i++) {
		struct imap_store_row *r = &(*out)[w];
		uint32_t uid = (uint32_t)db_col_i64(res, i, 0);

		while (k < n_uids && uids[k] < uid)	/* both ascend */
			k++;
		if (k == n_uids || uids[k] != uid)
			continue;	/* in the range, not asked for */
		w++;
		r->uid = uid;
		r->flags = (int)db_col_i64(res, i, 1);
		r->keywords = xstrdup(PQgetvalue(res, i, 2));
		r->internal_date = db_col_i64(res, i, 3);
		r->size = db_col_i64(res, i, 4);
		r->blob_id = db_col_i64(res, i, 5);
		r->meta.envelope = col_dup(res, i, 6);
		r->meta.bodystructure = col_dup(res, i, 7);
		r->meta.body = col_dup(res, i, 8);
		r->meta.parts = col_dup(res, i, 9);
		r->modseq = db_col_i64(res, i, 10);
	}
	*n_r = w;
	PQclear(res);
	return DB_OK;
}

void imap_store_rows_free(struct imap_store_row *rows, size_t n)
{
	if (rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].keywords);
		imap_store_meta_free(&rows[i].meta);
	}
	free(rows);
}

enum db_status imap_store_body(struct db *db, int64_t mailbox_id, uint32_t uid,
			       unsigned char **data_r, size_t *len_r, bool *found_r)
{
	return db_message_body(db, mailbox_id, uid, data_r, len_r, found_r);
}

enum db_status imap_store_bodies(struct db *db, int64_t mailbox_id, const char *uids,
				 size_t header_cap, uint32_t **uids_r, unsigned char ***data_r,
				 size_t **lens_r, size_t *n_r)
{
	char mb[24], cap[24];
	const char *p[3] = { mb, uids, cap };
	enum db_status st;
	PGresult *res;
	int n;

	*uids_r = NULL;
	*data_r = NULL;
	*lens_r = NULL;
	*n_r = 0;
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	snprintf(cap, sizeof(cap), "%zu", header_cap);
	res = db_exec_binary(db, STMT_IMAP_BODIES, 3, p, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		return st;
	}
	n = PQntuples(res);
	if (n > 0) {
		*uids_r = xcalloc((size_t)n, sizeof(**uids_r));
		*data_r = xcalloc((size_t)n, sizeof(**data_r));
		*lens_r = xcalloc((size_t)n, sizeof(**lens_r));
	}
	for (int i = 0; i < n; i++) {
		uint64_t be = 0;
		size_t len = (size_t)PQgetlength(res, i, 1);

		if (PQgetlength(res, i, 0) == 8)
			memcpy(&be, PQgetvalue(res, i, 0), 8);
		(*uids_r)[i] = (uint32_t)be64toh(be);
		(*data_r)[i] = xmalloc(len + 1);
		memcpy((*data_r)[i], PQgetvalue(res, i, 1), len);
		(*lens_r)[i] = len;
	}
	*n_r = (size_t)n;
	PQclear(res);
	return DB_OK;
}

/* ---------- flags and expunge ---------- */

enum db_status imap_store_set_flags(struct db *db, int64_t mailbox_id, const char *uids, char op,
				    int flags, const char *keywords,
				    struct imap_store_flags **out, size_t *n_r)
{
	uint32_t *modified = NULL;
	size_t n_modified = 0;
	enum db_status st;

	st = imap_store_set_flags_unchanged(db, mailbox_id, uids, op, flags, keywords, -1, out, n_r,
					    &modified, &n_modified);
	free(modified);
	return st;
}

static enum db_status uid_list(PGresult *res, uint32_t **out, size_t *n_r)
{
	int n = PQntuples(res);

	*out = NULL;
	*n_r = 0;
	if (n > 0)
		*out = xcalloc((size_t)n, sizeof(**out));
	for (int i = 0; i < n; i++)
		(*out)[i] = (uint32_t)db_col_i64(res, i, 0);
	*n_r = (size_t)n;
	return DB_OK;
}

static enum db_status expunge_once(struct db *db, int64_t account_id, int64_t mailbox_id,
				   const char *uids, uint32_t **out, size_t *n_r)
{
	char acc[24], mb[24], modseq[24];
	const char *pb[2] = { mb, acc };
	enum db_status st;
	PGresult *res;
	char *blobs = NULL, *list = NULL, *bytes = NULL;
	int64_t count = 0;

	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	if ((st = db_begin(db)) != DB_OK)
		return st;
	res = db_exec(db, STMT_EXPUNGE_BUMP, 2, pb, NULL, NULL, &st);
	if (st != DB_OK || PQntuples(res) != 1) {
		PQclear(res);
		db_rollback(db);
		return st;	/* no such mailbox of this account: nothing to do */
	}
	snprintf(modseq, sizeof(modseq), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	const char *pe[3] = { mb, uids, modseq };
	res = db_exec(db, STMT_IMAP_EXPUNGE, 3, pe, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		count = db_col_i64(res, 0, 0);
		bytes = xstrdup(PQgetvalue(res, 0, 1));
		blobs = xstrdup(PQgetvalue(res, 0, 2));
		list = xstrdup(PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	if (st != DB_OK || count == 0) {
		db_rollback(db);	/* nothing was \Deleted: no MODSEQ bump */
		goto out;
	}
	{
		const char *pu[2] = { acc, bytes };
		const char *pn[1] = { mb };

		st = run(db, STMT_ACCOUNT_UNCHARGE, 2, pu);
		if (st == DB_OK)
			st = db_blob_gc(db, blobs);
		if (st == DB_OK)
			st = run(db, STMT_NOTIFY_MAILBOX, 1, pn);
	}
	if (st != DB_OK) {
		db_rollback(db);
		goto out;
	}
	st = db_commit(db);
	if (st == DB_OK) {
		const char *p = list;

		*out = xcalloc((size_t)count, sizeof(**out));
		while (*p != '\0' && *n_r < (size_t)count) {
			char *end;
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			(*out)[(*n_r)++] = (uint32_t)v;
			p = end;
			while (*p == ' ')
				p++;
		}
	}
out:
	free(bytes);
	free(blobs);
	free(list);
	return st;
}

enum db_status imap_store_expunge(struct db *db, int64_t account_id, int64_t mailbox_id,
				  const char *uids, uint32_t **out, size_t *n_r)
{
	enum db_status st = DB_RETRY;

	for (int i = 0; i < LIMIT_DELIVER_RETRIES && st == DB_RETRY; i++) {
		free(*out);
		*out = NULL;
		*n_r = 0;
		st = expunge_once(db, account_id, mailbox_id, uids, out, n_r);
	}
	return st;
}

/* ---------- COPY / MOVE ---------- */

static enum db_status copy_once(struct db *db, int64_t account_id, int64_t src_mailbox,
				const char *uids, const char *dest, bool move, bool *found_r,
				bool *over_quota_r, struct imap_store_copy *out)
{
	char acc[24], src[24], dst[24], next[24], bytes[24], modseq[24];
	const char *pl[2] = { acc, dest };
	enum db_status st;
	PGresult *res;
	int64_t total = 0;
	int n;

	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	snprintf(src, sizeof(src), "%lld", (long long)src_mailbox);
	if ((st = db_begin(db)) != DB_OK)
		return st;
	res = db_exec(db, STMT_IMAP_MAILBOX_LOCK, 2, pl, NULL, NULL, &st);
	if (st != DB_OK || PQntuples(res) != 1) {
		PQclear(res);
		db_rollback(db);
		return st;
	}
	*found_r = true;
	out->dest_id = db_col_i64(res, 0, 0);
	out->dest_uidvalidity = db_col_i64(res, 0, 1);
	snprintf(dst, sizeof(dst), "%lld", (long long)out->dest_id);
	snprintf(next, sizeof(next), "%s", PQgetvalue(res, 0, 2));
	PQclear(res);

	const char *pc[4] = { src, uids, dst, next };
	res = db_exec(db, STMT_IMAP_COPY, 4, pc, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		db_rollback(db);
		return st;
	}
	n = PQntuples(res);
	if (n > 0) {
		out->src = xcalloc((size_t)n, sizeof(*out->src));
		out->dst = xcalloc((size_t)n, sizeof(*out->dst));
	}
	for (int i = 0; i < n; i++) {
		out->src[i] = (uint32_t)db_col_i64(res, i, 0);
		out->dst[i] = (uint32_t)db_col_i64(res, i, 1);
		total += db_col_i64(res, i, 2);
	}
	out->n = (size_t)n;
	PQclear(res);

	if (!move && n > 0) {
		const char *pq[2] = { acc, bytes };

		snprintf(bytes, sizeof(bytes), "%lld", (long long)total);
		res = db_exec(db, STMT_IMAP_CHARGE, 2, pq, NULL, NULL, &st);
		if (st == DB_OK && PQntuples(res) == 0)
			*over_quota_r = true;
		PQclear(res);
		if (st != DB_OK || *over_quota_r) {
			db_rollback(db);
			return st;
		}
	}
	if (move && n > 0) {
		const char *pb[2] = { src, acc };

		res = db_exec(db, STMT_EXPUNGE_BUMP, 2, pb, NULL, NULL, &st);
		if (st != DB_OK || PQntuples(res) != 1) {
			PQclear(res);
			db_rollback(db);
			return st != DB_OK ? st : DB_ERROR;
		}
		snprintf(modseq, sizeof(modseq), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		const char *pe[3] = { src, uids, modseq };
		st = run(db, STMT_EXPUNGE_UIDS, 3, pe);
		if (st == DB_OK) {
			const char *pn[1] = { src };

			st = run(db, STMT_NOTIFY_MAILBOX, 1, pn);
		}
		if (st != DB_OK) {
			db_rollback(db);
			return st;
		}
	}
	return db_commit(db);
}

enum db_status imap_store_copy(struct db *db, int64_t account_id, int64_t src_mailbox,
			       const char *uids, const char *dest, bool move, bool *found_r,
			       bool *over_quota_r, struct imap_store_copy *out)
{
	enum db_status st = DB_RETRY;

	for (int i = 0; i < LIMIT_DELIVER_RETRIES && st == DB_RETRY; i++) {
		imap_store_copy_free(out);
		*found_r = false;
		*over_quota_r = false;
		st = copy_once(db, account_id, src_mailbox, uids, dest, move, found_r, over_quota_r,
			       out);
	}
	return st;
}

void imap_store_copy_free(struct imap_store_copy *c)
{
	free(c->src);
	free(c->dst);
	memset(c, 0, sizeof(*c));
}

/* ---------- APPEND ---------- */

static enum db_status append_once(struct db *db, int64_t account_id, const char *name,
				  const struct imap_store_append *a,
				  const struct imap_store_mark *mark, bool *found_r,
				  bool *over_quota_r, int64_t *uidvalidity_r, uint32_t *uid_r)
{
	char acc[24], mb[24], size[24], blob[24], fl[16], date[24];
	unsigned char hash[DIGEST_SHA256_BYTES];
	const char *pl[2] = { acc, name };
	enum db_status st;
	PGresult *res;

	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	snprintf(size, sizeof(size), "%zu", a->len);
	if ((st = db_begin(db)) != DB_OK)
		return st;
	res = db_exec(db, STMT_IMAP_MAILBOX_LOCK, 2, pl, NULL, NULL, &st);
	if (st != DB_OK || PQntuples(res) != 1) {
		PQclear(res);
		db_rollback(db);
		return st;
	}
	*found_r = true;
	snprintf(mb, sizeof(mb), "%s", PQgetvalue(res, 0, 0));
	*uidvalidity_r = db_col_i64(res, 0, 1);
	PQclear(res);

	const char *pq[2] = { acc, size };
	res = db_exec(db, STMT_IMAP_CHARGE, 2, pq, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 0)
		*over_quota_r = true;
	PQclear(res);
	if (st != DB_OK || *over_quota_r) {
		db_rollback(db);
		return st;
	}

	digest_sha256(hash, a->msg, a->len);
	const char *pb[3] = { (const char *)hash, size, (const char *)a->msg };
	const int lb[3] = { (int)sizeof(hash), 0, (int)a->len };
	const int fb[3] = { 1, 0, 1 };
	res = db_exec(db, STMT_BLOB_PUT, 3, pb, lb, fb, &st);
	if (st != DB_OK || PQntuples(res) != 1) {
		PQclear(res);
		db_rollback(db);
		return st != DB_OK ? st : DB_ERROR;
	}
	snprintf(blob, sizeof(blob), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);

	snprintf(fl, sizeof(fl), "%d", a->flags);
	snprintf(date, sizeof(date), "%lld", (long long)a->internal_date);
	const struct imap_store_meta *m = a->meta;
	const char *pa[10] = { mb, blob, size, fl, a->keywords, a->internal_date > 0 ? date : NULL,
			       m ? m->envelope : NULL, m ? m->bodystructure : NULL,
			       m ? m->body : NULL, m ? m->parts : NULL };
	res = db_exec(db, STMT_IMAP_APPEND, 10, pa, NULL, NULL, &st);
	if (st != DB_OK || PQntuples(res) != 1) {
		PQclear(res);
		db_rollback(db);
		return st != DB_OK ? st : DB_ERROR;
	}
	*uid_r = (uint32_t)db_col_i64(res, 0, 0);
	PQclear(res);
	if (mark != NULL) {
		res = db_exec(db, mark->stmt, mark->nparams, mark->params, NULL, NULL, &st);
		PQclear(res);
		if (st != DB_OK) {
			db_rollback(db);
			return st;
		}
	}
	return db_commit(db);
}

enum db_status imap_store_append_marked(struct db *db, int64_t account_id, const char *name,
					const struct imap_store_append *a,
					const struct imap_store_mark *mark, bool *found_r,
					bool *over_quota_r, int64_t *uidvalidity_r, uint32_t *uid_r)
{
	enum db_status st = DB_RETRY;

	for (int i = 0; i < LIMIT_DELIVER_RETRIES && st == DB_RETRY; i++) {
		*found_r = false;
		*over_quota_r = false;
		st = append_once(db, account_id, name, a, mark, found_r, over_quota_r,
				 uidvalidity_r, uid_r);
	}
	return st;
}

enum db_status imap_store_append(struct db *db, int64_t account_id, const char *name,
				 const struct imap_store_append *a, bool *found_r,
				 bool *over_quota_r, int64_t *uidvalidity_r, uint32_t *uid_r)
{
	return imap_store_append_marked(db, account_id, name, a, NULL, found_r, over_quota_r,
					uidvalidity_r, uid_r);
}

/* ---------- imapa: CONDSTORE / QRESYNC, QUOTA ---------- */

enum db_status imap_store_set_flags_unchanged(struct db *db, int64_t mailbox_id, const char *uids,
					      char op, int flags, const char *keywords,
					      int64_t unchanged_since, struct imap_store_flags **out,
					      size_t *n_r, uint32_t **modified_r, size_t *n_modified_r)
{
	char mb[24], fl[16], us[24], o[2] = { op, '\0' };
	const char *p[6] = { mb, uids, o, fl, keywords, unchanged_since >= 0 ? us : NULL };
	enum db_status st;
	PGresult *res;
	int n;

	*out = NULL;
	*n_r = 0;
	*modified_r = NULL;
	*n_modified_r = 0;
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	snprintf(fl, sizeof(fl), "%d", flags);
	snprintf(us, sizeof(us), "%lld", (long long)unchanged_since);
	res = db_exec(db, STMT_IMAP_SET_FLAGS, 6, p, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		return st;
	}
	n = PQntuples(res);
	if (n > 0) {
		*out = xcalloc((size_t)n, sizeof(**out));
		*modified_r = xcalloc((size_t)n, sizeof(**modified_r));
	}
	for (int i = 0; i < n; i++) {
		uint32_t uid = (uint32_t)db_col_i64(res, i, 0);

		if (db_col_i64(res, i, 4) == 0) {
			(*modified_r)[(*n_modified_r)++] = uid;
			continue;
		}
		(*out)[*n_r].uid = uid;
		(*out)[*n_r].flags = (int)db_col_i64(res, i, 1);
		(*out)[*n_r].keywords = xstrdup(PQgetvalue(res, i, 2));
		(*out)[*n_r].modseq = db_col_i64(res, i, 3);
		(*n_r)++;
	}
	PQclear(res);
	return DB_OK;
}

enum db_status imap_store_vanished(struct db *db, int64_t mailbox_id, int64_t since,
				   uint32_t **out, size_t *n_r)
{
	char mb[24], sn[24];
	const char *p[2] = { mb, sn };
	enum db_status st;
	PGresult *res;

	*out = NULL;
	*n_r = 0;
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	snprintf(sn, sizeof(sn), "%lld", (long long)since);
	res = db_exec(db, STMT_IMAP_VANISHED, 2, p, NULL, NULL, &st);
	if (st == DB_OK)
		st = uid_list(res, out, n_r);
	PQclear(res);
	return st;
}

enum db_status imap_store_quota(struct db *db, int64_t account_id, int64_t *quota_r,
				int64_t *used_r)
{
	char ac[24];
	const char *p[1] = { ac };
	enum db_status st;
	PGresult *res;

	*quota_r = 0;
	*used_r = 0;
	snprintf(ac, sizeof(ac), "%lld", (long long)account_id);
	res = db_exec(db, STMT_IMAP_QUOTA, 1, p, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		*quota_r = db_col_i64(res, 0, 0);
		*used_r = db_col_i64(res, 0, 1);
	}
	PQclear(res);
	return st;
}

/* ---------- recent: \Recent (RFC 3501 2.3.2) ---------- */

enum db_status imap_store_recent_select(struct db *db, int64_t account_id, const char *name,
					bool claim, struct imap_store_mbox_info *out, bool *found_r,
					int64_t *from_r, int64_t *to_r)
{
	char acc[24];
	const char *p[3] = { acc, name, claim ? "true" : "false" };
	enum db_status st;
	PGresult *res;

	*found_r = false;
	*from_r = *to_r = 0;
	snprintf(acc, sizeof(acc), "%lld", (long long)account_id);
	res = db_exec(db, STMT_RECENT_SELECT, 3, p, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		*found_r = true;
		mbox_info_read(res, out);
		if (!PQgetisnull(res, 0, 4)) {
			*from_r = db_col_i64(res, 0, 4);
			*to_r = db_col_i64(res, 0, 5);
		}
	}
	PQclear(res);
	return st;
}

enum db_status imap_store_recent_claim(struct db *db, int64_t mailbox_id, int64_t upto,
				       int64_t *from_r)
{
	char mb[24], up[24];
	const char *p[2] = { mb, up };
	enum db_status st;
	PGresult *res;

	*from_r = 0;
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	snprintf(up, sizeof(up), "%lld", (long long)upto);
	res = db_exec(db, STMT_RECENT_CLAIM, 2, p, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1)
		*from_r = db_col_i64(res, 0, 0);
	PQclear(res);
	return st;
}
