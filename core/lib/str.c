/* str.c - small string helpers: bounded copy, ASCII case folding, and
 * str_printable(), which turns client bytes into something safe for one log
 * line (STYLE rule 9): printable ASCII kept, '"' and '\\' escaped, other
 * bytes as \xNN, and a cut marked with "..." so a truncated value is never
 * mistaken for the whole one. */
#include "lib/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

size_t str_lcpy(char *dst, const char *src, size_t dstsize)
{
	size_t len = strlen(src);
	if (dstsize > 0) {
		size_t n = len < dstsize - 1 ? len : dstsize - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

static inline unsigned char str_ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

bool str_casestarts(const char *s, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);
	if (plen > len)
		return false;
	for (size_t i = 0; i < plen; i++) {
		if (str_ascii_lower((unsigned char)s[i]) != str_ascii_lower((unsigned char)prefix[i]))
			return false;
	}
	return true;
}

bool str_caseeq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = str_ascii_lower((unsigned char)*a);
		unsigned char cb = str_ascii_lower((unsigned char)*b);
		if (ca != cb)
			return false;
		if (ca == '\0')
			return true;
	}
}

void str_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)str_ascii_lower((unsigned char)*s);
}

char *str_printable(char *dst, size_t dstsize, const void *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *in = src;
	size_t limit, pos = 0, safe = 0;

	if (dstsize == 0)
		return dst;
	limit = dstsize - 1;
	for (size_t i = 0; i < srclen; i++) {
		char piece[4];
		size_t plen;
		unsigned char c = in[i];
		if (c == '"' || c == '\\') {
			piece[0] = '\\';
			piece[1] = (char)c;
			plen = 2;
		} else if (c >= 0x20 && c < 0x7f) {
			piece[0] = (char)c;
			plen = 1;
		} else {
			piece[0] = '\\';
			piece[1] = 'x';
			piece[2] = hex[c >> 4];
			piece[3] = hex[c & 0xf];
			plen = 4;
		}
		if (plen > limit - pos) {
			/* Cut at the last piece boundary that leaves room for "...". */
			pos = safe;
			for (int k = 0; k < 3 && pos < limit; k++)
				dst[pos++] = '.';
			break;
		}
		memcpy(dst + pos, piece, plen);
		pos += plen;
		if (limit >= 3 && pos <= limit - 3)
			safe = pos;
	}
	dst[pos] = '\0';
	return dst;
}

int str_fmt(char *dst, size_t dstsize, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(dst, dstsize, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= dstsize)
		return -1;
	return r;
}

void str_rfc5322_date(char *out, size_t outsize, time_t t)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	gmtime_r(&t, &tm);
	if (str_fmt(out, outsize, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
		    tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		    tm.tm_sec) < 0)
		str_lcpy(out, "Thu, 1 Jan 1970 00:00:00 +0000", outsize);
}
