/* search_store.h - the IMAP search index (sql/006_search.sql): blobs of a
 * mailbox that have no index row yet, writing rows, trigram text matches,
 * and every message's facts and SORT/THREAD keys. Worker threads only;
 * each function returns DB_OK or the failure class of db.h. */
#ifndef POSTERN_DB_SEARCH_STORE_H
#define POSTERN_DB_SEARCH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

struct search_store_blob {
	int64_t id;
	unsigned char *body;	/* at most max octets (a prefix of the message) */
	size_t len;
};

/* The ids (ascending) and sizes of the blobs without an index row of the
 * mailbox's messages from UID from_uid on: parallel arrays. */
enum db_status search_store_unindexed(struct db *db, int64_t mailbox_id, int64_t from_uid,
				      int64_t **ids_r, int64_t **sizes_r, size_t *n_r);
/* Those blobs (at most max octets of each). */
enum db_status search_store_blobs(struct db *db, const int64_t *ids, size_t n_ids, size_t max,
				  struct search_store_blob **out, size_t *n_r);
void search_store_blobs_free(struct search_store_blob **b, size_t n);

/* One index row; strings are UTF-8 without NUL. */
struct search_store_entry {
	int64_t blob_id;
	const char *header, *body;
	bool has_sent;
	int64_t sent_at, sent_day;
	const char *subject;
	bool reply;
	const char *from_key, *to_key, *cc_key, *display_from, *display_to;
	const char *message_id, *refs;
};

/* Writes n rows in one statement (a row another session wrote first is
 * kept). */
enum db_status search_store_put(struct db *db, const struct search_store_entry *e, size_t n);

enum search_store_where {
	SEARCH_STORE_TEXT = 0,	/* header lines or body text */
	SEARCH_STORE_BODY = 1,
	SEARCH_STORE_FIELD = 2,	/* one header field */
};

/* UIDs (ascending) whose indexed text contains needle (case-insensitive).
 * field: the header field name for SEARCH_STORE_FIELD. n_messages: about
 * how many messages the mailbox holds (picks the plan). */
enum db_status search_store_match(struct db *db, int64_t mailbox_id, size_t n_messages,
				  enum search_store_where where, const char *field,
				  const char *needle, uint32_t **out, size_t *n_r);

/* A message's facts (ascending UID). Keys are "" when not indexed. */
struct search_store_row {
	uint32_t uid;
	int flags;
	int64_t internal_date, size, modseq;
	bool has_sent;
	int64_t sent_at, sent_day;
	bool reply;
	/* strings point into one allocation, text */
	const char *keywords, *subject, *from_key, *to_key, *cc_key, *display_from, *display_to,
		*message_id, *refs;
	char *text;
};

/* keys: with the Date: facts and the SORT/THREAD keys (else "" / none). */
enum db_status search_store_rows(struct db *db, int64_t mailbox_id, bool keys,
				 struct search_store_row **out, size_t *n_r);
void search_store_rows_free(struct search_store_row **r, size_t n);

#endif
