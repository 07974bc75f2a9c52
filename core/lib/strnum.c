/* strnum.c - bounded decimal parsing (STYLE rule 3): exactly the given
 * bytes, ASCII digits only, no sign, no spaces, value at most max. Used for
 * every number a client declares (SIZE=, BDAT, IMAP literals, POP3 msg
 * numbers) before anything is reserved for it. */
#include "lib/strnum.h"

#include <string.h>

int strnum_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < '0' || c > '9')
			return -1;
		uint64_t d = (uint64_t)(c - '0');
		/* v * 10 + d <= max  <=>  v <= (max - d) / 10 */
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int strnum_parse(const char *s, uint64_t max, uint64_t *out)
{
	return strnum_u64(s, strlen(s), max, out);
}
