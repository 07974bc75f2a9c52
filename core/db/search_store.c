/* search_store.c - queries of the IMAP search index (search_store.h,
 * sql/006_search.sql, STMT_SEARCH_* in stmt.c): unindexed blobs read in
 * bounded batches (LIMIT_SEARCH_INDEX_BATCH bodies of at most
 * LIMIT_SEARCH_INDEX_FETCH octets), rows written in one transaction per
 * batch, ILIKE matches answered from the pg_trgm indexes, and the facts
 * and sort keys of every message of a mailbox. */
#include "db/search_store.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/strnum.h"

static int64_t col_i64(const PGresult *res, int row, int col)
{
	const char *s = PQgetvalue(res, row, col);
	uint64_t v = 0;
	bool neg = s[0] == '-';

	if (strnum_parse(s + neg, INT64_MAX, &v) < 0)
		return 0;
	return neg ? -(int64_t)v : (int64_t)v;
}

enum db_status search_store_unindexed(struct db *db, int64_t mailbox_id, int64_t **ids_r,
				      size_t *n_r)
{
	char mb[24];
	const char *p[1] = { mb };
	enum db_status st;
	PGresult *res;

	*ids_r = NULL;
	*n_r = 0;
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	res = db_exec(db, STMT_SEARCH_UNINDEXED, 1, p, NULL, NULL, &st);
	if (st == DB_OK) {
		int n = PQntuples(res);

		if (n > 0)
			*ids_r = xcalloc((size_t)n, sizeof(**ids_r));
		for (int i = 0; i < n; i++)
			(*ids_r)[i] = col_i64(res, i, 0);
		*n_r = (size_t)n;
	}
	PQclear(res);
	return st;
}

enum db_status search_store_blobs(struct db *db, const int64_t *ids, size_t n_ids, size_t max,
				  struct search_store_blob **out, size_t *n_r)
{
	char mx[24], *arr = db_array_i64(ids, n_ids);
	const char *p[2] = { arr, mx };
	enum db_status st;
	PGresult *res;
	int n;

	*out = NULL;
	*n_r = 0;
	snprintf(mx, sizeof(mx), "%zu", max);
	res = db_exec_binary(db, STMT_SEARCH_BLOBS, 2, p, NULL, NULL, &st);
	free(arr);
	if (st != DB_OK) {
		PQclear(res);
		return st;
	}
	n = PQntuples(res);
	if (n > 0)
		*out = xcalloc((size_t)n, sizeof(**out));
	for (int i = 0; i < n; i++) {
		uint64_t be = 0;
		size_t len = (size_t)PQgetlength(res, i, 1);

		if (PQgetlength(res, i, 0) == 8)
			memcpy(&be, PQgetvalue(res, i, 0), 8);
		(*out)[i].id = (int64_t)be64toh(be);
		(*out)[i].body = xmalloc(len + 1);
		memcpy((*out)[i].body, PQgetvalue(res, i, 1), len);
		(*out)[i].len = len;
	}
	*n_r = (size_t)n;
	PQclear(res);
	return DB_OK;
}

void search_store_blobs_free(struct search_store_blob **b, size_t n)
{
	if (*b == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*b)[i].body);
	free(*b);
	*b = NULL;
}

enum db_status search_store_put(struct db *db, const struct search_store_entry *e, size_t n)
{
	enum db_status st = db_begin(db);

	for (size_t i = 0; i < n && st == DB_OK; i++) {
		char id[24], at[24], day[24];
		const char *p[14] = { id,	     e[i].header,     e[i].body,
				      e[i].has_sent ? at : NULL,
				      e[i].has_sent ? day : NULL,
				      e[i].subject,  e[i].reply ? "t" : "f",
				      e[i].from_key, e[i].to_key,	e[i].cc_key,
				      e[i].display_from, e[i].display_to, e[i].message_id,
				      e[i].refs };

		snprintf(id, sizeof(id), "%lld", (long long)e[i].blob_id);
		snprintf(at, sizeof(at), "%lld", (long long)e[i].sent_at);
		snprintf(day, sizeof(day), "%lld", (long long)e[i].sent_day);
		PQclear(db_exec(db, STMT_SEARCH_PUT, 14, p, NULL, NULL, &st));
	}
	if (st != DB_OK) {
		db_rollback(db);
		return st;
	}
	return db_commit(db);
}

/* Appends s with LIKE's specials escaped (backslash is the escape). */
static void like_escape(struct buf *b, const char *s)
{
	for (const char *c = s; *c != '\0'; c++) {
		if (*c == '%' || *c == '_' || *c == '\\')
			buf_append_str(b, "\\");
		buf_append(b, c, 1);
	}
}

enum db_status search_store_match(struct db *db, int64_t mailbox_id, enum search_store_where where,
				  const char *field, const char *needle, uint32_t **out,
				  size_t *n_r)
{
	char mb[24];
	size_t cap = (strlen(needle) + (field != NULL ? strlen(field) : 0)) * 2 + 8;
	struct buf line, pat;
	const char *p[3] = { mb, NULL, NULL };
	enum db_status st;
	PGresult *res;

	*out = NULL;
	*n_r = 0;
	buf_init(&line, cap);
	buf_init(&pat, cap);
	like_escape(&line, field != NULL ? field : "");
	buf_append_str(&line, ": %");
	like_escape(&line, needle);
	buf_append(&line, "%", 2);
	buf_append_str(&pat, "%");
	like_escape(&pat, needle);
	buf_append(&pat, "%", 2);
	p[1] = (const char *)buf_data(&pat);
	p[2] = (const char *)buf_data(&line);
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	res = db_exec(db,
		      where == SEARCH_STORE_TEXT   ? STMT_SEARCH_MATCH_TEXT
		      : where == SEARCH_STORE_BODY ? STMT_SEARCH_MATCH_BODY
						   : STMT_SEARCH_MATCH_FIELD,
		      where == SEARCH_STORE_FIELD ? 3 : 2, p, NULL, NULL, &st);
	if (st == DB_OK) {
		int n = PQntuples(res);

		if (n > 0)
			*out = xcalloc((size_t)n, sizeof(**out));
		for (int i = 0; i < n; i++)
			(*out)[i] = (uint32_t)col_i64(res, i, 0);
		*n_r = (size_t)n;
	}
	PQclear(res);
	buf_free(&line);
	buf_free(&pat);
	return st;
}

enum db_status search_store_rows(struct db *db, int64_t mailbox_id, bool keys,
				 struct search_store_row **out, size_t *n_r)
{
	static const int text_cols[] = { 2, 8, 10, 11, 12, 13, 14, 15, 16 };
	char mb[24];
	const char *p[1] = { mb };
	enum db_status st;
	PGresult *res;
	int n;

	*out = NULL;
	*n_r = 0;
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	res = db_exec(db, keys ? STMT_SEARCH_ROWS_KEYS : STMT_SEARCH_ROWS, 1, p, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		return st;
	}
	n = PQntuples(res);
	if (n > 0)
		*out = xcalloc((size_t)n, sizeof(**out));
	for (int i = 0; i < n; i++) {
		struct search_store_row *r = &(*out)[i];
		const char **dst[9] = { &r->keywords,	  &r->subject,	    &r->from_key,
					&r->to_key,	  &r->cc_key,	    &r->display_from,
					&r->display_to,	  &r->message_id, &r->refs };
		size_t total = 0, off = 0;

		r->uid = (uint32_t)col_i64(res, i, 0);
		r->flags = (int)col_i64(res, i, 1);
		r->internal_date = col_i64(res, i, 3);
		r->size = col_i64(res, i, 4);
		r->modseq = col_i64(res, i, 5);
		if (!keys) {
			/* keywords only; the key strings point at its NUL */
			size_t len = (size_t)PQgetlength(res, i, 2);

			r->text = xmalloc(len + 1);
			memcpy(r->text, PQgetvalue(res, i, 2), len + 1);
			r->keywords = r->text;
			for (size_t k = 1; k < 9; k++)
				*dst[k] = r->text + len;
			continue;
		}
		r->has_sent = !PQgetisnull(res, i, 6);
		r->sent_at = r->has_sent ? col_i64(res, i, 6) : 0;
		r->sent_day = r->has_sent ? col_i64(res, i, 7) : 0;
		r->reply = PQgetvalue(res, i, 9)[0] == 't';
		for (size_t k = 0; k < 9; k++)
			total += (size_t)PQgetlength(res, i, text_cols[k]) + 1;
		r->text = xmalloc(total);
		for (size_t k = 0; k < 9; k++) {
			size_t len = (size_t)PQgetlength(res, i, text_cols[k]);

			memcpy(r->text + off, PQgetvalue(res, i, text_cols[k]), len);
			r->text[off + len] = '\0';
			*dst[k] = r->text + off;
			off += len + 1;
		}
	}
	*n_r = (size_t)n;
	PQclear(res);
	return DB_OK;
}

void search_store_rows_free(struct search_store_row **r, size_t n)
{
	if (*r == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*r)[i].text);
	free(*r);
	*r = NULL;
}
