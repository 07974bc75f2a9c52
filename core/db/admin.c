/* admin.c - administration operations (admin.h) for posternctl and the
 * panel. Input is validated before any SQL runs: domain names are LDH
 * labels (RFC 1035 2.3.1, RFC 5890 A-labels) of at most LIMIT_DOMAIN
 * octets, local parts dot-atoms (RFC 5321 4.1.2, UTF-8 per RFC 6531) of at
 * most LIMIT_LOCAL_PART, passwords pass password_weakness(). Each change is
 * one transaction ending with an audit_log row; errors are one sentence.
 * Slow work (argon2id) happens before BEGIN so no transaction waits on it. */
#include "db/admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth/password.h"
#include "auth/seal.h"
#include "db/store.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "net/tls.h"

/* The mailboxes created with each new account (RFC 6154 special-use). */
static const struct {
	const char *name;
	const char *special_use;
} admin_mailboxes[] = {
	{ "INBOX", NULL },
	{ "Drafts", "\\Drafts" },
	{ "Sent", "\\Sent" },
	{ "Trash", "\\Trash" },
	{ "Junk", "\\Junk" },
};

/* ---------- errors ---------- */

static enum admin_status admin_fail(struct admin_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum admin_status admin_fail(struct admin_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(err->msg, sizeof(err->msg), fmt, ap) < 0)
		str_lcpy(err->msg, "the request failed", sizeof(err->msg));
	va_end(ap);	/* a cut message is still one sentence */
	return ADMIN_FAIL;
}

/* Client text made safe and short for a message. */
static const char *q(char *buf, size_t size, const char *s)
{
	return str_printable(buf, size, s, strlen(s));
}

static enum admin_status admin_db_fail(struct db *db, enum db_status st, struct admin_err *err)
{
	switch (st) {
	case DB_TEMP:
		(void)admin_fail(err, "the database is unavailable (%s)", db_error(db));
		return ADMIN_UNAVAILABLE;
	case DB_DISKFULL:
		return admin_fail(err, "the database disk is full");
	case DB_RETRY:
		return admin_fail(err, "a concurrent change got in the way; try again");
	default:
		return admin_fail(err, "database error: %s", db_error(db));
	}
}

/* Rolls back and reports st. */
static enum admin_status admin_abort(struct db *db, enum db_status st, struct admin_err *err)
{
	enum admin_status as = admin_db_fail(db, st, err);

	db_rollback(db);
	return as;
}

/* Rolls back with a refusal that was already written into err. */
static enum admin_status admin_refuse(struct db *db)
{
	db_rollback(db);
	return ADMIN_FAIL;
}

static enum db_status run(struct db *db, enum db_stmt id, int n, const char *const *values)
{
	enum db_status st;

	PQclear(db_exec(db, id, n, values, NULL, NULL, &st));
	return st;
}

static void i64_text(char *buf, size_t size, int64_t v)
{
	(void)str_fmt(buf, size, "%lld", (long long)v);
}

/* Writes the audit row and commits. */
static enum admin_status admin_finish(struct db *db, const char *actor, const char *action,
				      const char *detail, struct admin_err *err)
{
	const char *params[3] = { actor != NULL ? actor : "unknown", action, detail };
	enum db_status st = run(db, STMT_AUDIT, 3, params);

	if (st != DB_OK)
		return admin_abort(db, st, err);
	st = db_commit(db);
	if (st == DB_TEMP) {
		admin_fail(err, "the database connection broke during COMMIT; the change may or "
			   "may not have been made");
		return ADMIN_UNAVAILABLE;
	}
	if (st != DB_OK)
		return admin_db_fail(db, st, err);
	return ADMIN_OK;
}

/* ---------- validation ---------- */

bool admin_domain_check(const char *name, char *out, size_t outsize, struct admin_err *err)
{
	char safe[80];
	size_t len = strlen(name), label = 0;
	bool all_digits = true;

	if (len == 0) {
		admin_fail(err, "the domain name is empty");
		return false;
	}
	if (len > LIMIT_DOMAIN || len >= outsize) {
		admin_fail(err, "the domain name is longer than %d characters", LIMIT_DOMAIN);
		return false;
	}
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || name[i - 1] == '-') {
				admin_fail(err, "invalid domain name \"%s\": each label needs 1 to 63 "
					   "letters, digits or inner hyphens", q(safe, sizeof(safe), name));
				return false;
			}
			if (c == '\0')
				break;
			label = 0;
			all_digits = true;
			out[i] = '.';
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '-' && label == 0) {
			admin_fail(err, "invalid domain name \"%s\": a label cannot start with a hyphen",
				   q(safe, sizeof(safe), name));
			return false;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			admin_fail(err, "invalid domain name \"%s\": only letters, digits, hyphens and "
				   "dots are allowed (use the xn-- form for international names)",
				   q(safe, sizeof(safe), name));
			return false;
		}
		if (c < '0' || c > '9')
			all_digits = false;
		out[i] = (char)c;
		label++;
	}
	out[len] = '\0';
	if (all_digits) {
		admin_fail(err, "invalid domain name \"%s\": it looks like an IP address",
			   q(safe, sizeof(safe), name));
		return false;
	}
	return true;
}

/* RFC 5322 atext, plus UTF-8 octets (RFC 6531). */
static bool local_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

bool admin_address_check(const char *address, bool allow_catchall, char *local_r,
			 char *domain_r, struct admin_err *err)
{
	char safe[80];
	const char *at = strchr(address, '@');
	size_t llen;

	if (at == NULL || strchr(at + 1, '@') != NULL) {
		admin_fail(err, "invalid address \"%s\": it must look like name@example.com",
			   q(safe, sizeof(safe), address));
		return false;
	}
	llen = (size_t)(at - address);
	if (llen == 0 && !allow_catchall) {
		admin_fail(err, "invalid address \"%s\": the part before @ is empty",
			   q(safe, sizeof(safe), address));
		return false;
	}
	if (llen > LIMIT_LOCAL_PART) {
		admin_fail(err, "invalid address \"%s\": the part before @ is longer than %d characters",
			   q(safe, sizeof(safe), address), LIMIT_LOCAL_PART);
		return false;
	}
	for (size_t i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)address[i];
		bool dot_ok = c == '.' && i > 0 && i + 1 < llen && address[i + 1] != '.';
		if (!dot_ok && !local_char_ok(c)) {
			admin_fail(err, "invalid address \"%s\": the part before @ has a character "
				   "or dot that is not allowed", q(safe, sizeof(safe), address));
			return false;
		}
	}
	memcpy(local_r, address, llen);
	local_r[llen] = '\0';
	return admin_domain_check(at + 1, domain_r, LIMIT_DOMAIN + 1, err);
}

/* ---------- lookups ---------- */

/* *id_r 0 when the domain is not hosted. */
/* Runs a statement that finds at most one id; *id_r 0 when none. */
static enum db_status one_id(struct db *db, enum db_stmt stmt, int n, const char *const *params,
			     int64_t *id_r)
{
	enum db_status st;
	PGresult *res = db_exec(db, stmt, n, params, NULL, NULL, &st);

	*id_r = st == DB_OK && PQntuples(res) == 1 ? db_col_i64(res, 0, 0) : 0;
	PQclear(res);
	return st;
}

static enum db_status domain_id(struct db *db, const char *domain, int64_t *id_r)
{
	const char *params[1] = { domain };

	return one_id(db, STMT_DOMAIN_BY_NAME, 1, params, id_r);
}

/* *id_r 0 when there is no such account. */
static enum db_status account_id(struct db *db, int64_t domain, const char *local, int64_t *id_r)
{
	char dtext[24];
	const char *params[2] = { dtext, local };

	i64_text(dtext, sizeof(dtext), domain);
	return one_id(db, STMT_RCPT_ACCOUNT, 2, params, id_r);
}

/* True when (domain, local) has alias rows ('' = catch-all). */
static enum db_status alias_exists(struct db *db, int64_t domain, const char *local, bool *yes_r)
{
	char dtext[24];
	const char *params[2] = { dtext, local };
	enum db_status st;
	PGresult *res;

	i64_text(dtext, sizeof(dtext), domain);
	res = db_exec(db, STMT_RCPT_ALIASES, 2, params, NULL, NULL, &st);
	*yes_r = st == DB_OK && PQntuples(res) > 0;
	PQclear(res);
	return st;
}

/* Begins, then finds the account of address; refusals written to err.
 * On ADMIN_OK the transaction is open. */
static enum admin_status begin_account(struct db *db, const char *address, int64_t *id_r,
				       struct admin_err *err)
{
	char local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1], safe[80];
	int64_t did;
	enum db_status st;

	if (!admin_address_check(address, false, local, domain, err))
		return ADMIN_FAIL;
	st = db_begin(db);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	st = domain_id(db, domain, &did);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (did == 0) {
		admin_fail(err, "domain %s does not exist", q(safe, sizeof(safe), domain));
		return admin_refuse(db);
	}
	st = account_id(db, did, local, id_r);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (*id_r == 0) {
		admin_fail(err, "account %s does not exist", q(safe, sizeof(safe), address));
		return admin_refuse(db);
	}
	return ADMIN_OK;
}

/* ---------- domains ---------- */

enum admin_status admin_domain_add(struct db *db, const char *actor, const char *name,
				   struct admin_err *err)
{
	char domain[LIMIT_DOMAIN + 1];
	const char *params[1] = { domain };
	enum db_status st;

	if (!admin_domain_check(name, domain, sizeof(domain), err))
		return ADMIN_FAIL;
	st = db_begin(db);
	if (st == DB_OK)
		st = run(db, STMT_DOMAIN_INSERT, 1, params);
	if (st == DB_CONFLICT) {
		admin_fail(err, "domain %s already exists", domain);
		return admin_refuse(db);
	}
	if (st != DB_OK)
		return admin_abort(db, st, err);
	return admin_finish(db, actor, "domain add", domain, err);
}

enum admin_status admin_domain_del(struct db *db, const char *actor, const char *name,
				   struct admin_err *err)
{
	char domain[LIMIT_DOMAIN + 1], idtext[24];
	const char *params[1] = { idtext };
	int64_t did, accounts = 0;
	enum db_status st;
	PGresult *res;

	if (!admin_domain_check(name, domain, sizeof(domain), err))
		return ADMIN_FAIL;
	st = db_begin(db);
	if (st == DB_OK)
		st = domain_id(db, domain, &did);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (did == 0) {
		admin_fail(err, "domain %s does not exist", domain);
		return admin_refuse(db);
	}
	i64_text(idtext, sizeof(idtext), did);
	res = db_exec(db, STMT_DOMAIN_ACCOUNT_COUNT, 1, params, NULL, NULL, &st);
	if (st == DB_OK)
		accounts = db_col_i64(res, 0, 0);
	PQclear(res);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (accounts > 0) {
		admin_fail(err, "domain %s still has %lld account%s; delete %s first", domain,
			   (long long)accounts, accounts == 1 ? "" : "s", accounts == 1 ? "it" : "them");
		return admin_refuse(db);
	}
	st = run(db, STMT_DOMAIN_DELETE, 1, params);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	return admin_finish(db, actor, "domain del", domain, err);
}

enum admin_status admin_domain_list(struct db *db, admin_domain_fn *fn, void *arg,
				    struct admin_err *err)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_DOMAIN_LIST, 0, NULL, NULL, NULL, &st);

	for (int i = 0; st == DB_OK && i < PQntuples(res); i++) {
		struct admin_domain d = { PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)[0] == 't' };
		fn(arg, &d);
	}
	PQclear(res);
	return st == DB_OK ? ADMIN_OK : admin_db_fail(db, st, err);
}

/* ---------- accounts ---------- */

/* Checks and hashes a password into hash (crypto_pwhash_STRBYTES). */
static bool admin_hash(const char *password, size_t passlen, char *hash, size_t size,
		       struct admin_err *err)
{
	const char *weak = password_weakness(password, passlen);

	if (weak != NULL) {
		admin_fail(err, "%s", weak);
		return false;
	}
	if (password_hash(password, passlen, hash, size) < 0) {
		admin_fail(err, "the password could not be hashed (out of memory?)");
		return false;
	}
	return true;
}

enum admin_status admin_user_add(struct db *db, const char *actor, const char *address,
				 const char *password, size_t passlen, int64_t quota_bytes,
				 struct admin_err *err)
{
	char local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1], safe[80];
	char hash[crypto_pwhash_STRBYTES], t[3][24], detail[LIMIT_ADDRESS + 64];
	int64_t did, aid = 0;
	bool has_alias = false;
	enum db_status st;
	PGresult *res;

	if (!admin_address_check(address, false, local, domain, err))
		return ADMIN_FAIL;
	if (quota_bytes < 0)
		return admin_fail(err, "the quota must be 0 (unlimited) or a number of bytes");
	if (!admin_hash(password, passlen, hash, sizeof(hash), err))
		return ADMIN_FAIL;
	st = db_begin(db);
	if (st == DB_OK)
		st = domain_id(db, domain, &did);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (did == 0) {
		admin_fail(err, "domain %s does not exist; add it first", domain);
		return admin_refuse(db);
	}
	st = alias_exists(db, did, local, &has_alias);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (has_alias) {
		admin_fail(err, "%s@%s is an alias; delete the alias before adding an account with "
			   "that address", q(safe, sizeof(safe), local), domain);
		return admin_refuse(db);
	}
	i64_text(t[0], sizeof(t[0]), did);
	i64_text(t[1], sizeof(t[1]), quota_bytes);
	{
		const char *params[4] = { t[0], local, hash, t[1] };
		res = db_exec(db, STMT_ACCOUNT_INSERT, 4, params, NULL, NULL, &st);
	}
	if (st == DB_OK)
		aid = db_col_i64(res, 0, 0);
	PQclear(res);
	sodium_memzero(hash, sizeof(hash));
	if (st == DB_CONFLICT) {
		admin_fail(err, "account %s@%s already exists", q(safe, sizeof(safe), local), domain);
		return admin_refuse(db);
	}
	if (st != DB_OK)
		return admin_abort(db, st, err);
	i64_text(t[2], sizeof(t[2]), aid);
	for (size_t i = 0; i < sizeof(admin_mailboxes) / sizeof(admin_mailboxes[0]); i++) {
		const char *params[3] = { t[2], admin_mailboxes[i].name, admin_mailboxes[i].special_use };
		st = run(db, STMT_MAILBOX_CREATE, 3, params);
		if (st != DB_OK)
			return admin_abort(db, st, err);
	}
	(void)str_fmt(detail, sizeof(detail), "%s@%s quota=%lld", local, domain, (long long)quota_bytes);
	return admin_finish(db, actor, "user add", detail, err);
}

enum admin_status admin_user_passwd(struct db *db, const char *actor, const char *address,
				    const char *password, size_t passlen, struct admin_err *err)
{
	char local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1];
	char hash[crypto_pwhash_STRBYTES], idtext[24];
	const char *params[2] = { idtext, hash };
	enum admin_status as;
	enum db_status st;
	int64_t aid;

	if (!admin_address_check(address, false, local, domain, err))
		return ADMIN_FAIL;
	if (!admin_hash(password, passlen, hash, sizeof(hash), err))
		return ADMIN_FAIL;
	as = begin_account(db, address, &aid, err);
	if (as != ADMIN_OK) {
		sodium_memzero(hash, sizeof(hash));
		return as;
	}
	i64_text(idtext, sizeof(idtext), aid);
	st = run(db, STMT_ACCOUNT_SET_PASSWORD, 2, params);
	sodium_memzero(hash, sizeof(hash));
	if (st != DB_OK)
		return admin_abort(db, st, err);
	return admin_finish(db, actor, "user passwd", address, err);
}

enum admin_status admin_user_del(struct db *db, const char *actor, const char *address,
				 struct admin_err *err)
{
	char idtext[24];
	const char *params[1] = { idtext };
	enum admin_status as;
	enum db_status st;
	PGresult *res;
	char *blobs = NULL;
	int64_t aid;

	as = begin_account(db, address, &aid, err);
	if (as != ADMIN_OK)
		return as;
	i64_text(idtext, sizeof(idtext), aid);
	res = db_exec(db, STMT_ACCOUNT_BLOBS, 1, params, NULL, NULL, &st);
	if (st == DB_OK)
		blobs = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (st == DB_OK)
		st = run(db, STMT_ACCOUNT_DELETE, 1, params);
	if (st == DB_OK)
		st = db_blob_gc(db, blobs);
	free(blobs);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	return admin_finish(db, actor, "user del", address, err);
}

enum admin_status admin_user_set_active(struct db *db, const char *actor, const char *address,
					bool active, struct admin_err *err)
{
	char idtext[24];
	const char *params[2] = { idtext, active ? "true" : "false" };
	enum admin_status as;
	enum db_status st;
	int64_t aid;

	as = begin_account(db, address, &aid, err);
	if (as != ADMIN_OK)
		return as;
	i64_text(idtext, sizeof(idtext), aid);
	st = run(db, STMT_ACCOUNT_SET_ACTIVE, 2, params);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	return admin_finish(db, actor, active ? "user enable" : "user disable", address, err);
}

enum admin_status admin_user_set_quota(struct db *db, const char *actor, const char *address,
				       int64_t quota_bytes, struct admin_err *err)
{
	char idtext[24], qtext[24], detail[LIMIT_ADDRESS + 40];
	const char *params[2] = { idtext, qtext };
	enum admin_status as;
	enum db_status st;
	int64_t aid;

	if (quota_bytes < 0)
		return admin_fail(err, "the quota must be 0 (unlimited) or a number of bytes");
	as = begin_account(db, address, &aid, err);
	if (as != ADMIN_OK)
		return as;
	i64_text(idtext, sizeof(idtext), aid);
	i64_text(qtext, sizeof(qtext), quota_bytes);
	st = run(db, STMT_ACCOUNT_SET_QUOTA, 2, params);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	(void)str_fmt(detail, sizeof(detail), "%s quota=%lld", address, (long long)quota_bytes);
	return admin_finish(db, actor, "user quota", detail, err);
}

/* Checks an optional domain filter: normalised into out, or out NULL. */
static enum admin_status list_filter(struct db *db, const char *domain, char *out, size_t size,
				     const char **filter_r, struct admin_err *err)
{
	int64_t did;
	enum db_status st;

	*filter_r = NULL;
	if (domain == NULL)
		return ADMIN_OK;
	if (!admin_domain_check(domain, out, size, err))
		return ADMIN_FAIL;
	st = domain_id(db, out, &did);
	if (st != DB_OK)
		return admin_db_fail(db, st, err);
	if (did == 0)
		return admin_fail(err, "domain %s does not exist", out);
	*filter_r = out;
	return ADMIN_OK;
}

enum admin_status admin_user_list(struct db *db, const char *domain, admin_user_fn *fn, void *arg,
				  struct admin_err *err)
{
	char dom[LIMIT_DOMAIN + 1];
	const char *params[1];
	enum admin_status as = list_filter(db, domain, dom, sizeof(dom), &params[0], err);
	enum db_status st;
	PGresult *res;

	if (as != ADMIN_OK)
		return as;
	res = db_exec(db, STMT_ACCOUNT_LIST, 1, params, NULL, NULL, &st);
	for (int i = 0; st == DB_OK && i < PQntuples(res); i++) {
		struct admin_user u = {
			.address = PQgetvalue(res, i, 0),
			.used_bytes = db_col_i64(res, i, 1),
			.quota_bytes = db_col_i64(res, i, 2),
			.active = PQgetvalue(res, i, 3)[0] == 't',
		};
		fn(arg, &u);
	}
	PQclear(res);
	return st == DB_OK ? ADMIN_OK : admin_db_fail(db, st, err);
}

/* ---------- aliases ---------- */

struct alias_args {
	char local[LIMIT_LOCAL_PART + 1];	/* "" = catch-all */
	char domain[LIMIT_DOMAIN + 1];
	char dlocal[LIMIT_LOCAL_PART + 1];
	char ddomain[LIMIT_DOMAIN + 1];
	char dest[LIMIT_ADDRESS + 1];		/* destination with its domain lower-cased */
	char source[LIMIT_ADDRESS + 1];		/* for messages and the audit row */
	char idtext[24];
	int64_t did;
};

/* Validates source and destination, begins and finds the source domain. */
static enum admin_status begin_alias(struct db *db, const char *source, const char *destination,
				     struct alias_args *a, struct admin_err *err)
{
	enum db_status st;

	if (!admin_address_check(source, true, a->local, a->domain, err) ||
	    !admin_address_check(destination, false, a->dlocal, a->ddomain, err))
		return ADMIN_FAIL;
	(void)str_fmt(a->dest, sizeof(a->dest), "%s@%s", a->dlocal, a->ddomain);
	(void)str_fmt(a->source, sizeof(a->source), "%s@%s", a->local, a->domain);
	st = db_begin(db);
	if (st == DB_OK)
		st = domain_id(db, a->domain, &a->did);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (a->did == 0) {
		admin_fail(err, "domain %s does not exist", a->domain);
		return admin_refuse(db);
	}
	i64_text(a->idtext, sizeof(a->idtext), a->did);
	return ADMIN_OK;
}

enum admin_status admin_alias_add(struct db *db, const char *actor, const char *source,
				  const char *destination, struct admin_err *err)
{
	struct alias_args a;
	char safe[80], safe2[80], detail[2 * LIMIT_ADDRESS + 8];
	struct db_rcpt *r;
	enum admin_status as;
	enum db_status st;
	int64_t aid = 0;

	as = begin_alias(db, source, destination, &a, err);
	if (as != ADMIN_OK)
		return as;
	if (str_caseeq(a.source, a.dest)) {
		admin_fail(err, "an alias cannot point to itself");
		return admin_refuse(db);
	}
	if (a.local[0] != '\0') {
		st = account_id(db, a.did, a.local, &aid);
		if (st != DB_OK)
			return admin_abort(db, st, err);
		if (aid != 0) {
			admin_fail(err, "%s is an account; an alias with that address would never be used",
				   q(safe, sizeof(safe), a.source));
			return admin_refuse(db);
		}
	}
	/* a hosted destination must exist: a typo would bounce every message */
	r = xmalloc(sizeof(*r));
	st = db_rcpt_resolve(db, a.dlocal, a.ddomain, r);
	if (st == DB_OK && r->result == DB_RCPT_NO_USER) {
		free(r);
		admin_fail(err, "destination %s does not exist (no account, alias or catch-all)",
			   q(safe, sizeof(safe), a.dest));
		return admin_refuse(db);
	}
	free(r);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	{
		const char *params[3] = { a.idtext, a.local[0] != '\0' ? a.local : NULL, a.dest };
		st = run(db, STMT_ALIAS_INSERT, 3, params);
	}
	if (st == DB_CONFLICT) {
		admin_fail(err, "alias %s -> %s already exists", q(safe, sizeof(safe), a.source),
			   q(safe2, sizeof(safe2), a.dest));
		return admin_refuse(db);
	}
	if (st != DB_OK)
		return admin_abort(db, st, err);
	(void)str_fmt(detail, sizeof(detail), "%s -> %s", a.source, a.dest);
	return admin_finish(db, actor, "alias add", detail, err);
}

enum admin_status admin_alias_del(struct db *db, const char *actor, const char *source,
				  const char *destination, struct admin_err *err)
{
	struct alias_args a;
	char safe[80], safe2[80], detail[2 * LIMIT_ADDRESS + 8];
	enum admin_status as;
	enum db_status st;
	PGresult *res;
	bool gone;

	as = begin_alias(db, source, destination, &a, err);
	if (as != ADMIN_OK)
		return as;
	{
		const char *params[3] = { a.idtext, a.local[0] != '\0' ? a.local : NULL, a.dest };
		res = db_exec(db, STMT_ALIAS_DELETE, 3, params, NULL, NULL, &st);
	}
	gone = st == DB_OK && PQcmdTuples(res)[0] != '0';
	PQclear(res);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (!gone) {
		admin_fail(err, "alias %s -> %s does not exist", q(safe, sizeof(safe), a.source),
			   q(safe2, sizeof(safe2), a.dest));
		return admin_refuse(db);
	}
	(void)str_fmt(detail, sizeof(detail), "%s -> %s", a.source, a.dest);
	return admin_finish(db, actor, "alias del", detail, err);
}

enum admin_status admin_alias_list(struct db *db, const char *domain, admin_alias_fn *fn,
				   void *arg, struct admin_err *err)
{
	char dom[LIMIT_DOMAIN + 1];
	const char *params[1];
	enum admin_status as = list_filter(db, domain, dom, sizeof(dom), &params[0], err);
	enum db_status st;
	PGresult *res;

	if (as != ADMIN_OK)
		return as;
	res = db_exec(db, STMT_ALIAS_LIST, 1, params, NULL, NULL, &st);
	for (int i = 0; st == DB_OK && i < PQntuples(res); i++) {
		struct admin_alias al = { PQgetvalue(res, i, 0), PQgetvalue(res, i, 1) };
		fn(arg, &al);
	}
	PQclear(res);
	return st == DB_OK ? ADMIN_OK : admin_db_fail(db, st, err);
}

/* ---------- listeners ---------- */

enum admin_status admin_listener_list(struct db *db, admin_listener_fn *fn, void *arg,
				      struct admin_err *err)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_LISTENERS_LOAD, 0, NULL, NULL, NULL, &st);

	for (int i = 0; st == DB_OK && i < PQntuples(res); i++) {
		struct admin_listener l = {
			.name = PQgetvalue(res, i, 0),
			.protocol = PQgetvalue(res, i, 1),
			.port = (int)db_col_i64(res, i, 2),
			.tls = PQgetvalue(res, i, 3),
			.enabled = PQgetvalue(res, i, 4)[0] == 't',
		};
		fn(arg, &l);
	}
	PQclear(res);
	return st == DB_OK ? ADMIN_OK : admin_db_fail(db, st, err);
}

static bool tls_mode_ok(const char *s)
{
	return strcmp(s, "none") == 0 || strcmp(s, "starttls") == 0 || strcmp(s, "implicit") == 0;
}

bool admin_listener_change_check(const struct admin_listener_change *c, struct admin_err *err)
{
	char safe[80];

	if (c->set_port && (c->port < 1 || c->port > 65535)) {
		admin_fail(err, "port %d is out of range (1..65535)", c->port);
		return false;
	}
	if (c->tls != NULL && !tls_mode_ok(c->tls)) {
		admin_fail(err, "bad TLS mode \"%s\" (use none, starttls or implicit)",
			   q(safe, sizeof(safe), c->tls));
		return false;
	}
	return true;
}

enum admin_status admin_listener_set(struct db *db, const char *actor, const char *name,
				     const struct admin_listener_change *c, struct admin_err *err)
{
	char safe[80], tls[16], port[16], detail[160];
	const char *gp[1] = { name };
	bool enabled;
	enum db_status st;
	PGresult *res;

	if (!admin_listener_change_check(c, err))
		return ADMIN_FAIL;
	if (*name == '\0' || strlen(name) > 64)
		return admin_fail(err, "listener \"%s\" does not exist", q(safe, sizeof(safe), name));
	st = db_begin(db);
	if (st == DB_OK)
		st = run(db, STMT_LISTENER_LOCK, 0, NULL);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	res = db_exec(db, STMT_LISTENER_GET, 1, gp, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		return admin_abort(db, st, err);
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail(err, "listener \"%s\" does not exist (see listener list)",
			   q(safe, sizeof(safe), name));
		return admin_refuse(db);
	}
	if (c->set_port)
		(void)str_fmt(port, sizeof(port), "%d", c->port);
	else
		str_lcpy(port, PQgetvalue(res, 0, 2), sizeof(port));
	str_lcpy(tls, c->tls != NULL ? c->tls : PQgetvalue(res, 0, 3), sizeof(tls));
	enabled = c->enable >= 0 ? c->enable == 1 : PQgetvalue(res, 0, 4)[0] == 't';
	PQclear(res);
	if (enabled) {
		const char *pp[2] = { port, name };
		res = db_exec(db, STMT_LISTENER_PORT_USER, 2, pp, NULL, NULL, &st);
		if (st == DB_OK && PQntuples(res) == 1) {
			admin_fail(err, "port %s is already used by listener %s", port,
				   q(safe, sizeof(safe), PQgetvalue(res, 0, 0)));
			PQclear(res);
			return admin_refuse(db);
		}
		PQclear(res);
		if (st != DB_OK)
			return admin_abort(db, st, err);
	}
	{
		const char *up[4] = { name, port, tls, enabled ? "true" : "false" };
		const char *np[1] = { "listeners" };
		st = run(db, STMT_LISTENER_UPDATE, 4, up);
		if (st == DB_OK)
			st = run(db, STMT_NOTIFY_CONFIG, 1, np);
	}
	if (st != DB_OK)
		return admin_abort(db, st, err);
	(void)str_fmt(detail, sizeof(detail), "%s port=%s tls=%s %s", q(safe, sizeof(safe), name),
		      port, tls, enabled ? "enabled" : "disabled");
	return admin_finish(db, actor, "listener set", detail, err);
}

/* ---------- queue ---------- */

enum admin_status admin_queue_list(struct db *db, admin_queue_fn *fn, void *arg,
				   struct admin_err *err)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_QUEUE_LIST, 0, NULL, NULL, NULL, &st);

	for (int i = 0; st == DB_OK && i < PQntuples(res); i++) {
		struct admin_queue_item it = {
			.id = db_col_i64(res, i, 0),
			.sender = PQgetvalue(res, i, 1),
			.recipient = PQgetvalue(res, i, 2),
			.state = PQgetvalue(res, i, 3),
			.attempts = (int)db_col_i64(res, i, 4),
			.next_attempt = PQgetvalue(res, i, 5),
			.last_error = PQgetvalue(res, i, 6),
		};
		fn(arg, &it);
	}
	PQclear(res);
	return st == DB_OK ? ADMIN_OK : admin_db_fail(db, st, err);
}

/* ---------- queue operations (outbound) ---------- */

enum admin_status admin_queue_op(struct db *db, const char *actor, enum admin_queue_op op,
				 int64_t id, long long *count_r, struct admin_err *err)
{
	static const enum db_stmt stmts[] = { STMT_QUEUE_RETRY, STMT_QUEUE_DROP, STMT_QUEUE_HOLD,
					      STMT_QUEUE_RELEASE };
	static const char *const names[] = { "queue retry", "queue drop", "queue hold",
					     "queue release" };
	char idt[24], detail[64];
	enum db_status st = db_begin(db);
	long long n = 0;

	*count_r = 0;
	if (st != DB_OK)
		return admin_db_fail(db, st, err);
	i64_text(idt, sizeof(idt), id);
	const char *p[1] = { id >= 0 ? idt : NULL };
	PGresult *res = db_exec(db, stmts[op], 1, p, NULL, NULL, &st);
	if (st == DB_OK && (op == ADMIN_QUEUE_RETRY || op == ADMIN_QUEUE_RELEASE))
		n = PQntuples(res) == 1 ? db_col_i64(res, 0, 0) : 0;
	else if (st == DB_OK)
		n = PQntuples(res);
	if (st == DB_OK && op == ADMIN_QUEUE_DROP && n > 0) {
		char arr[48];
		(void)str_fmt(arr, sizeof(arr), "{%s}", PQgetvalue(res, 0, 0));
		st = db_blob_gc(db, arr);
	}
	PQclear(res);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (n == 0 && id >= 0) {
		admin_fail(err, "no queue entry %lld%s", (long long)id,
			   op == ADMIN_QUEUE_RELEASE ? " is held" :
			   op == ADMIN_QUEUE_RETRY ? " is waiting for a retry" : "");
		return admin_refuse(db);
	}
	*count_r = n;
	(void)str_fmt(detail, sizeof(detail), "%s (%lld row(s))", id >= 0 ? idt : "all", n);
	return admin_finish(db, actor, names[op], detail, err);
}

/* ---------- TLS certificates ---------- */

/* Builds the '\n'-joined list of names a certificate will serve into out:
 * every name it covers when n is 0, else the given ones (checked, covered,
 * lower-cased, duplicates dropped). */
static enum admin_status cert_names(const struct tls_check_info *info, const char *const *in,
				    size_t n, struct buf *out, struct admin_err *err)
{
	char name[TLS_CHECK_NAME], safe[80];
	size_t kept = 0;

	if (n > LIMIT_CERT_HOSTNAMES)
		return admin_fail(err, "a certificate serves at most %d hostnames",
				  LIMIT_CERT_HOSTNAMES);
	for (size_t i = 0; i < (n > 0 ? n : info->n_names); i++) {
		const char *h = n > 0 ? in[i] : info->names[i];
		if (!tls_check_hostname(h, name))
			return admin_fail(err, "\"%s\" is not a valid hostname",
					  q(safe, sizeof(safe), h));
		if (!tls_check_covers(info, name))
			return admin_fail(err, "the certificate does not cover %s (it names %s%s)",
					  name, info->names[0], info->n_names > 1 ? ", ..." : "");
		/* drop a repeated name: search the list built so far */
		{
			const char *list = (const char *)buf_data(out);
			size_t len = strlen(name), at = 0, total = buf_len(out);
			bool dup = false;
			while (at < total && !dup) {
				const char *nl = memchr(list + at, '\n', total - at);
				size_t l = nl != NULL ? (size_t)(nl - (list + at)) : total - at;
				dup = l == len && memcmp(list + at, name, len) == 0;
				at += l + 1;
			}
			if (dup)
				continue;
		}
		if (buf_printf(out, "%s%s", kept > 0 ? "\n" : "", name) < 0)
			return admin_fail(err, "too many hostnames");
		kept++;
	}
	if (buf_append(out, "", 1) < 0)
		return admin_fail(err, "too many hostnames");
	return ADMIN_OK;
}

/* In a transaction holding the certificate lock: certificate idtext
 * serves names (taken from the others; stored when set_names), maybe
 * becomes the default; NOTIFY.
 * XXX: a certificate left with no names at all still answers, in the core,
 * for the names it holds (net/tls.c falls back to its subjectAltName list
 * for rows without hostnames), so SNI may pick it when it loads first. */
static enum db_status cert_apply(struct db *db, const char *idtext, const char *names,
				 bool set_names, bool make_default)
{
	const char *np[2] = { idtext, names };
	const char *dp[1] = { idtext };
	const char *cp[1] = { "certificates" };
	enum db_status st = names != NULL ? run(db, STMT_PANEL_CERT_TAKE_NAMES, 2, np) : DB_OK;

	if (st == DB_OK && set_names)
		st = run(db, STMT_PANEL_CERT_SET_NAMES, 2, np);
	if (st == DB_OK && make_default)
		st = run(db, STMT_PANEL_CERT_SET_DEFAULT, 1, dp);
	if (st == DB_OK)
		st = run(db, STMT_NOTIFY_CONFIG, 1, cp);
	return st;
}

enum admin_status admin_cert_import(struct db *db, const char *actor, const char *cert_pem,
				    const char *key_pem, const char *const *hostnames,
				    size_t n_hostnames, bool make_default, int64_t *id_r,
				    const char **field_r, struct admin_err *err)
{
	struct tls_check_info info;
	struct buf names;
	char idtext[24], at[24], detail[200];
	char *sealed = NULL;
	enum admin_status as;
	enum db_status st;

	*id_r = 0;
	if (tls_check_pair(cert_pem, key_pem, time(NULL), &info, field_r, err->msg,
			   sizeof(err->msg)) < 0)
		return ADMIN_FAIL;
	*field_r = "hostnames";
	buf_init(&names, (size_t)LIMIT_CERT_HOSTNAMES * TLS_CHECK_NAME);
	as = cert_names(&info, hostnames, n_hostnames, &names, err);
	if (as != ADMIN_OK)
		goto out;
	*field_r = "key_pem";
	sealed = seal_text(key_pem);
	if (sealed == NULL) {
		as = admin_fail(err, "the private key cannot be sealed (no seal key loaded)");
		goto out;
	}
	*field_r = NULL;
	(void)str_fmt(at, sizeof(at), "%lld", info.not_after);
	st = db_begin(db);
	if (st == DB_OK)
		st = run(db, STMT_PANEL_CERT_LOCK, 0, NULL);
	if (st == DB_OK) {
		const char *ip[4] = { (const char *)buf_data(&names), cert_pem, sealed, at };
		st = one_id(db, STMT_PANEL_CERT_INSERT, 4, ip, id_r);
	}
	if (st == DB_OK) {
		i64_text(idtext, sizeof(idtext), *id_r);
		st = cert_apply(db, idtext, (const char *)buf_data(&names), false, make_default);
	}
	if (st != DB_OK) {
		as = admin_abort(db, st, err);
		goto out;
	}
	(void)str_fmt(detail, sizeof(detail), "id=%s %s%s", idtext, info.names[0],
		      make_default ? " default" : "");
	as = admin_finish(db, actor, "cert import", detail, err);
out:
	if (sealed != NULL) {
		sodium_memzero(sealed, strlen(sealed));
		free(sealed);
	}
	buf_free(&names);
	return as;
}

enum admin_status admin_cert_generate(struct db *db, const char *actor, const char *hostname,
				      int days, bool make_default, int64_t *id_r,
				      struct admin_err *err)
{
	char name[TLS_CHECK_NAME], safe[80];
	char *cert = NULL, *key = NULL;
	const char *field = NULL;
	const char *names[1] = { name };
	enum admin_status as;

	*id_r = 0;
	if (!tls_check_hostname(hostname, name) || name[0] == '*')
		return admin_fail(err, "\"%s\" is not a valid hostname", q(safe, sizeof(safe),
									 hostname));
	if (days < 1 || days > LIMIT_CERT_DAYS)
		return admin_fail(err, "days must be between 1 and %d", LIMIT_CERT_DAYS);
	if (tls_generate_selfsigned(name, days, &cert, &key) < 0)
		return admin_fail(err, "the certificate could not be generated");
	as = admin_cert_import(db, actor, cert, key, names, 1, make_default, id_r, &field, err);
	sodium_memzero(key, strlen(key));
	free(key);
	free(cert);
	return as;
}

enum admin_status admin_cert_list(struct db *db, admin_cert_fn *fn, void *arg,
				  struct admin_err *err)
{
	static __thread struct tls_check_info info;	/* 16 KiB: off the stack */
	const char *hosts[LIMIT_CERT_HOSTNAMES];
	char msg[128];
	enum db_status st;
	PGresult *res = db_exec(db, STMT_PANEL_CERT_LIST, 0, NULL, NULL, NULL, &st);

	for (int i = 0; st == DB_OK && i < PQntuples(res); i++) {
		char *list = PQgetvalue(res, i, 1);	/* split in place: libpq's copy */
		struct admin_cert c = { .id = db_col_i64(res, i, 0), .hostnames = hosts,
					.info = &info,
					.is_default = PQgetvalue(res, i, 3)[0] == 't' };
		if (tls_check_info(PQgetvalue(res, i, 2), &info, msg, sizeof(msg)) < 0)
			str_lcpy(info.subject, msg, sizeof(info.subject));
		for (char *p = list; *p != '\0' && c.n_hostnames < LIMIT_CERT_HOSTNAMES;) {
			char *nl = strchr(p, '\n');
			hosts[c.n_hostnames++] = p;
			if (nl == NULL)
				break;
			*nl = '\0';
			p = nl + 1;
		}
		fn(arg, &c);
	}
	PQclear(res);
	return st == DB_OK ? ADMIN_OK : admin_db_fail(db, st, err);
}

/* Begins, locks and reads certificate idtext's PEM into info. */
static enum admin_status cert_begin(struct db *db, const char *idtext, struct tls_check_info *info,
				    struct admin_err *err)
{
	const char *gp[1] = { idtext };
	enum db_status st = db_begin(db);
	PGresult *res;

	if (st == DB_OK)
		st = run(db, STMT_PANEL_CERT_LOCK, 0, NULL);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	res = db_exec(db, STMT_PANEL_CERT_GET, 1, gp, NULL, NULL, &st);
	if (st != DB_OK) {
		PQclear(res);
		return admin_abort(db, st, err);
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_fail(err, "certificate %s does not exist", idtext);
		return admin_refuse(db);
	}
	if (tls_check_info(PQgetvalue(res, 0, 0), info, err->msg, sizeof(err->msg)) < 0) {
		PQclear(res);
		return admin_refuse(db);
	}
	PQclear(res);
	return ADMIN_OK;
}

enum admin_status admin_cert_set(struct db *db, const char *actor, int64_t id,
				 const char *const *hostnames, size_t n_hostnames, bool make_default,
				 const char **field_r, struct admin_err *err)
{
	static __thread struct tls_check_info info;
	char idtext[24], detail[96];
	struct buf names;
	enum admin_status as;
	enum db_status st;

	*field_r = NULL;
	i64_text(idtext, sizeof(idtext), id);
	as = cert_begin(db, idtext, &info, err);
	if (as != ADMIN_OK)
		return as;
	buf_init(&names, (size_t)LIMIT_CERT_HOSTNAMES * TLS_CHECK_NAME);
	if (hostnames != NULL) {
		if (n_hostnames == 0) {
			as = admin_fail(err, "give at least one hostname (or delete the certificate)");
		} else {
			as = cert_names(&info, hostnames, n_hostnames, &names, err);
		}
		if (as != ADMIN_OK) {
			*field_r = "hostnames";
			buf_free(&names);
			return admin_refuse(db);
		}
	}
	st = cert_apply(db, idtext, hostnames != NULL ? (const char *)buf_data(&names) : NULL,
			hostnames != NULL, make_default);
	if (st != DB_OK) {
		buf_free(&names);
		return admin_abort(db, st, err);
	}
	(void)str_fmt(detail, sizeof(detail), "id=%s%s%s", idtext,
		      hostnames != NULL ? " hostnames" : "", make_default ? " default" : "");
	buf_free(&names);
	return admin_finish(db, actor, "cert set", detail, err);
}

enum admin_status admin_cert_del(struct db *db, const char *actor, int64_t id,
				 struct admin_err *err)
{
	static __thread struct tls_check_info info;
	char idtext[24], detail[64];
	const char *dp[1] = { idtext };
	const char *cp[1] = { "certificates" };
	int64_t count = 0;
	enum admin_status as;
	enum db_status st;
	PGresult *res;

	i64_text(idtext, sizeof(idtext), id);
	as = cert_begin(db, idtext, &info, err);
	if (as != ADMIN_OK)
		return as;
	res = db_exec(db, STMT_CERT_COUNT, 0, NULL, NULL, NULL, &st);
	if (st == DB_OK)
		count = db_col_i64(res, 0, 0);
	PQclear(res);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (count <= 1) {
		admin_fail(err, "the last certificate cannot be deleted; upload or generate "
			   "another one first");
		return admin_refuse(db);
	}
	st = run(db, STMT_PANEL_CERT_DELETE, 1, dp);
	if (st == DB_OK)
		st = run(db, STMT_NOTIFY_CONFIG, 1, cp);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	(void)str_fmt(detail, sizeof(detail), "id=%s %s", idtext, info.names[0]);
	return admin_finish(db, actor, "cert del", detail, err);
}

/* ---------- panel admins ---------- */

bool admin_admin_name_check(const char *name, struct admin_err *err)
{
	size_t n = strlen(name);

	if (n == 0 || n > LIMIT_WEB_USERNAME) {
		admin_fail(err, "an admin name has 1 to %d characters", LIMIT_WEB_USERNAME);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '@')) {
			admin_fail(err, "an admin name has only letters, digits and . _ - @");
			return false;
		}
	}
	return true;
}

enum admin_status admin_admin_add(struct db *db, const char *actor, const char *name,
				  const char *password, size_t passlen, struct admin_err *err)
{
	char hash[crypto_pwhash_STRBYTES];
	const char *params[2] = { name, hash };
	int64_t id = 0;
	enum db_status st;

	if (!admin_admin_name_check(name, err) ||
	    !admin_hash(password, passlen, hash, sizeof(hash), err))
		return ADMIN_FAIL;
	st = db_begin(db);
	if (st == DB_OK)
		st = one_id(db, STMT_PANEL_ADMIN_ADD, 2, params, &id);
	sodium_memzero(hash, sizeof(hash));
	if (st == DB_CONFLICT) {
		admin_fail(err, "admin %s already exists", name);
		return admin_refuse(db);
	}
	if (st != DB_OK)
		return admin_abort(db, st, err);
	return admin_finish(db, actor, "admin add", name, err);
}

/* Runs stmt (name -> id) and drops the admin's sessions; refuses an
 * unknown name. In a transaction begun by the caller. */
static enum admin_status admin_admin_change(struct db *db, enum db_stmt stmt, int n,
					    const char *const *params, const char *name,
					    struct admin_err *err)
{
	char idtext[24];
	const char *sp[1] = { idtext };
	int64_t id = 0;
	enum db_status st = one_id(db, stmt, n, params, &id);

	if (st != DB_OK)
		return admin_abort(db, st, err);
	if (id == 0) {
		admin_fail(err, "admin %s does not exist", name);
		return admin_refuse(db);
	}
	i64_text(idtext, sizeof(idtext), id);
	st = run(db, STMT_PANEL_ADMIN_SESSIONS_DROP, 1, sp);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	return ADMIN_OK;
}

enum admin_status admin_admin_passwd(struct db *db, const char *actor, const char *name,
				     const char *password, size_t passlen, struct admin_err *err)
{
	char hash[crypto_pwhash_STRBYTES];
	const char *params[2] = { name, hash };
	enum admin_status as;
	enum db_status st;

	if (!admin_admin_name_check(name, err) ||
	    !admin_hash(password, passlen, hash, sizeof(hash), err))
		return ADMIN_FAIL;
	st = db_begin(db);
	if (st != DB_OK) {
		sodium_memzero(hash, sizeof(hash));
		return admin_abort(db, st, err);
	}
	as = admin_admin_change(db, STMT_PANEL_ADMIN_PASSWD, 2, params, name, err);
	sodium_memzero(hash, sizeof(hash));
	if (as != ADMIN_OK)
		return as;
	return admin_finish(db, actor, "admin passwd", name, err);
}

enum admin_status admin_admin_totp_reset(struct db *db, const char *actor, const char *name,
					 struct admin_err *err)
{
	const char *params[1] = { name };
	enum admin_status as;
	enum db_status st;

	if (!admin_admin_name_check(name, err))
		return ADMIN_FAIL;
	st = db_begin(db);
	if (st != DB_OK)
		return admin_abort(db, st, err);
	as = admin_admin_change(db, STMT_PANEL_ADMIN_TOTP_RESET, 1, params, name, err);
	if (as != ADMIN_OK)
		return as;
	return admin_finish(db, actor, "admin totp-reset", name, err);
}
