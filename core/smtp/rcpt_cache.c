/* rcpt_cache.c - a direct-mapped table of LIMIT_RCPT_CACHE entries: a
 * colliding address replaces the older one, so memory is fixed however
 * many addresses (catch-all domains!) clients try. The slot comes from a
 * keyed hash (per-process random key), so a client cannot aim collisions.
 * Invalidation is by generation: a flush bumps it, and entries of an older
 * generation are misses. */
#include "smtp/rcpt_cache.h"

#include <sodium.h>
#include <string.h>

#include "config/limits.h"
#include "lib/str.h"
#include "net/loop.h"

#define RC_ACCOUNTS 4	/* targets an entry holds; bigger expansions are not kept */

struct rc_entry {
	uint64_t gen;		/* 0 = empty */
	uint64_t expires_ms;
	char key[LIMIT_LOCAL_PART + 1 + LIMIT_DOMAIN + 1];
	int64_t accounts[RC_ACCOUNTS];
	uint8_t n_accounts;
};

static struct rc_entry rc_table[LIMIT_RCPT_CACHE];
static unsigned char rc_hash_key[crypto_shorthash_KEYBYTES];
static uint64_t rc_gen = 1;
static bool rc_on, rc_keyed;

void rcpt_cache_enable(bool on)
{
	if (on && !rc_keyed) {
		randombytes_buf(rc_hash_key, sizeof(rc_hash_key));
		rc_keyed = true;
	}
	rc_on = on;
	rcpt_cache_flush();
}

void rcpt_cache_flush(void)
{
	rc_gen++;
}

/* "local@domain" lower-cased into key; false when it does not fit. */
static bool rc_key(const char *local, const char *domain, char *key, size_t size)
{
	if (str_fmt(key, size, "%s@%s", local, domain) < 0)
		return false;
	str_lower(key);
	return true;
}

static struct rc_entry *rc_slot(const char *key)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)key, strlen(key), rc_hash_key);
	memcpy(&v, h, sizeof(v));
	return &rc_table[v % LIMIT_RCPT_CACHE];
}

bool rcpt_cache_get(const char *local, const char *domain, struct db_rcpt *out)
{
	char key[sizeof(rc_table[0].key)];
	struct rc_entry *e;

	if (!rc_on || !rc_key(local, domain, key, sizeof(key)))
		return false;
	e = rc_slot(key);
	if (e->gen != rc_gen || e->expires_ms <= loop_now_ms() || strcmp(e->key, key) != 0)
		return false;
	memset(out, 0, sizeof(*out));
	out->result = DB_RCPT_HOSTED;
	memcpy(out->accounts, e->accounts, e->n_accounts * sizeof(e->accounts[0]));
	out->n_accounts = e->n_accounts;
	return true;
}

uint64_t rcpt_cache_generation(void)
{
	return rc_gen;
}

void rcpt_cache_put(uint64_t gen, const char *local, const char *domain, const struct db_rcpt *r)
{
	char key[sizeof(rc_table[0].key)];
	struct rc_entry *e;

	if (!rc_on || gen != rc_gen || r->result != DB_RCPT_HOSTED || r->over_quota || r->n_remote != 0 ||
	    r->n_accounts == 0 || r->n_accounts > RC_ACCOUNTS ||
	    !rc_key(local, domain, key, sizeof(key)))
		return;
	e = rc_slot(key);
	memcpy(e->key, key, strlen(key) + 1);
	memcpy(e->accounts, r->accounts, r->n_accounts * sizeof(e->accounts[0]));
	e->n_accounts = (uint8_t)r->n_accounts;
	e->expires_ms = loop_now_ms() + LIMIT_RCPT_CACHE_TTL_MS;
	e->gen = rc_gen;
}
