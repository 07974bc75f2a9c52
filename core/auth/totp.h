/* totp.h - time-based one-time passwords (RFC 6238 over RFC 4226 HOTP):
 * HMAC-SHA1, 30-second steps, 6 digits, the shape every authenticator app
 * uses; secrets travel as RFC 4648 base32 without padding. Pure. */
#ifndef POSTERN_AUTH_TOTP_H
#define POSTERN_AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOTP_SECRET_BYTES 20	/* 160 bits, RFC 4226 section 4 R6 */
#define TOTP_SECRET_TEXT 33	/* base32 of 20 bytes (32) + NUL */
#define TOTP_STEP_S 30
#define TOTP_DIGITS 6

/* HOTP value of counter step (RFC 4226 section 5.3), digits 6..8.
 * 0, or -1 when HMAC fails. */
int totp_hotp(const unsigned char *key, size_t keylen, uint64_t step, int digits,
	      uint32_t *code_r);
/* Checks a 6-digit code at now, allowing one step of clock drift either
 * way (RFC 6238 section 5.2) and refusing steps <= last_step (each code
 * once). Returns the step that matched (store it as the new last_step),
 * or -1. Compares in constant time. */
int64_t totp_verify(const unsigned char *key, size_t keylen, const char *code, time_t now,
		    int64_t last_step);
/* base32 (RFC 4648 section 6, upper case, no padding) of n bytes into out
 * (at least (n * 8 + 4) / 5 + 1 bytes). */
void totp_base32(const unsigned char *in, size_t n, char *out);
/* Decodes what totp_base32 wrote (case-insensitive). 0, or -1. */
int totp_base32_decode(const char *in, unsigned char *out, size_t outcap, size_t *n_r);

#endif
