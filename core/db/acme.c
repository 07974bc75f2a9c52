/* acme.c - typed queries on the ACME tables (sql/011_acme.sql). Private
 * keys (account and certificate) are sealed before they reach the
 * database (auth/seal.h). Error texts are cut to LIMIT_ACME_ERROR octets
 * at a UTF-8 boundary before they are stored. */
#include "db/acme.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/seal.h"
#include "config/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

static enum db_status acme_run(struct db *db, enum db_stmt id, int n, const char *const *values)
{
	enum db_status st;

	PQclear(db_exec(db, id, n, values, NULL, NULL, &st));
	return st;
}

enum db_status db_acme_order_request(struct db *db, const char *hostname, const char *challenge,
				     int64_t *id_r)
{
	const char *p[3] = { hostname, challenge, "false" };
	enum db_status st = db_begin(db);
	PGresult *res;

	if (st != DB_OK)
		return st;
	res = db_exec(db, STMT_ACME_ORDER_INSERT, 3, p, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		const char *id = PQgetvalue(res, 0, 0);
		*id_r = strtoll(id, NULL, 10);
		st = acme_run(db, STMT_ACME_NOTIFY, 1, &id);
	} else if (st == DB_OK) {
		st = DB_ERROR;
	}
	PQclear(res);
	if (st != DB_OK) {
		db_rollback(db);
		return st;
	}
	return db_commit(db);
}

static enum db_status acme_orders(struct db *db, enum db_stmt stmt, const char *param,
				  db_acme_order_fn *fn, void *arg, int *rows_r)
{
	enum db_status st;
	PGresult *res = db_exec(db, stmt, 1, &param, NULL, NULL, &st);

	if (st == DB_OK) {
		int n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			struct db_acme_order o = {
				.hostname = PQgetvalue(res, i, 0),
				.challenge = PQgetvalue(res, i, 1),
				.state = PQgetvalue(res, i, 2),
				.step = PQgetvalue(res, i, 3),
				.error = PQgetvalue(res, i, 4),
				.not_after = PQgetvalue(res, i, 5),
				.updated_at = PQgetvalue(res, i, 6),
				.id = strtoll(PQgetvalue(res, i, 7), NULL, 10),
			};
			fn(arg, &o);
		}
		*rows_r = n;
	}
	PQclear(res);
	return st;
}

enum db_status db_acme_order_get(struct db *db, int64_t id, db_acme_order_fn *fn, void *arg)
{
	char idtext[24];
	int rows = 0;
	enum db_status st;

	(void)str_fmt(idtext, sizeof(idtext), "%lld", (long long)id);
	st = acme_orders(db, STMT_ACME_ORDER_GET, idtext, fn, arg, &rows);
	return st == DB_OK && rows == 0 ? DB_ERROR : st;
}

enum db_status db_acme_order_list(struct db *db, int max, db_acme_order_fn *fn, void *arg)
{
	char n[16];
	int rows = 0;

	(void)str_fmt(n, sizeof(n), "%d", max);
	return acme_orders(db, STMT_ACME_ORDER_LIST, n, fn, arg, &rows);
}

enum db_status db_acme_claim(struct db *db, int64_t *id_r, char **hostname_r, char **challenge_r)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_ACME_ORDER_CLAIM, 0, NULL, NULL, NULL, &st);

	*id_r = 0;
	*hostname_r = *challenge_r = NULL;
	if (st == DB_OK && PQntuples(res) == 1) {
		*id_r = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*hostname_r = xstrdup(PQgetvalue(res, 0, 1));
		*challenge_r = xstrdup(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return st;
}

void db_acme_release(struct db *db, int64_t id)
{
	char idtext[24];
	const char *p = idtext;

	(void)str_fmt(idtext, sizeof(idtext), "%lld", (long long)id);
	(void)acme_run(db, STMT_ACME_ORDER_UNLOCK, 1, &p); /* a dead connection released it */
}

enum db_status db_acme_step(struct db *db, int64_t id, const char *step)
{
	char idtext[24];
	const char *p[2] = { idtext, step };

	(void)str_fmt(idtext, sizeof(idtext), "%lld", (long long)id);
	return acme_run(db, STMT_ACME_ORDER_STEP, 2, p);
}

enum db_status db_acme_fail(struct db *db, int64_t id, const char *error)
{
	char idtext[24], cut[LIMIT_ACME_ERROR + 1];
	size_t len = strlen(error);
	const char *p[2] = { idtext, cut };

	if (len > LIMIT_ACME_ERROR) {
		len = LIMIT_ACME_ERROR;
		while (len > 0 && ((unsigned char)error[len] & 0xc0) == 0x80)
			len--; /* not inside a UTF-8 sequence */
	}
	memcpy(cut, error, len);
	cut[len] = '\0';
	(void)str_fmt(idtext, sizeof(idtext), "%lld", (long long)id);
	return acme_run(db, STMT_ACME_ORDER_FAIL, 2, p);
}

enum db_status db_acme_install(struct db *db, int64_t id, const char *hostname,
			       const char *chain_pem, const char *key_pem, long long not_after)
{
	char idtext[24], at[24];
	char *sealed = seal_text(key_pem);
	enum db_status st;
	PGresult *res = NULL;

	if (sealed == NULL) {
		log_error("acme", "cannot seal the certificate key (seal_init not called?)");
		return DB_ERROR;
	}
	(void)str_fmt(idtext, sizeof(idtext), "%lld", (long long)id);
	(void)str_fmt(at, sizeof(at), "%lld", not_after);
	st = db_begin(db);
	if (st != DB_OK)
		goto out;
	st = acme_run(db, STMT_ACME_CERT_DROP_OLD, 1, &hostname);
	if (st == DB_OK) {
		const char *p[4] = { hostname, chain_pem, sealed, at };
		res = db_exec(db, STMT_ACME_CERT_INSERT, 4, p, NULL, NULL, &st);
	}
	if (st == DB_OK && PQntuples(res) == 1) {
		const char *p[3] = { idtext, PQgetvalue(res, 0, 0), at };
		st = acme_run(db, STMT_ACME_ORDER_DONE, 3, p);
	} else if (st == DB_OK) {
		st = DB_ERROR;
	}
	if (st == DB_OK) {
		const char *why = "acme";
		st = acme_run(db, STMT_NOTIFY_CONFIG, 1, &why);
	}
	if (st != DB_OK)
		db_rollback(db);
	else
		st = db_commit(db);
out:
	PQclear(res);
	free(sealed);
	return st;
}

enum db_status db_acme_renew_due(struct db *db, int days, int *n_r)
{
	char d[16];
	const char *p = d;
	enum db_status st;
	PGresult *res;

	*n_r = 0;
	(void)str_fmt(d, sizeof(d), "%d", days);
	res = db_exec(db, STMT_ACME_RENEW_DUE, 1, &p, NULL, NULL, &st);
	if (st == DB_OK)
		*n_r = PQntuples(res);
	PQclear(res);
	if (st == DB_OK && *n_r > 0) {
		const char *why = "renewal";
		st = acme_run(db, STMT_ACME_NOTIFY, 1, &why);
	}
	return st;
}

enum db_status db_acme_account_get(struct db *db, const char *directory, char **key_pem_r,
				   char **account_url_r)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_ACME_ACCOUNT_GET, 1, &directory, NULL, NULL, &st);

	*key_pem_r = *account_url_r = NULL;
	if (st == DB_OK && PQntuples(res) == 1) {
		*key_pem_r = seal_open(PQgetvalue(res, 0, 0));
		if (*key_pem_r == NULL) {
			log_error("acme", "the ACME account key cannot be unsealed (seal.key changed?)");
			st = DB_ERROR;
		} else {
			*account_url_r = xstrdup(PQgetvalue(res, 0, 1));
		}
	}
	PQclear(res);
	return st;
}

enum db_status db_acme_account_put(struct db *db, const char *directory, const char *key_pem,
				   const char *account_url)
{
	char *sealed = seal_text(key_pem);
	enum db_status st;

	if (sealed == NULL)
		return DB_ERROR;
	{
		const char *p[3] = { directory, sealed, account_url };
		st = acme_run(db, STMT_ACME_ACCOUNT_PUT, 3, p);
	}
	free(sealed);
	return st;
}
