/* password.h - argon2id hashing (libsodium crypto_pwhash_str). Slow on
 * purpose: call from the auth pool or posternctl, never the loop. */
#ifndef POSTERN_AUTH_PASSWORD_H
#define POSTERN_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* Writes an argon2id string into out (>= 128 bytes). 0 or -1. */
int password_hash(const char *pw, size_t len, char *out, size_t outsize);
bool password_verify(const char *hash, const char *pw, size_t len);
/* NULL when acceptable, else a sentence saying why not (posternctl, panel). */
const char *password_weakness(const char *pw, size_t len);

#endif
