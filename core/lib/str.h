/* str.h - small string helpers. */
#ifndef POSTERN_LIB_STR_H
#define POSTERN_LIB_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Copies at most dstsize-1 bytes and NUL-terminates; returns strlen(src)
 * (truncated when >= dstsize). */
size_t str_lcpy(char *dst, const char *src, size_t dstsize);
/* ASCII case-insensitive compare of a prefix: true when s starts with prefix. */
bool str_casestarts(const char *s, size_t len, const char *prefix);
bool str_caseeq(const char *a, const char *b);
void str_lower(char *s);
/* Makes client data safe for one log line: printable ASCII kept, '"' and
 * '\\' escaped, other bytes as \xNN, cut at dstsize-1 with "..." marking the
 * cut. Always NUL-terminates. Returns dst. */
char *str_printable(char *dst, size_t dstsize, const void *src, size_t srclen);
/* snprintf that returns -1 on truncation or error, else the length. */
int str_fmt(char *dst, size_t dstsize, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* RFC 5322 3.3 date-time of t in UTC ("Sun, 22 Nov 2026 01:00:00 +0000"),
 * locale-independent; out of at least 32 bytes. */
void str_rfc5322_date(char *out, size_t outsize, time_t t);

#endif
