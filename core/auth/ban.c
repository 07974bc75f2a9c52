/* ban.c - the failed-login table behind auth/ban.h: LIMIT_AUTH_BAN_TABLE
 * entries in an open-addressed hash on the address (a keyed hash, so a
 * client cannot aim at one bucket), probing AUTH_BAN_PROBE slots and
 * replacing the least recently touched one when all are taken: memory is
 * fixed, and an attacker with many addresses can only make us forget the
 * oldest counters. Times are loop_now_ms(). Loop thread only. */
#include <string.h>

#include <sodium.h>

#include "auth/ban.h"
#include "config/limits.h"
#include "config/trusted.h"
#include "lib/log.h"
#include "lib/str.h"
#include "net/loop.h"

#define AUTH_BAN_PROBE 8

struct auth_ban_entry {
	char ip[64];		/* "" = free */
	unsigned fails;
	uint64_t window_start;
	uint64_t banned_until;
	uint64_t touched;
};

static struct auth_ban_entry auth_ban_table[LIMIT_AUTH_BAN_TABLE];
static unsigned char auth_ban_key[crypto_shorthash_KEYBYTES];
static bool auth_ban_keyed;

static size_t slot_of(const char *ip)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	if (!auth_ban_keyed) {
		randombytes_buf(auth_ban_key, sizeof(auth_ban_key));
		auth_ban_keyed = true;
	}
	crypto_shorthash(h, (const unsigned char *)ip, strlen(ip), auth_ban_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)(v % LIMIT_AUTH_BAN_TABLE);
}

static struct auth_ban_entry *find(const char *ip, bool create)
{
	size_t s = slot_of(ip);
	struct auth_ban_entry *victim = NULL;

	for (size_t i = 0; i < AUTH_BAN_PROBE; i++) {
		struct auth_ban_entry *e = &auth_ban_table[(s + i) % LIMIT_AUTH_BAN_TABLE];
		if (strcmp(e->ip, ip) == 0)
			return e;
		if (victim == NULL || e->ip[0] == '\0' ||
		    (victim->ip[0] != '\0' && e->touched < victim->touched))
			victim = e;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	str_lcpy(victim->ip, ip, sizeof(victim->ip));
	return victim;
}

void auth_ban_fail(const char *ip)
{
	uint64_t now = loop_now_ms();
	struct auth_ban_entry *e;

	if (ip == NULL || *ip == '\0' || config_trusted_ip(ip))
		return;
	e = find(ip, true);
	e->touched = now;
	if (e->fails == 0 || now - e->window_start > (uint64_t)LIMIT_AUTH_FAIL_WINDOW_S * 1000) {
		e->fails = 0;
		e->window_start = now;
	}
	if (++e->fails >= LIMIT_AUTH_FAIL_PER_IP && e->banned_until <= now) {
		e->banned_until = now + (uint64_t)LIMIT_AUTH_BAN_S * 1000;
		e->fails = 0;
		log_warn("auth", "%s banned for %d s after %d failed logins", ip, LIMIT_AUTH_BAN_S,
			 LIMIT_AUTH_FAIL_PER_IP);
	}
}

bool auth_ban_active(const char *ip)
{
	struct auth_ban_entry *e;

	if (ip == NULL || *ip == '\0')
		return false;
	e = find(ip, false);
	return e != NULL && e->banned_until > loop_now_ms();
}
