/* sasl.c - SASL PLAIN (RFC 4616: [authzid] NUL authcid NUL passwd, each
 * field without NUL, authcid non-empty; an empty passwd is decoded and
 * simply fails the login, 535 like any bad password) and the LOGIN mechanism's
 * base64 fields. "=" is an empty response (RFC 4954 4). Field limits:
 * LIMIT_ADDRESS for authzid and user, LIMIT_PASSWORD_MAX for the password.
 * Every temporary copy of a password is wiped with sodium_memzero. */
#include "auth/sasl.h"

#include <sodium.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/str.h"

#define PLAIN_MAX (LIMIT_ADDRESS + 1 + LIMIT_ADDRESS + 1 + LIMIT_PASSWORD_MAX)

static bool same_ci(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && str_casestarts(a, alen, b);
}

int sasl_plain_decode(const char *b64, size_t len, struct sasl_creds *out)
{
	unsigned char raw[PLAIN_MAX + 4];
	size_t n = 0;
	int ret = -1;

	memset(out, 0, sizeof *out);
	if (len == 0 || (len == 1 && b64[0] == '='))
		return -1;	/* empty: no user */
	if (base64_decode(b64, len, raw, sizeof raw, &n) < 0 || n > PLAIN_MAX)
		goto done;

	const unsigned char *nul1 = memchr(raw, '\0', n);
	if (nul1 == NULL)
		goto done;
	size_t azlen = (size_t)(nul1 - raw);
	const unsigned char *user = nul1 + 1;
	const unsigned char *nul2 = memchr(user, '\0', n - azlen - 1);
	if (nul2 == NULL)
		goto done;
	size_t ulen = (size_t)(nul2 - user);
	const unsigned char *pass = nul2 + 1;
	size_t plen = n - azlen - 1 - ulen - 1;
	if (memchr(pass, '\0', plen) != NULL)
		goto done;
	if (azlen > LIMIT_ADDRESS || ulen == 0 || ulen > LIMIT_ADDRESS || plen > LIMIT_PASSWORD_MAX)
		goto done;

	memcpy(out->authzid, raw, azlen);
	out->authzid[azlen] = '\0';
	memcpy(out->user, user, ulen);
	out->user[ulen] = '\0';
	/* Acting as someone else is not offered. */
	if (azlen > 0 && !same_ci(out->authzid, azlen, out->user, ulen))
		goto done;
	memcpy(out->pass, pass, plen);
	out->pass[plen] = '\0';
	out->passlen = plen;
	ret = 0;
done:
	sodium_memzero(raw, sizeof raw);
	if (ret < 0)
		sasl_creds_wipe(out);
	return ret;
}

int sasl_b64_field(const char *b64, size_t len, char *out, size_t outsize, size_t *outlen)
{
	size_t n = 0;
	if (outsize == 0)
		return -1;
	out[0] = '\0';
	*outlen = 0;
	if (len == 0 || (len == 1 && b64[0] == '='))
		return 0;
	if (base64_decode(b64, len, (unsigned char *)out, outsize - 1, &n) < 0 ||
	    n > outsize - 1 || memchr(out, '\0', n) != NULL) {
		sodium_memzero(out, outsize);
		return -1;
	}
	out[n] = '\0';
	*outlen = n;
	return 0;
}

void sasl_creds_wipe(struct sasl_creds *c)
{
	sodium_memzero(c, sizeof *c);
}
