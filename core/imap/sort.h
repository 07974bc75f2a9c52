/* sort.h - the pure parts of SORT and THREAD (RFC 5256, RFC 5957): base
 * subject extraction, address sort keys, and the two threading algorithms
 * over an array of messages. No I/O, no DB: the worker feeds them the facts
 * stored in the search index (core/db/imap_store.h). */
#ifndef POSTERN_IMAP_SORT_H
#define POSTERN_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* RFC 5256 2.1 base subject of a decoded (UTF-8) subject, ASCII letters
 * folded to lower case (the i;ascii-casemap comparator then is strcmp).
 * *reply_r: a "re:"/"fwd:" leader or "(fwd)" trailer was removed (a
 * reply or forward, for THREAD=REFERENCES). */
void imap_sort_base_subject(const char *subject, struct buf *out, bool *reply_r);

/* Sort keys of an address header value (decoded): for SORT FROM/TO/CC the
 * local part of the first address (RFC 5256 "addr-mailbox"), for
 * DISPLAYFROM/DISPLAYTO (RFC 5957) its display name or, without one, the
 * address; both lower-cased ASCII. */
void imap_sort_addr_keys(const char *value, struct buf *mailbox, struct buf *display);

/* Appends the message ids ("<...>" each, one space between) found in a
 * References or In-Reply-To value, at most max of them (the last ones). */
void imap_sort_msgids(const char *value, size_t max, struct buf *out);

struct imap_thread_msg {
	uint32_t id;		/* what the reply shows: sequence number or UID */
	int64_t date;		/* sent date, or internal date without one */
	const char *subject;	/* base subject */
	bool reply;		/* see imap_sort_base_subject */
	const char *message_id;	/* "<...>" or "" */
	const char *refs;	/* References ids (In-Reply-To without them) */
};

/* "(a b)(c (d)(e))" - the body of "* THREAD". msgs in ascending id order.
 * Return 0, or -1 when out would pass its cap. */
int imap_thread_orderedsubject(const struct imap_thread_msg *msgs, size_t n, struct buf *out);
int imap_thread_references(const struct imap_thread_msg *msgs, size_t n, struct buf *out);

#endif
