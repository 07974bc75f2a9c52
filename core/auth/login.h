/* login.h - the asynchronous login every protocol shares:
 * DB pool looks the account up, the auth pool verifies argon2id (or the
 * cache of recent successes answers), then cb runs in the loop thread.
 * The cache key is a keyed hash (per-process random key) of address and
 * password, kept LIMIT_AUTH_CACHE_TTL_S and dropped when the stored hash
 * changes. */
#ifndef POSTERN_AUTH_LOGIN_H
#define POSTERN_AUTH_LOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "db/store.h"

enum auth_status {
	AUTH_OK = 0,
	AUTH_FAIL,	/* bad user, bad password, disabled: 535 5.7.8 / NO [AUTHENTICATIONFAILED] / -ERR [AUTH] */
	AUTH_TEMP,	/* database unavailable: 454 4.7.0 / NO [UNAVAILABLE] / -ERR [SYS/TEMP] */
};

/* Called in the loop thread; account valid only during the call. Look the
 * conn up with conn_find(conn_id): it may have gone. */
typedef void auth_login_fn(uint64_t conn_id, enum auth_status st, const struct db_account *account);

/* Starts a login. user/pass are copied (and the copies wiped). Returns 0,
 * or -1 when the queues are full (answer a temporary failure). */
int auth_login(uint64_t conn_id, const char *user, const char *pass, size_t passlen,
	       auth_login_fn *cb);
int auth_login_init(void);

#endif
