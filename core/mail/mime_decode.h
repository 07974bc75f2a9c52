/* mime_decode.h - content decoding for search, sort and BINARY: base64 and
 * quoted-printable (RFC 2045 6.7/6.8), RFC 2047 encoded words in header
 * values, charsets to UTF-8 (iconv), and the decoded text of a message that
 * the search index stores (header lines and text/ * bodies). Pure: no I/O,
 * no DB. Every output goes to a capped buf; hitting the cap truncates. */
#ifndef POSTERN_MAIL_MIME_DECODE_H
#define POSTERN_MAIL_MIME_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mail/mime.h"

/* Quoted-printable; header = RFC 2047 "Q" ('_' is a space). Lenient: a
 * broken escape is copied as it is. Returns 0, or -1 when out filled up
 * (out then holds what fitted). */
int mime_decode_qp(const unsigned char *in, size_t len, bool header, struct buf *out);
/* base64, lenient: characters outside the alphabet are skipped, '=' ends
 * the data. Returns 0, or -1 when out filled up. */
int mime_decode_base64(const unsigned char *in, size_t len, struct buf *out);
/* Appends in (in charset; NULL or "" = unknown) as valid UTF-8: US-ASCII and
 * UTF-8 are checked, others converted with iconv; a byte that does not
 * convert becomes U+FFFD; an unknown charset is read as UTF-8 if valid, else
 * as ISO-8859-1. NUL bytes become spaces. Returns 0 or -1 when out filled. */
int mime_charset_to_utf8(const char *charset, const unsigned char *in, size_t len,
			 struct buf *out);
/* A header value: unfolded, RFC 2047 encoded words decoded (blanks between
 * adjacent encoded words dropped), valid UTF-8. Returns 0 or -1 (full). */
int mime_decode_header(const unsigned char *v, size_t len, struct buf *out);
/* Decodes a part's body by its Content-Transfer-Encoding (7bit/8bit/binary
 * copied). Returns 0 or -1 (full). */
int mime_decode_body(const unsigned char *in, size_t len, enum mime_enc enc, struct buf *out);

/* The text of UTF-8 HTML (tags dropped, style/script content dropped,
 * character references resolved) appended to out. 0, or -1 (full). */
int mime_html_text(const unsigned char *in, size_t len, struct buf *out);

/* The text the search index keeps for a message: hdr gets one line
 * "name: decoded value\n" per header field of the message (parts[0]);
 * body gets the decoded UTF-8 text of every text/ * part (the text of
 * text/html), in order, separated by newlines. Both truncate at their caps. */
void mime_search_text(const struct mime_tree *tree, const unsigned char *msg, size_t len,
		      struct buf *hdr, struct buf *body);

/* Lower-cases valid UTF-8 in place for case-insensitive search: ASCII,
 * Latin-1, Latin Extended-A, Greek and Cyrillic capitals (each keeps its
 * length). XXX: other scripts and full case folding (sharp s) are left
 * as they are. */
void mime_utf8_fold(char *s, size_t len);

/* An RFC 5322 3.3 date-time (obsolete forms, comments and a missing
 * weekday or seconds accepted; unknown zones are +0000): sets the instant
 * (unix time) and the day number of the date as written (days since
 * 1970-01-01, disregarding time and zone, RFC 3501 SENTON). 0 or -1. */
int mime_date_parse(const unsigned char *v, size_t len, int64_t *unix_r, int64_t *day_r);

#endif
