/* search_store.c - queries of the IMAP search index (search_store.h,
 * sql/006_search.sql, STMT_SEARCH_* in stmt.c): unindexed blobs read in
 * bounded batches (LIMIT_SEARCH_INDEX_BATCH bodies of at most
 * LIMIT_SEARCH_INDEX_FETCH octets), each batch's rows written by one
 * statement (a JSON array), LIKE matches on folded text answered from the pg_trgm
 * indexes (or, in small mailboxes, each message's row), and the facts
 * and sort keys of every message of a mailbox. */
#include "db/search_store.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/limits.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/strnum.h"

enum db_status search_store_unindexed(struct db *db, int64_t mailbox_id, int64_t from_uid,
				      int64_t **ids_r, int64_t **sizes_r, size_t *n_r)
{
	char mb[24], from[24];
	const char *p[2] = { mb, from };
	enum db_status st;
	PGresult *res;

	*ids_r = NULL;
	*sizes_r = NULL;
	*n_r = 0;
	snprintf(mb, sizeof(mb), "%lld", (long long)mailbox_id);
	snprintf(from, sizeof(from), "%lld", (long long)from_uid);
	res = db_exec(db, STMT_SEARCH_UNINDEXED, 2, p, NULL, NULL, &st);
	if (st == DB_OK) {
		int n = PQntuples(res);

		if (n > 0) {
			*ids_r = xcalloc((size_t)n, sizeof(**ids_r));
			*sizes_r = xcalloc((size_t)n, sizeof(**sizes_r));
		}
		for (int i = 0; i < n; i++) {
			(*ids_r)[i] = db_col_i64(res, i, 0);
			(*sizes_r)[i] = db_col_i64(res, i, 1);
		}
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

static json_t *jstr(const char *s)
{
	/* every index string is valid UTF-8 (mime_decode.c); "" otherwise */
	json_t *j = json_string(s);

	return j != NULL ? j : json_string("");
}

enum db_status search_store_put(struct db *db, const struct search_store_entry *e, size_t n)
{
	json_t *arr = json_array();
	enum db_status st;
	const char *p[1];
	char *text;

	if (arr == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		if (o == NULL)
			abort();
		json_object_set_new(o, "blob_id", json_integer(e[i].blob_id));
		json_object_set_new(o, "header", jstr(e[i].header));
		json_object_set_new(o, "body", jstr(e[i].body));
		json_object_set_new(o, "sent_at", e[i].has_sent ? json_integer(e[i].sent_at) : json_null());
		json_object_set_new(o, "sent_day",
				    e[i].has_sent ? json_integer(e[i].sent_day) : json_null());
		json_object_set_new(o, "subject", jstr(e[i].subject));
		json_object_set_new(o, "reply", json_boolean(e[i].reply));
		json_object_set_new(o, "from_key", jstr(e[i].from_key));
		json_object_set_new(o, "to_key", jstr(e[i].to_key));
		json_object_set_new(o, "cc_key", jstr(e[i].cc_key));
		json_object_set_new(o, "display_from", jstr(e[i].display_from));
		json_object_set_new(o, "display_to", jstr(e[i].display_to));
		json_object_set_new(o, "message_id", jstr(e[i].message_id));
		json_object_set_new(o, "refs", jstr(e[i].refs));
		json_array_append_new(arr, o);
	}
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (text == NULL)
		abort();
	p[0] = text;
	PQclear(db_exec(db, STMT_SEARCH_PUT, 1, p, NULL, NULL, &st));
	free(text);
	return st;
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

enum db_status search_store_match(struct db *db, int64_t mailbox_id, size_t n_messages,
				  enum search_store_where where, const char *field,
				  const char *needle, uint32_t **out, size_t *n_r)
{
	static const enum db_stmt by_index[3] = { STMT_SEARCH_MATCH_TEXT, STMT_SEARCH_MATCH_BODY,
						     STMT_SEARCH_MATCH_FIELD };
	static const enum db_stmt by_scan[3] = { STMT_SEARCH_SCAN_TEXT, STMT_SEARCH_SCAN_BODY,
						    STMT_SEARCH_SCAN_FIELD };
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
	res = db_exec(db, n_messages <= LIMIT_SEARCH_SCAN_MESSAGES ? by_scan[where] : by_index[where],
		      where == SEARCH_STORE_FIELD ? 3 : 2, p, NULL, NULL, &st);
	if (st == DB_OK) {
		int n = PQntuples(res);

		if (n > 0)
			*out = xcalloc((size_t)n, sizeof(**out));
		for (int i = 0; i < n; i++)
			(*out)[i] = (uint32_t)db_col_i64(res, i, 0);
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

		r->uid = (uint32_t)db_col_i64(res, i, 0);
		r->flags = (int)db_col_i64(res, i, 1);
		r->internal_date = db_col_i64(res, i, 3);
		r->size = db_col_i64(res, i, 4);
		r->modseq = db_col_i64(res, i, 5);
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
		r->sent_at = r->has_sent ? db_col_i64(res, i, 6) : 0;
		r->sent_day = r->has_sent ? db_col_i64(res, i, 7) : 0;
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
