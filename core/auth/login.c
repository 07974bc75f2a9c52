/* login.c - the asynchronous login shared by SMTP AUTH, POP3 and IMAP
 * (DESIGN.md section 2): a DB worker looks the account up, the loop checks
 * the cache of recent successes, else the auth pool runs argon2id, then the
 * caller's callback runs in the loop thread. The cache (LIMIT_AUTH_CACHE_
 * ENTRIES direct-mapped slots, LIMIT_AUTH_CACHE_TTL_S) is keyed by a BLAKE2b
 * hash of address and password under a per-process random key and
 * remembers a hash of the stored argon2id string, so a password change
 * drops the entry. It is touched by the loop thread only: no lock. Unknown
 * users are verified against a dummy hash so timing does not tell. */
#include "auth/login.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ban.h"
#include "auth/failures.h"
#include "auth/password.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "net/conn.h"
#include "net/loop.h"
#include "work/work.h"

#define CACHE_HASH crypto_generichash_BYTES	/* 32 */

struct cache_slot {
	unsigned char key[CACHE_HASH];
	unsigned char fp[CACHE_HASH];	/* hash of the stored password_hash */
	uint64_t expires_ms;
	bool used;
};

static struct cache_slot *cache;
static unsigned char cache_secret[crypto_generichash_KEYBYTES];
static bool login_ready;

struct login_job {
	struct job base;
	auth_login_fn *cb;
	char user[LIMIT_ADDRESS + 1];
	char pass[LIMIT_PASSWORD_MAX + 1];
	size_t passlen;
	enum db_status st;
	bool found;
	bool verified;
	bool too_long;		/* user or password over its limit: fails */
	struct db_account acc;
};

int auth_login_init(void)
{
	if (login_ready)
		return 0;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(cache_secret, sizeof cache_secret);
	cache = xcalloc(LIMIT_AUTH_CACHE_ENTRIES, sizeof *cache);
	login_ready = true;
	return 0;
}

static void job_free(struct login_job *j)
{
	sodium_memzero(j->pass, sizeof j->pass);
	sodium_memzero(j->acc.password_hash, sizeof j->acc.password_hash);
	j->passlen = 0;
	free(j);
}

static void cache_key(const struct login_job *j, unsigned char key[CACHE_HASH],
		      unsigned char fp[CACHE_HASH])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, cache_secret, sizeof cache_secret, CACHE_HASH);
	crypto_generichash_update(&st, (const unsigned char *)j->acc.address,
				  strlen(j->acc.address) + 1);
	crypto_generichash_update(&st, (const unsigned char *)j->pass, j->passlen);
	crypto_generichash_final(&st, key, CACHE_HASH);
	crypto_generichash(fp, CACHE_HASH, (const unsigned char *)j->acc.password_hash,
			   strlen(j->acc.password_hash), cache_secret, sizeof cache_secret);
	sodium_memzero(&st, sizeof st);
}

static struct cache_slot *cache_slot_of(const unsigned char key[CACHE_HASH])
{
	uint64_t h;
	memcpy(&h, key, sizeof h);
	return &cache[h % LIMIT_AUTH_CACHE_ENTRIES];
}

static bool cache_hit(const struct login_job *j)
{
	unsigned char key[CACHE_HASH], fp[CACHE_HASH];
	cache_key(j, key, fp);
	struct cache_slot *s = cache_slot_of(key);
	bool hit = false;
	if (s->used && sodium_memcmp(s->key, key, CACHE_HASH) == 0) {
		if (sodium_memcmp(s->fp, fp, CACHE_HASH) == 0 && loop_now_ms() < s->expires_ms)
			hit = true;
		else
			s->used = false;	/* expired, or the password changed */
	}
	sodium_memzero(key, sizeof key);
	return hit;
}

static void cache_put(const struct login_job *j)
{
	unsigned char key[CACHE_HASH], fp[CACHE_HASH];
	cache_key(j, key, fp);
	struct cache_slot *s = cache_slot_of(key);
	memcpy(s->key, key, CACHE_HASH);
	memcpy(s->fp, fp, CACHE_HASH);
	s->expires_ms = loop_now_ms() + (uint64_t)LIMIT_AUTH_CACHE_TTL_S * 1000;
	s->used = true;
	sodium_memzero(key, sizeof key);
}

/* --- auth pool: argon2id --- */

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[256];

static void dummy_make(void)
{
	char pw[32];
	randombytes_buf(pw, sizeof pw);
	if (password_hash(pw, sizeof pw, dummy_hash, sizeof dummy_hash) < 0)
		dummy_hash[0] = '\0';
	sodium_memzero(pw, sizeof pw);
}

static void verify_run(struct job *base, struct db *db)
{
	struct login_job *j = (struct login_job *)base;
	(void)db;
	if (j->found) {
		j->verified = password_verify(j->acc.password_hash, j->pass, j->passlen);
	} else {
		pthread_once(&dummy_once, dummy_make);
		if (dummy_hash[0] != '\0')
			(void)password_verify(dummy_hash, j->pass, j->passlen);
		j->verified = false;
	}
}

static void verify_done(struct job *base)
{
	struct login_job *j = (struct login_job *)base;
	if (j->verified && j->acc.active) {
		cache_put(j);
		j->cb(j->base.conn_id, AUTH_OK, &j->acc);
	} else {
		struct conn *c = conn_find(j->base.conn_id);
		if (c != NULL)
			auth_ban_fail(conn_peer_addr(c));	/* mailauth: per-IP ban */
		auth_failure_record(j->user, c != NULL ? conn_peer_addr(c) : NULL,
				    c != NULL ? conn_listener_name(c) : NULL);
		j->cb(j->base.conn_id, AUTH_FAIL, NULL);
	}
	job_free(j);
}

/* --- DB pool: account lookup --- */

static void lookup_run(struct job *base, struct db *db)
{
	struct login_job *j = (struct login_job *)base;
	if (j->too_long) {
		j->st = DB_OK;
		j->found = false;
		return;
	}
	if (db == NULL) {
		j->st = DB_TEMP;
		return;
	}
	j->st = db_account_by_address(db, j->user, &j->acc, &j->found);
}

static void lookup_done(struct job *base)
{
	struct login_job *j = (struct login_job *)base;
	if (j->st != DB_OK) {
		j->cb(j->base.conn_id, AUTH_TEMP, NULL);
		job_free(j);
		return;
	}
	if (conn_find(j->base.conn_id) == NULL) {
		/* The client left: no argon2id run for nobody. */
		j->cb(j->base.conn_id, AUTH_FAIL, NULL);
		job_free(j);
		return;
	}
	if (j->found && j->acc.active && cache_hit(j)) {
		j->cb(j->base.conn_id, AUTH_OK, &j->acc);
		job_free(j);
		return;
	}
	j->base.run = verify_run;
	j->base.done = verify_done;
	j->base.next = NULL;
	if (work_submit_auth(&j->base) < 0) {
		j->cb(j->base.conn_id, AUTH_TEMP, NULL);
		job_free(j);
	}
}

int auth_login(uint64_t conn_id, const char *user, const char *pass, size_t passlen,
	       auth_login_fn *cb)
{
	if (!login_ready && auth_login_init() < 0)
		return -1;
	struct login_job *j = xcalloc(1, sizeof *j);
	j->base.run = lookup_run;
	j->base.done = lookup_done;
	j->base.conn_id = conn_id;
	j->cb = cb;
	/* Over-long input fails (after the dummy verification, like any
	 * unknown user); it is never truncated into a match. */
	if (str_lcpy(j->user, user, sizeof j->user) >= sizeof j->user ||
	    passlen > LIMIT_PASSWORD_MAX) {
		j->too_long = true;
		passlen = passlen > LIMIT_PASSWORD_MAX ? LIMIT_PASSWORD_MAX : passlen;
	}
	memcpy(j->pass, pass, passlen);
	j->passlen = passlen;
	if (work_submit_db(&j->base) < 0) {
		job_free(j);
		return -1;
	}
	return 0;
}
