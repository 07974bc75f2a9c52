/* buf.h - a byte buffer with a hard cap fixed at init (STYLE rule 1).
 * Data lives in data[off .. off+len); consuming from the front is O(1) and
 * the bytes are moved down only when more room is needed. */
#ifndef POSTERN_LIB_BUF_H
#define POSTERN_LIB_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	unsigned char *base;	/* allocation, NULL until first append */
	size_t off;		/* start of live data in base */
	size_t len;		/* live bytes */
	size_t cap;		/* allocated bytes */
	size_t max;		/* hard cap on len */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Pointer to the live bytes (valid until the next append). */
static inline unsigned char *buf_data(const struct buf *b)
{
	static unsigned char buf_empty[1]; /* never NULL + 0 (UB, clang's UBSan flags it) */
	return b->base != NULL ? b->base + b->off : buf_empty;
}
static inline size_t buf_len(const struct buf *b) { return b->len; }
static inline size_t buf_room(const struct buf *b) { return b->max - b->len; }
/* Returns 0, or -1 (nothing appended) when len would pass max. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Reserves n writable bytes at the end; returns a pointer to them or NULL
 * when that would pass max. Call buf_commit() with how many were filled. */
unsigned char *buf_reserve(struct buf *b, size_t n);
void buf_commit(struct buf *b, size_t n);
/* Drops n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Releases the allocation when empty (idle connections keep no memory). */
void buf_shrink(struct buf *b);
/* Finds the first "\n" in the live bytes; returns its index or -1. */
long buf_find_lf(const struct buf *b);

#endif
