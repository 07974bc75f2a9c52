/* seqset.c - IMAP sequence sets: RFC 9051 section 9 (sequence-set,
 * seq-number, seq-range: "a:b" means the same as "b:a"), RFC 5182 ("$").
 * The number of ranges is counted before anything is allocated and capped
 * at LIMIT_IMAP_SEQSET_RANGES, so "1,3,5,..." cannot make the server sort
 * millions of ranges; numbers past 2^32-1 and 0 are refused. */
#include "imap/seqset.h"

#include <stdlib.h>
#include <string.h>

#include "config/limits.h"
#include "lib/mem.h"
#include "lib/strnum.h"

struct imap_seqset *imap_seqset_create(void)
{
	struct imap_seqset *set = xcalloc(1, sizeof(*set));

	set->resolved = true;
	return set;
}

void imap_seqset_free(struct imap_seqset **set)
{
	if (*set == NULL)
		return;
	free((*set)->ranges);
	xfree(*set);
}

static void push(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	if (set->count == set->alloc) {
		set->alloc = set->alloc == 0 ? 8 : set->alloc * 2;
		set->ranges = xrealloc(set->ranges, set->alloc * sizeof(*set->ranges));
	}
	set->ranges[set->count].lo = lo;
	set->ranges[set->count].hi = hi;
	set->count++;
}

void imap_seqset_add(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	push(set, lo, hi);
	set->resolved = false;
}

/* One seq-number at s[0..len): 0 stands for "*". */
static const char *parse_number(const char *s, size_t len, uint32_t *n_r)
{
	uint64_t v;

	if (len == 1 && s[0] == '*') {
		*n_r = 0;
		return NULL;
	}
	if (len == 0)
		return "Invalid sequence set";
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return "Invalid sequence set";
	}
	if (s[0] == '0')
		return len == 1 ? "Invalid sequence set: 0 is not a message number"
				: "Invalid sequence set: leading zero";
	if (len > 10 || strnum_u64(s, len, UINT32_MAX, &v) < 0)
		return "Invalid sequence set: number too big";
	*n_r = (uint32_t)v;
	return NULL;
}

int imap_seqset_parse(const char *s, size_t len, struct imap_seqset **set_r, const char **error_r)
{
	struct imap_seqset *set;
	size_t commas = 0, i = 0;

	*set_r = NULL;
	if (len == 1 && s[0] == '$') {
		set = imap_seqset_create();
		set->searchres = true;
		*set_r = set;
		return 0;
	}
	for (size_t k = 0; k < len; k++) {
		if (s[k] == ',' && ++commas >= LIMIT_IMAP_SEQSET_RANGES) {
			*error_r = "[LIMIT] Too many ranges in sequence set";
			return -1;
		}
	}
	set = imap_seqset_create();
	set->alloc = commas + 1;
	set->ranges = xmalloc(set->alloc * sizeof(*set->ranges));
	while (i <= len) {
		size_t end = i, colon = 0;
		uint32_t lo, hi;
		const char *err;

		while (end < len && s[end] != ',') {
			if (s[end] == ':') {
				if (colon != 0)
					break;
				colon = end;
			}
			end++;
		}
		if (end < len && s[end] != ',') {
			err = "Invalid sequence set";
		} else if (colon == 0) {
			err = parse_number(s + i, end - i, &lo);
			hi = lo;
		} else {
			err = parse_number(s + i, colon - i, &lo);
			if (err == NULL)
				err = parse_number(s + colon + 1, end - colon - 1, &hi);
		}
		if (err != NULL) {
			imap_seqset_free(&set);
			*error_r = err;
			return -1;
		}
		if (lo == 0 || hi == 0)
			set->star = true;
		push(set, lo, hi);
		i = end + 1;
	}
	set->resolved = false;
	if (!set->star)
		imap_seqset_resolve(set, 0);
	*set_r = set;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t max)
{
	size_t out = 0;

	if (set->resolved)
		return;
	for (size_t k = 0; k < set->count; k++) {
		uint32_t lo = set->ranges[k].lo, hi = set->ranges[k].hi, t;

		if (lo == 0)
			lo = max;
		if (hi == 0)
			hi = max;
		if (lo > hi) {
			t = lo;
			lo = hi;
			hi = t;
		}
		if (hi == 0)
			continue;	/* "*" in an empty mailbox */
		if (lo == 0)
			lo = 1;
		set->ranges[out].lo = lo;
		set->ranges[out].hi = hi;
		out++;
	}
	set->count = out;
	if (out > 1)
		qsort(set->ranges, out, sizeof(*set->ranges), range_cmp);
	out = 0;
	for (size_t k = 0; k < set->count; k++) {
		struct imap_seq_range *r = &set->ranges[k];

		/* merge overlapping or adjacent (hi + 1 == lo) ranges */
		if (out > 0 && (uint64_t)set->ranges[out - 1].hi + 1 >= r->lo) {
			if (r->hi > set->ranges[out - 1].hi)
				set->ranges[out - 1].hi = r->hi;
			continue;
		}
		set->ranges[out++] = *r;
	}
	set->count = out;
	set->star = false;
	set->resolved = true;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imap_seq_range *r = &set->ranges[mid];

		if (n < r->lo)
			hi = mid;
		else if (n > r->hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint32_t imap_seqset_last(const struct imap_seqset *set)
{
	return set->count == 0 ? 0 : set->ranges[set->count - 1].hi;
}

uint64_t imap_seqset_size(const struct imap_seqset *set)
{
	uint64_t n = 0;

	for (size_t k = 0; k < set->count; k++)
		n += (uint64_t)set->ranges[k].hi - set->ranges[k].lo + 1;
	return n;
}

void imap_seqset_iter_init(struct imap_seqset_iter *it)
{
	it->range = 0;
	it->next = 0;
}

bool imap_seqset_next(const struct imap_seqset *set, uint32_t max, struct imap_seqset_iter *it,
		      uint32_t *n_r)
{
	while (it->range < set->count) {
		const struct imap_seq_range *r = &set->ranges[it->range];

		if (it->next < r->lo)
			it->next = r->lo;
		if (it->next > r->hi || it->next > max) {
			if (r->lo > max)
				return false;	/* sorted: nothing further fits */
			it->range++;
			continue;
		}
		*n_r = (uint32_t)it->next++;
		return true;
	}
	return false;
}

int imap_seqset_write(const struct imap_seqset *set, struct buf *out)
{
	size_t orig = out->len;

	for (size_t k = 0; k < set->count; k++) {
		const struct imap_seq_range *r = &set->ranges[k];
		int rc = r->lo == r->hi ? buf_printf(out, "%s%u", k ? "," : "", r->lo)
					: buf_printf(out, "%s%u:%u", k ? "," : "", r->lo, r->hi);

		if (rc < 0) {
			out->len = orig;
			return -1;
		}
	}
	return 0;
}
