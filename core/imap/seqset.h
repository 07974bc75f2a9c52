/* seqset.h - IMAP sequence sets (RFC 9051 section 9 sequence-set, RFC 5182
 * "$"): parsed into a bounded list of ranges, resolved against the current
 * highest number ("*"), normalised (sorted, merged), tested and iterated. */
#ifndef POSTERN_IMAP_SEQSET_H
#define POSTERN_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct imap_seq_range {
	uint32_t lo, hi;		/* lo <= hi once resolved; 0 stands for "*" before */
};

struct imap_seqset {
	struct imap_seq_range *ranges;
	size_t count;
	size_t alloc;
	bool searchres;			/* "$": the session substitutes its saved result */
	bool star;			/* "*" appears (resolve before use) */
	bool resolved;			/* sorted, merged, no "*" left */
};

/* Parses s[0..len): seq-number = nz-number (1 .. 2^32-1, no leading zero)
 * or "*", ranges "a:b" in either order, comma-separated, at most
 * LIMIT_IMAP_SEQSET_RANGES of them; or "$" alone. Returns 0 with a new set
 * (resolved at once when it holds no "*"), or -1 with *error_r, a static
 * text for "tag BAD <text>" (the limit's text starts with "[LIMIT] "). */
int imap_seqset_parse(const char *s, size_t len, struct imap_seqset **set_r, const char **error_r);
/* An empty set for the server's own use (SEARCHRES results, COPYUID). */
struct imap_seqset *imap_seqset_create(void);
void imap_seqset_free(struct imap_seqset **set);
/* Adds lo:hi (any order, no "*", no 0); the set must be resolved again. */
void imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi);
/* Replaces "*" by max (the highest sequence number or UID in use; with
 * max 0 a lone "*" matches nothing and "n:*" means n), orders each range,
 * sorts and merges. Idempotent. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t max);
/* On a resolved set: */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
/* Highest number in the set, 0 when empty (sequence numbers past the
 * mailbox's count are a BAD for non-UID commands). */
uint32_t imap_seqset_last(const struct imap_seqset *set);
/* Numbers in the set. 2^32 at most: a uint64_t. */
uint64_t imap_seqset_size(const struct imap_seqset *set);

/* Ascending iteration over the numbers <= max. */
struct imap_seqset_iter {
	size_t range;
	uint64_t next;
};
void imap_seqset_iter_init(struct imap_seqset_iter *it);
/* Returns true with *n_r, or false at the end. */
bool imap_seqset_next(const struct imap_seqset *set, uint32_t max, struct imap_seqset_iter *it,
		      uint32_t *n_r);
/* Appends the set as "1:3,5" (a resolved set; nothing for an empty one).
 * Returns 0, or -1 when out would pass its cap. */
int imap_seqset_write(const struct imap_seqset *set, struct buf *out);

#endif
