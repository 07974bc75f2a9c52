/* base64.c - RFC 4648 section 4 base64. The decoder is strict, as SASL
 * (RFC 4954 section 4, RFC 5034) wants: length a multiple of 4, padding
 * required and only at the end, no whitespace, and the unused bits of the
 * last group must be zero (4648 section 3.5), so every input has one
 * decoding. Output capacity is checked before anything is written. */
#include "lib/base64.h"

#include <stdbool.h>
#include <stdint.h>

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

int base64_digit(unsigned char c, char c62, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (unsigned char)c62)
		return 62;
	if (c == (unsigned char)c63)
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t n, unsigned char *out, size_t outcap, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t pad = 0, total, o = 0;

	if (n % 4 != 0)
		return -1;
	if (n == 0) {
		*outlen = 0;
		return 0;
	}
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	total = n / 4 * 3 - pad;
	if (total > outcap)
		return -1;

	for (size_t i = 0; i < n; i += 4) {
		bool last = i + 4 == n;
		int v[4];
		for (int k = 0; k < 4; k++) {
			if (last && (size_t)k >= 4 - pad) {
				v[k] = 0;
				continue;
			}
			v[k] = base64_digit(s[i + k], '+', '/'); /* '=' anywhere else fails here */
			if (v[k] < 0)
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if (last && pad == 2 && (w & 0xffff) != 0)
			return -1; /* non-zero unused bits */
		if (last && pad == 1 && (w & 0xff) != 0)
			return -1;
		out[o++] = (unsigned char)(w >> 16);
		if (!last || pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (!last || pad < 1)
			out[o++] = (unsigned char)w;
	}
	*outlen = o;
	return 0;
}
