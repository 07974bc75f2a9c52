/* base64.h - RFC 4648 base64 (used by SASL, RFC 4954 / RFC 5034). */
#ifndef POSTERN_LIB_BASE64_H
#define POSTERN_LIB_BASE64_H

#include <stddef.h>

/* Bytes needed to encode n bytes, including the NUL. */
#define BASE64_ENCODED_SIZE(n) ((((n) + 2) / 3) * 4 + 1)
/* Encodes; out must hold BASE64_ENCODED_SIZE(n). Returns the length. */
size_t base64_encode(const unsigned char *in, size_t n, char *out);
/* Decodes strict base64 (padding required, no whitespace). Returns 0 and
 * sets *outlen, or -1 on bad input or when outcap is too small. */
int base64_decode(const char *in, size_t n, unsigned char *out, size_t outcap, size_t *outlen);

/* Value 0..63 of one base64 digit whose last two digits are c62 and c63
 * ('+' '/' here; '+' ',' in IMAP's modified UTF-7), or -1. */
int base64_digit(unsigned char c, char c62, char c63);

#endif
