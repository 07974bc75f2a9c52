/* sasl.h - SASL PLAIN (RFC 4616) and LOGIN decoding, shared by SMTP AUTH
 * (RFC 4954), POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE. Pure functions. */
#ifndef POSTERN_AUTH_SASL_H
#define POSTERN_AUTH_SASL_H

#include <stddef.h>

#include "config/limits.h"

struct sasl_creds {
	char authzid[LIMIT_ADDRESS + 1];
	char user[LIMIT_ADDRESS + 1];
	char pass[LIMIT_PASSWORD_MAX + 1];
	size_t passlen;
};

/* Decodes a base64 PLAIN response "authzid\0user\0pass". Returns 0, or -1
 * (malformed, NUL missing, field too long, empty user). An authzid that is
 * neither empty nor equal to user is refused (-1). "=" means empty. */
int sasl_plain_decode(const char *b64, size_t len, struct sasl_creds *out);
/* Decodes one base64 LOGIN field (user or password) into out. 0 or -1. */
int sasl_b64_field(const char *b64, size_t len, char *out, size_t outsize, size_t *outlen);
/* Wipes the password (sodium_memzero). */
void sasl_creds_wipe(struct sasl_creds *c);

#endif
