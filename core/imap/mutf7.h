/* mutf7.h - modified UTF-7 mailbox names (RFC 3501 section 5.1.3), strict
 * both ways, and a UTF-8 validity check shared with the IMAP parser. */
#ifndef POSTERN_IMAP_MUTF7_H
#define POSTERN_IMAP_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Appends the modified UTF-7 form of the UTF-8 name src[0..len) to dst.
 * Returns 0, or -1 (dst unchanged) when src is not valid UTF-8, holds NUL,
 * or dst would pass its cap. */
int imap_mutf7_encode(const char *src, size_t len, struct buf *dst);
/* Appends the UTF-8 form of the modified UTF-7 name src[0..len) to dst.
 * Returns 0, or -1 (dst unchanged) for anything not in canonical modified
 * UTF-7: 8-bit or control octets, an unterminated or empty "&...-" other
 * than "&-", a shifted printable ASCII character ("&AGE-"), non-zero or
 * excess padding bits, an odd number of octets, unpaired surrogates,
 * U+0000, two shifted runs back to back, or when dst would pass its cap. */
int imap_mutf7_decode(const char *src, size_t len, struct buf *dst);
/* True when src[0..len) is canonical modified UTF-7 (decode would succeed). */
bool imap_mutf7_valid(const char *src, size_t len);
/* True when s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, at most U+10FFFF). NUL is accepted here. */
bool imap_mutf7_utf8_valid(const unsigned char *s, size_t len);

#endif
