/* admin_mailauth.h - administration of DKIM keys, outbound limits and
 * abuse alerts (posternctl dkim ..., user limits, alerts; later the panel),
 * with the conventions of db/admin.h: validated input, one sentence in
 * err->msg, an audit_log row per change. Blocking: never the loop. */
#ifndef POSTERN_DB_ADMIN_MAILAUTH_H
#define POSTERN_DB_ADMIN_MAILAUTH_H

#include <stdbool.h>

#include "db/admin.h"

struct admin_dkim_key {
	const char *domain;
	const char *selector;
	const char *keytype;	/* "rsa" / "ed25519" */
	const char *record;	/* the TXT value: "v=DKIM1; k=...; p=..." */
	bool active;
};
typedef void admin_dkim_fn(void *arg, const struct admin_dkim_key *k);

/* New key(s) for domain: type "rsa", "ed25519" or "both" (default both;
 * selector default "postern"; with both the selectors are S-rsa and
 * S-ed25519). fn is called for each new key (its DNS record to publish). */
enum admin_status admin_dkim_generate(struct db *db, const char *actor, const char *domain,
				      const char *selector, const char *type, admin_dkim_fn *fn,
				      void *arg, struct admin_err *err);
/* Keys of one domain, or of all when domain is NULL. */
enum admin_status admin_dkim_list(struct db *db, const char *domain, admin_dkim_fn *fn, void *arg,
				  struct admin_err *err);

/* Outbound limits of an account (ADDRESS) or a domain (no '@'): a value
 * < -1 leaves it unchanged, -1 resets it to the default (NULL: the domain's
 * value, then LIMIT_SEND_*), >= 0 sets it. *per_hour_r / *rcpts_r get the
 * stored values afterwards (-1 = default). */
enum admin_status admin_send_limits(struct db *db, const char *actor, const char *target,
				    long per_hour, long rcpts, long *per_hour_r, long *rcpts_r,
				    struct admin_err *err);

struct admin_alert {
	const char *id, *at, *kind, *account, *detail;
};
typedef void admin_alert_fn(void *arg, const struct admin_alert *a);
/* The newest 1000 alerts, newest first. */
enum admin_status admin_alerts_list(struct db *db, admin_alert_fn *fn, void *arg,
				    struct admin_err *err);

#endif
