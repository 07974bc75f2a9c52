/* acme.h - the ACME tables (sql/011_acme.sql): orders with their progress
 * and the CA's error, the account key per CA directory (sealed), and the
 * installation of an issued certificate. Blocking libpq: the ACME thread
 * of posternd, the panel's workers and posternctl, never the loop. */
#ifndef POSTERN_DB_ACME_H
#define POSTERN_DB_ACME_H

#include <stdint.h>

#include "db/db.h"

struct db_acme_order {
	int64_t id;
	const char *hostname;
	const char *challenge;	/* http-01, tls-alpn-01 */
	const char *state;	/* requested, running, valid, failed */
	const char *step;	/* what the ACME thread is doing or did last */
	const char *error;	/* the CA's error ("" when none) */
	const char *not_after;	/* ISO 8601 UTC of the certificate, "" before */
	const char *updated_at;	/* ISO 8601 UTC */
};
typedef void db_acme_order_fn(void *arg, const struct db_acme_order *o);

/* Inserts an order and wakes posternd (NOTIFY acme_requested) in one
 * transaction. hostname must be checked already. */
enum db_status db_acme_order_request(struct db *db, const char *hostname, const char *challenge,
				     int64_t *id_r);
/* Calls fn once for order id; DB_ERROR when there is no such order. */
enum db_status db_acme_order_get(struct db *db, int64_t id, db_acme_order_fn *fn, void *arg);
/* The newest max orders, newest first. */
enum db_status db_acme_order_list(struct db *db, int max, db_acme_order_fn *fn, void *arg);

/* Takes the oldest requested order, or a running one whose node died
 * (SKIP LOCKED: one node each), and holds its advisory lock until
 * db_acme_release() or the end of the connection. DB_OK with *id_r 0 when
 * there is none; else hostname and challenge malloc'd. */
enum db_status db_acme_claim(struct db *db, int64_t *id_r, char **hostname_r, char **challenge_r);
void db_acme_release(struct db *db, int64_t id);
enum db_status db_acme_step(struct db *db, int64_t id, const char *step);
enum db_status db_acme_fail(struct db *db, int64_t id, const char *error);
/* One transaction: drops the certificates for exactly this hostname,
 * stores the new one (key sealed), marks the order valid and sends NOTIFY
 * config_changed so every node reloads its certificates. */
enum db_status db_acme_install(struct db *db, int64_t id, const char *hostname,
			       const char *chain_pem, const char *key_pem, long long not_after);
/* Queues renewal orders for certificates ending within days; *n_r of them
 * (and NOTIFY acme_requested when any). */
enum db_status db_acme_renew_due(struct db *db, int days, int *n_r);

/* The account for a directory: DB_OK with *key_pem_r NULL when none;
 * else both malloc'd, the key unsealed (wipe it after use). */
enum db_status db_acme_account_get(struct db *db, const char *directory, char **key_pem_r,
				   char **account_url_r);
enum db_status db_acme_account_put(struct db *db, const char *directory, const char *key_pem,
				   const char *account_url);

#endif
