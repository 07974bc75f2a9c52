/* password.c - password hashing with argon2id (libsodium crypto_pwhash_str,
 * OPSLIMIT/MEMLIMIT_INTERACTIVE: about 64 MiB and tens of milliseconds per
 * hash) and the strength rules posternctl and the panel apply:
 * LIMIT_PASSWORD_MIN..LIMIT_PASSWORD_MAX bytes, no NUL (SASL PLAIN could not
 * carry it), not one character repeated. Never call from the loop thread. */
#include "auth/password.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config/limits.h"
#include "lib/log.h"

#define STR_OF_(x) #x
#define STR_OF(x) STR_OF_(x)

static pthread_once_t password_once = PTHREAD_ONCE_INIT;
static int password_sodium_rc;

static void password_sodium_init(void)
{
	password_sodium_rc = sodium_init();
}

static bool password_ready(void)
{
	pthread_once(&password_once, password_sodium_init);
	return password_sodium_rc >= 0;
}

int password_hash(const char *pw, size_t len, char *out, size_t outsize)
{
	if (!password_ready() || outsize < crypto_pwhash_STRBYTES || pw == NULL)
		return -1;
	if (crypto_pwhash_str_alg(out, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		log_error("auth", "argon2id hashing failed (out of memory?)");
		return -1;
	}
	return 0;
}

bool password_verify(const char *hash, const char *pw, size_t len)
{
	/* crypto_pwhash_str_verify wants a NUL inside its STRBYTES buffer */
	if (!password_ready() || hash == NULL || pw == NULL ||
	    memchr(hash, '\0', crypto_pwhash_STRBYTES) == NULL || hash[0] == '\0')
		return false;
	return crypto_pwhash_str_verify(hash, pw, len) == 0;
}

const char *password_weakness(const char *pw, size_t len)
{
	size_t i;

	if (pw == NULL || len == 0)
		return "the password is empty";
	if (memchr(pw, '\0', len) != NULL)
		return "the password contains a NUL byte";
	if (len < LIMIT_PASSWORD_MIN)
		return "the password is too short (at least " STR_OF(LIMIT_PASSWORD_MIN) " characters)";
	if (len > LIMIT_PASSWORD_MAX)
		return "the password is too long (at most " STR_OF(LIMIT_PASSWORD_MAX) " characters)";
	for (i = 1; i < len && pw[i] == pw[0]; i++)
		;
	if (i == len)
		return "the password is one character repeated";
	return NULL;
}
