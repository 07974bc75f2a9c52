/* buf.c - byte buffers with a hard cap fixed at init (STYLE rule 1).
 * Live bytes are base[off .. off+len). Consuming from the front only moves
 * off; bytes are moved down when room is needed at the end. The allocation
 * grows by doubling (from BUF_MIN_ALLOC) up to max plus one spare byte for
 * printf's NUL, and buf_shrink() gives it back when the buffer is empty so
 * that idle connections hold no buffer memory. */
#include "lib/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"

#define BUF_MIN_ALLOC 256

void buf_init(struct buf *b, size_t max)
{
	b->base = NULL;
	b->off = 0;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_free(struct buf *b)
{
	free(b->base);
	b->base = NULL;
	b->off = b->len = b->cap = 0;
}

/* Makes room for n more live bytes plus `extra` scratch bytes after them.
 * Returns 0, or -1 when len + n would pass max. */
static int buf_make_room(struct buf *b, size_t n, size_t extra)
{
	if (n > b->max - b->len)
		return -1;
	size_t need = b->len + n + extra;
	if (b->base != NULL && b->off + need <= b->cap)
		return 0;
	if (b->base != NULL && need <= b->cap) {
		memmove(b->base, b->base + b->off, b->len);
		b->off = 0;
		return 0;
	}
	size_t ncap = b->cap ? b->cap : BUF_MIN_ALLOC;
	while (ncap < need)
		ncap *= 2;
	/* Never allocate far past what max allows. */
	if (ncap > b->max + extra && need <= b->max + extra)
		ncap = b->max + extra;
	if (ncap < need)
		ncap = need;
	if (ncap == 0)
		ncap = 1;
	if (b->off > 0 && b->base != NULL) {
		memmove(b->base, b->base + b->off, b->len);
		b->off = 0;
	}
	b->base = xrealloc(b->base, ncap);
	b->cap = ncap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_make_room(b, n, 0) < 0)
		return -1;
	memcpy(b->base + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	size_t avail = b->base != NULL ? b->cap - b->off - b->len : 0;
	va_list ap2;

	/* Format straight into the free space first: most calls fit, and then
	 * the text is formatted once instead of measured and formatted. Bytes
	 * past len are free space, so a call that does not fit changes nothing. */
	va_copy(ap2, ap);
	int n = vsnprintf(avail > 0 ? (char *)b->base + b->off + b->len : NULL, avail, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n < avail) {
		if ((size_t)n > b->max - b->len)
			return -1;
		b->len += (size_t)n;
		return 0;
	}
	/* One scratch byte for the NUL vsnprintf writes; not counted in len. */
	if (buf_make_room(b, (size_t)n, 1) < 0)
		return -1;
	int m = vsnprintf((char *)b->base + b->off + b->len, (size_t)n + 1, fmt, ap);
	if (m != n)
		return -1;
	b->len += (size_t)n;
	return 0;
}

unsigned char *buf_reserve(struct buf *b, size_t n)
{
	if (buf_make_room(b, n, 0) < 0)
		return NULL;
	if (b->base == NULL) /* n == 0 on an empty buffer */
		return NULL;
	return b->base + b->off + b->len;
}

void buf_commit(struct buf *b, size_t n)
{
	if (n > b->cap - b->off - b->len || n > b->max - b->len)
		abort(); /* caller wrote past what buf_reserve() gave */
	b->len += n;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n > b->len)
		abort(); /* broken invariant: consuming bytes that are not there */
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

void buf_reset(struct buf *b)
{
	b->off = 0;
	b->len = 0;
}

void buf_shrink(struct buf *b)
{
	if (b->len == 0 && b->base != NULL) {
		free(b->base);
		b->base = NULL;
		b->cap = 0;
		b->off = 0;
	}
}

long buf_find_lf(const struct buf *b)
{
	if (b->len == 0)
		return -1;
	const unsigned char *d = b->base + b->off;
	const unsigned char *p = memchr(d, '\n', b->len);
	return p ? (long)(p - d) : -1;
}
