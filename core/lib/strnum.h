/* strnum.h - bounded decimal parsing (never atoi; STYLE rule 3). */
#ifndef POSTERN_LIB_STRNUM_H
#define POSTERN_LIB_STRNUM_H

#include <stddef.h>
#include <stdint.h>

/* Parses exactly len bytes of ASCII digits into *out. Returns 0, or -1 when
 * empty, a non-digit is present, or the value is greater than max.
 * Leading zeros are accepted; no sign, no spaces. */
int strnum_u64(const char *s, size_t len, uint64_t max, uint64_t *out);
/* Same on a NUL-terminated string. */
int strnum_parse(const char *s, uint64_t max, uint64_t *out);

#endif
