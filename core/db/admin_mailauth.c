/* admin_mailauth.c - DKIM key generation and listing, outbound limits and
 * the alert list for posternctl (and later the panel). Private keys are
 * sealed (auth/seal.h) before they reach the database; the public key is
 * stored as the p= value and printed as the TXT record to publish
 * (RFC 6376 3.6.1, RFC 8463 4). Limits: see admin_mailauth.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/seal.h"
#include "db/admin_mailauth.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "mail/dkim.h"

static enum admin_status fail(struct admin_err *err, const char *msg)
{
	str_lcpy(err->msg, msg, sizeof(err->msg));
	return ADMIN_FAIL;
}

static enum admin_status db_fail(struct db *db, enum db_status st, struct admin_err *err)
{
	if (st == DB_TEMP) {
		(void)str_fmt(err->msg, sizeof(err->msg), "the database is unavailable");
		return ADMIN_UNAVAILABLE;
	}
	if (str_fmt(err->msg, sizeof(err->msg), "database error: %s", db_error(db)) < 0)
		str_lcpy(err->msg, "database error", sizeof(err->msg));
	return ADMIN_FAIL;
}

static bool selector_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      ((c == '-' || c == '.') && i > 0 && i + 1 < n)))
			return false;
	}
	return true;
}

static const char *keytype_of(const char *pub)
{
	return strlen(pub) == 44 ? "ed25519" : "rsa";	/* 32 raw octets in base64 */
}

static void emit(admin_dkim_fn *fn, void *arg, const char *domain, const char *selector,
		 const char *pub, bool active)
{
	const char *kt = keytype_of(pub);
	size_t n = strlen(pub) + 32;
	char *rec = xmalloc(n);
	struct admin_dkim_key k = { domain, selector, kt, rec, active };

	if (str_fmt(rec, n, "v=DKIM1; k=%s; p=%s", kt, pub) >= 0)
		fn(arg, &k);
	free(rec);
}

static enum admin_status generate_one(struct db *db, const char *actor, const char *domain,
				      const char *selector, enum dkim_alg alg, admin_dkim_fn *fn,
				      void *arg, struct admin_err *err)
{
	char *pem = NULL, *pub = NULL, *sealed, detail[400];
	enum db_status st;
	PGresult *res;
	int rows;

	if (dkim_keygen(alg, &pem, &pub) < 0)
		return fail(err, "the key pair could not be generated");
	sealed = seal_text(pem);
	sodium_memzero(pem, strlen(pem));
	free(pem);
	if (sealed == NULL) {
		free(pub);
		return fail(err, "the private key could not be sealed (is the data directory "
				 "readable?)");
	}
	{
		const char *params[4] = { domain, selector, sealed, pub };
		res = db_exec(db, STMT_DKIM_INSERT, 4, params, NULL, NULL, &st);
	}
	free(sealed);
	rows = st == DB_OK ? PQntuples(res) : 0;
	PQclear(res);
	if (st == DB_CONFLICT) {
		free(pub);
		return fail(err, "the domain already has a key with this selector");
	}
	if (st != DB_OK) {
		free(pub);
		return db_fail(db, st, err);
	}
	if (rows == 0) {
		free(pub);
		return fail(err, "no such domain");
	}
	if (str_fmt(detail, sizeof(detail), "%s selector %s %s", domain, selector,
		    dkim_alg_keytype(alg)) >= 0) {
		const char *params[3] = { actor, "dkim_generate", detail };
		PQclear(db_exec(db, STMT_AUDIT, 3, params, NULL, NULL, &st));
	}
	emit(fn, arg, domain, selector, pub, true);
	free(pub);
	return ADMIN_OK;
}

enum admin_status admin_dkim_generate(struct db *db, const char *actor, const char *domain,
				      const char *selector, const char *type, admin_dkim_fn *fn,
				      void *arg, struct admin_err *err)
{
	char dom[LIMIT_DOMAIN + 1], sel[80];
	enum admin_status as;
	bool both = type == NULL || strcmp(type, "both") == 0;

	if (!admin_domain_check(domain, dom, sizeof(dom), err))
		return ADMIN_FAIL;
	if (selector == NULL)
		selector = "postern";
	if (!selector_ok(selector))
		return fail(err, "a selector is 1 to 63 letters, digits, '-' or '.'");
	if (!both && strcmp(type, "rsa") != 0 && strcmp(type, "ed25519") != 0)
		return fail(err, "--type is rsa, ed25519 or both");
	if (!both)
		return generate_one(db, actor, dom, selector,
				    strcmp(type, "rsa") == 0 ? DKIM_ALG_RSA : DKIM_ALG_ED25519,
				    fn, arg, err);
	if (str_fmt(sel, sizeof(sel), "%s-rsa", selector) < 0)
		return fail(err, "the selector is too long");
	as = generate_one(db, actor, dom, sel, DKIM_ALG_RSA, fn, arg, err);
	if (as != ADMIN_OK)
		return as;
	if (str_fmt(sel, sizeof(sel), "%s-ed25519", selector) < 0)
		return fail(err, "the selector is too long");
	return generate_one(db, actor, dom, sel, DKIM_ALG_ED25519, fn, arg, err);
}

enum admin_status admin_dkim_list(struct db *db, const char *domain, admin_dkim_fn *fn, void *arg,
				  struct admin_err *err)
{
	const char *params[1] = { domain };
	enum db_status st;
	PGresult *res = db_exec(db, STMT_DKIM_LIST, 1, params, NULL, NULL, &st);

	if (st != DB_OK) {
		PQclear(res);
		return db_fail(db, st, err);
	}
	for (int i = 0; i < PQntuples(res); i++)
		emit(fn, arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
		     PQgetvalue(res, i, 3)[0] == 't');
	PQclear(res);
	return ADMIN_OK;
}

static const char *limit_param(long v, char *buf, size_t size)
{
	if (v < -1)
		return NULL;	/* unchanged */
	(void)str_fmt(buf, size, "%ld", v);
	return buf;
}

/* A non-negative int column, -1 when NULL. */
static long column_long(const PGresult *res, int col)
{
	uint64_t v;

	if (PQgetisnull(res, 0, col) || strnum_parse(PQgetvalue(res, 0, col), INT32_MAX, &v) < 0)
		return -1;
	return (long)v;
}

enum admin_status admin_send_limits(struct db *db, const char *actor, const char *target,
				    long per_hour, long rcpts, long *per_hour_r, long *rcpts_r,
				    struct admin_err *err)
{
	char local[LIMIT_LOCAL_PART + 1], dom[LIMIT_DOMAIN + 1], a[24], b[24], detail[400];
	const char *pa = limit_param(per_hour, a, sizeof(a)), *pb = limit_param(rcpts, b, sizeof(b));
	bool account = strchr(target, '@') != NULL;
	enum db_status st;
	PGresult *res;

	if (account) {
		if (!admin_address_check(target, false, local, dom, err))
			return ADMIN_FAIL;
		const char *params[4] = { local, dom, pa, pb };
		res = db_exec(db, STMT_USER_LIMITS_SET, 4, params, NULL, NULL, &st);
	} else {
		if (!admin_domain_check(target, dom, sizeof(dom), err))
			return ADMIN_FAIL;
		const char *params[3] = { dom, pa, pb };
		res = db_exec(db, STMT_DOMAIN_LIMITS_SET, 3, params, NULL, NULL, &st);
	}
	if (st != DB_OK) {
		PQclear(res);
		return db_fail(db, st, err);
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		return fail(err, account ? "no such account" : "no such domain");
	}
	*per_hour_r = column_long(res, 0);
	*rcpts_r = column_long(res, 1);
	PQclear(res);
	if (str_fmt(detail, sizeof(detail), "%s per_hour=%ld rcpts=%ld", account ? target : dom,
		    *per_hour_r, *rcpts_r) >= 0) {
		const char *params[3] = { actor, "send_limits", detail };
		PQclear(db_exec(db, STMT_AUDIT, 3, params, NULL, NULL, &st));
	}
	return ADMIN_OK;
}

enum admin_status admin_alerts_list(struct db *db, admin_alert_fn *fn, void *arg,
				    struct admin_err *err)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_ALERTS_LIST, 0, NULL, NULL, NULL, &st);

	if (st != DB_OK) {
		PQclear(res);
		return db_fail(db, st, err);
	}
	for (int i = 0; i < PQntuples(res); i++) {
		struct admin_alert a = { PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
					 PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
					 PQgetvalue(res, i, 4) };
		fn(arg, &a);
	}
	PQclear(res);
	return ADMIN_OK;
}
