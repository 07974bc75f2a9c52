/* totp.c - RFC 6238 TOTP / RFC 4226 HOTP with OpenSSL's one-shot HMAC
 * (SHA-1, as authenticator apps expect), dynamic truncation of RFC 4226
 * 5.3, a window of one step either side, replay refused through the last
 * accepted step, and RFC 4648 base32 for the secret. */
#include "auth/totp.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

static const char totp_b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int totp_hotp(const unsigned char *key, size_t keylen, uint64_t step, int digits,
	      uint32_t *code_r)
{
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	uint32_t bin, mod = 1;

	if (digits < 6 || digits > 8 || keylen > INT32_MAX)
		return -1;
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(step & 0xff);
		step >>= 8;
	}
	if (HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), mac, &maclen) == NULL ||
	    maclen != 20)
		return -1;
	{
		unsigned off = mac[19] & 0x0f;
		bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
		      ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	}
	for (int i = 0; i < digits; i++)
		mod *= 10;
	*code_r = bin % mod;
	sodium_memzero(mac, sizeof(mac));
	return 0;
}

int64_t totp_verify(const unsigned char *key, size_t keylen, const char *code, time_t now,
		    int64_t last_step)
{
	int64_t step = (int64_t)now / TOTP_STEP_S, found = -1;
	char want[TOTP_DIGITS + 1];

	if (strlen(code) != TOTP_DIGITS || now < 0)
		return -1;
	for (int i = 0; i < TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return -1;
	for (int64_t s = step - 1; s <= step + 1; s++) {
		uint32_t v;
		if (s <= last_step || s < 0 || totp_hotp(key, keylen, (uint64_t)s, TOTP_DIGITS, &v) < 0)
			continue;
		for (int i = TOTP_DIGITS - 1; i >= 0; i--) {
			want[i] = (char)('0' + v % 10);
			v /= 10;
		}
		want[TOTP_DIGITS] = '\0';
		/* every candidate is compared: the time taken does not say which */
		if (sodium_memcmp(want, code, TOTP_DIGITS) == 0 && found < 0)
			found = s;
	}
	sodium_memzero(want, sizeof(want));
	return found;
}

void totp_base32(const unsigned char *in, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = totp_b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = totp_b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

int totp_base32_decode(const char *in, unsigned char *out, size_t outcap, size_t *n_r)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (; *in != '\0'; in++) {
		char c = *in >= 'a' && *in <= 'z' ? (char)(*in - 32) : *in;
		const char *p = c != '\0' ? strchr(totp_b32, c) : NULL;
		if (p == NULL)
			return -1;
		acc = (acc << 5) | (uint32_t)(p - totp_b32);
		bits += 5;
		if (bits >= 8) {
			if (o >= outcap)
				return -1;
			out[o++] = (unsigned char)((acc >> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	*n_r = o;
	return 0;
}
