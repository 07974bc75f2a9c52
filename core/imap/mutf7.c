/* mutf7.c - modified UTF-7 (RFC 3501 section 5.1.3, RFC 9051 section
 * 5.1.3 for IMAP4rev1 clients) to and from UTF-8 (RFC 3629).
 *
 * Printable US-ASCII stands for itself ("&" as "&-"); anything else is
 * UTF-16BE in modified BASE64 ("+" and "," for "+" and "/", no "=")
 * between "&" and "-". Decoding is strict: only the one canonical form of a
 * name is accepted, so encode(decode(x)) == x and two spellings can never
 * name the same mailbox. Output goes to a capped struct buf. */
#include "imap/mutf7.h"

#include <stdint.h>

#include "lib/base64.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";


/* Decodes one UTF-8 sequence at s[*i]; returns the code point or -1. */
static int32_t utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	uint32_t cp, min;
	size_t n, k;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (len - *i <= n)
		return -1;
	for (k = 1; k <= n; k++) {
		unsigned char t = s[*i + k];

		if ((t & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (t & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	return (int32_t)cp;
}

bool imap_mutf7_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (utf8_next(s, len, &i) < 0)
			return false;
	}
	return true;
}

static int put_utf8(struct buf *dst, uint32_t cp)
{
	unsigned char o[4];
	size_t n;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		o[0] = (unsigned char)(0xf0 | (cp >> 18));
		o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(dst, o, n);
}

/* Writes the bits still held of a shifted run, zero-padded, and its "-". */
static int flush_run(struct buf *dst, uint32_t bits, unsigned int nbits)
{
	char c;

	if (nbits > 0) {
		c = b64[(bits << (6 - nbits)) & 0x3f];
		if (buf_append(dst, &c, 1) < 0)
			return -1;
	}
	return buf_append(dst, "-", 1);
}

static int encode(const unsigned char *s, size_t len, struct buf *dst)
{
	size_t i = 0;
	bool shifted = false;
	uint32_t bits = 0;
	unsigned int nbits = 0;

	while (i < len) {
		int32_t cp = utf8_next(s, len, &i);
		uint32_t units[2];
		size_t n_units;

		if (cp <= 0)
			return -1;	/* invalid UTF-8 or NUL */
		if (cp >= 0x20 && cp <= 0x7e) {
			if (shifted) {
				if (flush_run(dst, bits, nbits) < 0)
					return -1;
				shifted = false;
				bits = 0;
				nbits = 0;
			}
			if (buf_append(dst, cp == '&' ? "&-" : (const char *)&s[i - 1],
				       cp == '&' ? 2 : 1) < 0)
				return -1;
			continue;
		}
		if (!shifted) {
			if (buf_append(dst, "&", 1) < 0)
				return -1;
			shifted = true;
		}
		if (cp >= 0x10000) {
			uint32_t v = (uint32_t)cp - 0x10000;

			units[0] = 0xd800 | (v >> 10);
			units[1] = 0xdc00 | (v & 0x3ff);
			n_units = 2;
		} else {
			units[0] = (uint32_t)cp;
			n_units = 1;
		}
		for (size_t u = 0; u < n_units; u++) {
			bits = (bits << 16) | units[u];
			nbits += 16;
			while (nbits >= 6) {
				char c = b64[(bits >> (nbits - 6)) & 0x3f];

				if (buf_append(dst, &c, 1) < 0)
					return -1;
				nbits -= 6;
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (shifted && flush_run(dst, bits, nbits) < 0)
		return -1;
	return 0;
}

int imap_mutf7_encode(const char *src, size_t len, struct buf *dst)
{
	size_t orig = dst->len;

	if (encode((const unsigned char *)src, len, dst) < 0) {
		dst->len = orig;
		return -1;
	}
	return 0;
}

/* Decodes the shifted run starting after the "&" at s[*i]; *i ends after
 * its "-". dst may be NULL (validation only). */
static int decode_run(const unsigned char *s, size_t len, size_t *i, struct buf *dst)
{
	uint32_t bits = 0, high = 0;
	unsigned int nbits = 0, units = 0;

	for (;;) {
		int v;

		if (*i == len)
			return -1;	/* unterminated */
		if (s[*i] == '-') {
			(*i)++;
			break;
		}
		v = base64_digit(s[*i], '+', ',');
		if (v < 0)
			return -1;
		(*i)++;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		uint32_t u = (bits >> (nbits - 16)) & 0xffff;

		nbits -= 16;
		bits &= (1u << nbits) - 1;
		units++;
		if (high != 0) {
			if (u < 0xdc00 || u > 0xdfff)
				return -1;
			u = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
			high = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			high = u;
			continue;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			return -1;
		} else if (u == 0 || (u >= 0x20 && u <= 0x7e)) {
			return -1;	/* NUL, or ASCII that must stand for itself */
		}
		if (dst != NULL && put_utf8(dst, u) < 0)
			return -1;
	}
	/* Canonical end: no pending surrogate, fewer than 6 leftover bits,
	 * all of them zero, and at least one character ("&-" is "&"). */
	if (high != 0 || nbits >= 6 || bits != 0 || units == 0)
		return -1;
	return 0;
}

static int decode(const unsigned char *s, size_t len, struct buf *dst)
{
	size_t i = 0;
	bool after_run = false;

	while (i < len) {
		unsigned char c = s[i];

		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			if (dst != NULL && buf_append(dst, &c, 1) < 0)
				return -1;
			after_run = false;
			i++;
			continue;
		}
		if (i + 1 < len && s[i + 1] == '-') {
			if (dst != NULL && buf_append(dst, "&", 1) < 0)
				return -1;
			after_run = false;
			i += 2;
			continue;
		}
		if (after_run)
			return -1;	/* "&AKM-&AKM-" is spelt "&AKMAow-" */
		i++;
		if (decode_run(s, len, &i, dst) < 0)
			return -1;
		after_run = true;
	}
	return 0;
}

int imap_mutf7_decode(const char *src, size_t len, struct buf *dst)
{
	size_t orig = dst->len;

	if (decode((const unsigned char *)src, len, dst) < 0) {
		dst->len = orig;
		return -1;
	}
	return 0;
}

bool imap_mutf7_valid(const char *src, size_t len)
{
	return decode((const unsigned char *)src, len, NULL) == 0;
}
