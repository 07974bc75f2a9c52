/* store.c - typed queries of the mail store (store.h is the contract for
 * the SMTP and POP3 code): login lookup, recipient resolution (account,
 * alias, +tag, catch-all; aliases nest LIMIT_ALIAS_DEPTH deep and may point
 * to other domains), delivery in ONE transaction (DESIGN.md durability
 * invariant: the caller answers 250 only after db_deliver returned DB_OK),
 * the POP3 view of INBOX, expunge with QRESYNC bookkeeping, listeners and
 * certificates. UIDs come from the mailbox row updated in the same
 * transaction, never from a sequence; mailbox rows are locked in account id
 * order so concurrent deliveries cannot deadlock each other. */
#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/seal.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"

/* ---------- small helpers ---------- */

static void i64_text(char *buf, size_t size, int64_t v)
{
	(void)str_fmt(buf, size, "%lld", (long long)v);
}

/* Non-negative integer column (ids, sizes, counters); 0 when unparsable. */
static int64_t col_i64(const PGresult *res, int row, int col)
{
	uint64_t v;

	if (PQgetisnull(res, row, col) || strnum_parse(PQgetvalue(res, row, col), INT64_MAX, &v) < 0)
		return 0;
	return (int64_t)v;
}

static bool col_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* Rows changed by an INSERT/UPDATE/DELETE. */
static int64_t affected(const PGresult *res)
{
	uint64_t v;

	if (strnum_parse(PQcmdTuples((PGresult *)res), INT64_MAX, &v) < 0)
		return 0;
	return (int64_t)v;
}

/* Runs a statement whose result is not needed. */
static enum db_status run(struct db *db, enum db_stmt id, int n, const char *const *values)
{
	enum db_status st;

	PQclear(db_exec(db, id, n, values, NULL, NULL, &st));
	return st;
}

/* Splits local@domain at the last '@' into bounded buffers. */
static bool addr_split(const char *address, char *local, size_t lsize, char *domain, size_t dsize)
{
	const char *at = strrchr(address, '@');
	size_t llen;

	if (at == NULL || at == address || at[1] == '\0')
		return false;
	llen = (size_t)(at - address);
	if (llen >= lsize || strlen(at + 1) >= dsize)
		return false;
	memcpy(local, address, llen);
	local[llen] = '\0';
	str_lcpy(domain, at + 1, dsize);
	return true;
}

/* ---------- login ---------- */

enum db_status db_account_by_address(struct db *db, const char *address, struct db_account *out,
				     bool *found_r)
{
	char local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1];
	const char *params[2] = { local, domain };
	enum db_status st;
	PGresult *res;

	*found_r = false;
	memset(out, 0, sizeof(*out));
	if (!addr_split(address, local, sizeof(local), domain, sizeof(domain)))
		return DB_OK;
	res = db_exec(db, STMT_ACCOUNT_BY_ADDRESS, 2, params, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		out->id = col_i64(res, 0, 0);
		out->domain_id = col_i64(res, 0, 1);
		out->inbox_id = col_i64(res, 0, 2);
		str_lcpy(out->address, PQgetvalue(res, 0, 3), sizeof(out->address));
		str_lcpy(out->password_hash, PQgetvalue(res, 0, 4), sizeof(out->password_hash));
		out->active = col_bool(res, 0, 5);
		out->quota_bytes = col_i64(res, 0, 6);
		out->used_bytes = col_i64(res, 0, 7);
		*found_r = true;
	}
	PQclear(res);
	return st;
}

/* ---------- recipient resolution ---------- */

#define RCPT_DOMAIN_CACHE 8

struct rcpt_ctx {
	struct db *db;
	struct db_rcpt *out;
	bool catchall;		/* false for db_sender_allowed */
	struct {
		char name[LIMIT_DOMAIN + 1];
		int64_t id;	/* 0 = not hosted */
		bool active;
	} dom[RCPT_DOMAIN_CACHE];
	size_t n_dom;
};

static enum db_status rcpt_expand(struct rcpt_ctx *c, const char *local, const char *domain,
				  int depth, enum db_rcpt_result *res_r);

static enum db_status rcpt_domain(struct rcpt_ctx *c, const char *domain, int64_t *id_r,
				  bool *active_r)
{
	const char *params[1] = { domain };
	enum db_status st;
	PGresult *res;

	for (size_t i = 0; i < c->n_dom; i++) {
		if (str_caseeq(c->dom[i].name, domain)) {
			*id_r = c->dom[i].id;
			*active_r = c->dom[i].active;
			return DB_OK;
		}
	}
	res = db_exec(c->db, STMT_DOMAIN_BY_NAME, 1, params, NULL, NULL, &st);
	*id_r = 0;
	*active_r = false;
	if (st == DB_OK && PQntuples(res) == 1) {
		*id_r = col_i64(res, 0, 0);
		*active_r = col_bool(res, 0, 1);
	}
	PQclear(res);
	if (st == DB_OK && c->n_dom < RCPT_DOMAIN_CACHE) {
		str_lcpy(c->dom[c->n_dom].name, domain, sizeof(c->dom[0].name));
		c->dom[c->n_dom].id = *id_r;
		c->dom[c->n_dom].active = *active_r;
		c->n_dom++;
	}
	return st;
}

static void rcpt_add_account(struct rcpt_ctx *c, int64_t id, int64_t quota, int64_t used)
{
	struct db_rcpt *o = c->out;

	if (quota > 0 && used >= quota)
		o->over_quota = true;
	for (size_t i = 0; i < o->n_accounts; i++)
		if (o->accounts[i] == id)
			return;
	if (o->n_accounts == DB_RCPT_MAX_TARGETS) {
		log_warn("db", "recipient expands to more than %d accounts; account %lld dropped",
			 DB_RCPT_MAX_TARGETS, (long long)id);
		return;
	}
	o->accounts[o->n_accounts++] = id;
}

static void rcpt_add_remote(struct rcpt_ctx *c, const char *address)
{
	struct db_rcpt *o = c->out;
	char safe[128];

	for (size_t i = 0; i < o->n_remote; i++)
		if (str_caseeq(o->remote[i], address))
			return;
	if (o->n_remote == DB_RCPT_MAX_TARGETS) {
		log_warn("db", "recipient expands to more than %d remote addresses; %s dropped",
			 DB_RCPT_MAX_TARGETS, str_printable(safe, sizeof(safe), address, strlen(address)));
		return;
	}
	str_lcpy(o->remote[o->n_remote++], address, sizeof(o->remote[0]));
}

/* Expands the aliases of (domain_id, local) ('' = catch-all). *found_r
 * true when the alias exists; *res_r HOSTED when some target was kept. */
static enum db_status rcpt_aliases(struct rcpt_ctx *c, int64_t domain_id, const char *local,
				   int depth, bool *found_r, enum db_rcpt_result *res_r)
{
	char idtext[24];
	const char *params[2] = { idtext, local };
	bool kept = false, inactive = false;
	enum db_status st;
	PGresult *res;
	int n;

	*found_r = false;
	i64_text(idtext, sizeof(idtext), domain_id);
	res = db_exec(c->db, STMT_RCPT_ALIASES, 2, params, NULL, NULL, &st);
	n = st == DB_OK ? PQntuples(res) : 0;
	for (int i = 0; i < n && st == DB_OK; i++) {
		char dlocal[LIMIT_LOCAL_PART + 1], ddomain[LIMIT_DOMAIN + 1];
		const char *dest = PQgetvalue(res, i, 0);
		enum db_rcpt_result sub;

		*found_r = true;
		if (!addr_split(dest, dlocal, sizeof(dlocal), ddomain, sizeof(ddomain)))
			continue;	/* admin.c validates; ignore a bad row */
		if (depth + 1 > LIMIT_ALIAS_DEPTH) {
			log_warn("db", "alias nesting deeper than %d (a loop?); a target was dropped",
				 LIMIT_ALIAS_DEPTH);
			continue;
		}
		st = rcpt_expand(c, dlocal, ddomain, depth + 1, &sub);
		if (st != DB_OK)
			break;
		if (sub == DB_RCPT_NOT_HOSTED) {
			rcpt_add_remote(c, dest);
			kept = true;
		} else if (sub == DB_RCPT_HOSTED) {
			kept = true;
		} else if (sub == DB_RCPT_INACTIVE) {
			inactive = true;
		}
	}
	PQclear(res);
	*res_r = kept ? DB_RCPT_HOSTED : inactive ? DB_RCPT_INACTIVE : DB_RCPT_NO_USER;
	return st;
}

/* An account or an alias named local in the domain. */
static enum db_status rcpt_local(struct rcpt_ctx *c, int64_t domain_id, const char *local,
				 int depth, bool *found_r, enum db_rcpt_result *res_r)
{
	char idtext[24];
	const char *params[2] = { idtext, local };
	enum db_status st;
	PGresult *res;

	i64_text(idtext, sizeof(idtext), domain_id);
	res = db_exec(c->db, STMT_RCPT_ACCOUNT, 2, params, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		*found_r = true;
		if (!col_bool(res, 0, 1)) {
			*res_r = DB_RCPT_INACTIVE;
		} else {
			rcpt_add_account(c, col_i64(res, 0, 0), col_i64(res, 0, 2), col_i64(res, 0, 3));
			*res_r = DB_RCPT_HOSTED;
		}
		PQclear(res);
		return DB_OK;
	}
	PQclear(res);
	if (st != DB_OK)
		return st;
	return rcpt_aliases(c, domain_id, local, depth, found_r, res_r);
}

static enum db_status rcpt_expand(struct rcpt_ctx *c, const char *local, const char *domain,
				  int depth, enum db_rcpt_result *res_r)
{
	int64_t domain_id;
	bool active, found = false;
	const char *plus;
	enum db_status st;

	st = rcpt_domain(c, domain, &domain_id, &active);
	if (st != DB_OK)
		return st;
	if (domain_id == 0) {
		*res_r = DB_RCPT_NOT_HOSTED;
		return DB_OK;
	}
	if (!active) {
		*res_r = DB_RCPT_INACTIVE;
		return DB_OK;
	}
	st = rcpt_local(c, domain_id, local, depth, &found, res_r);
	if (st != DB_OK || found)
		return st;
	/* user+tag@domain: the same without the tag */
	plus = strchr(local, '+');
	if (plus != NULL && plus != local) {
		char base[LIMIT_LOCAL_PART + 1];
		size_t blen = (size_t)(plus - local);

		memcpy(base, local, blen);
		base[blen] = '\0';
		st = rcpt_local(c, domain_id, base, depth, &found, res_r);
		if (st != DB_OK || found)
			return st;
	}
	if (c->catchall) {
		st = rcpt_aliases(c, domain_id, "", depth, &found, res_r);
		if (st != DB_OK || found)
			return st;
	}
	*res_r = DB_RCPT_NO_USER;
	return DB_OK;
}

static enum db_status rcpt_resolve(struct db *db, const char *local, const char *domain,
				   bool catchall, struct db_rcpt *out)
{
	struct rcpt_ctx c;
	enum db_rcpt_result r = DB_RCPT_NO_USER;
	enum db_status st;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.db = db;
	c.out = out;
	c.catchall = catchall;
	if (strlen(local) > LIMIT_LOCAL_PART || strlen(domain) > LIMIT_DOMAIN || *domain == '\0') {
		out->result = DB_RCPT_NO_USER;
		return DB_OK;
	}
	st = rcpt_expand(&c, local, domain, 0, &r);
	out->result = r;
	return st;
}

enum db_status db_rcpt_resolve(struct db *db, const char *local, const char *domain,
			       struct db_rcpt *out)
{
	return rcpt_resolve(db, local, domain, true, out);
}

enum db_status db_sender_allowed(struct db *db, int64_t account_id, const char *address,
				 bool *allowed_r)
{
	char local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1];
	struct db_rcpt *r;
	enum db_status st;

	*allowed_r = false;
	if (*address == '\0') {
		*allowed_r = true;	/* the null reverse-path <> (bounces, receipts) */
		return DB_OK;
	}
	if (!addr_split(address, local, sizeof(local), domain, sizeof(domain)))
		return DB_OK;
	r = xmalloc(sizeof(*r));	/* ~10 KiB: keep it off worker stacks */
	/* No catch-all: owning *@domain must not mean sending as anyone. */
	st = rcpt_resolve(db, local, domain, false, r);
	if (st == DB_OK && r->result == DB_RCPT_HOSTED)
		for (size_t i = 0; i < r->n_accounts; i++)
			if (r->accounts[i] == account_id)
				*allowed_r = true;
	free(r);
	return st;
}

/* ---------- delivery ---------- */

/* Inserts (or finds) the blob of body; *id_r its id. */
static enum db_status blob_put(struct db *db, const unsigned char *body, size_t len, int64_t *id_r)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	char sizetext[24];
	const char *values[3] = { (const char *)hash, sizetext, (const char *)body };
	int lengths[3] = { (int)sizeof(hash), 0, (int)len };
	static const int formats[3] = { 1, 0, 1 };
	enum db_status st;
	PGresult *res;

	if (len > (size_t)INT32_MAX)
		return DB_ERROR;
	crypto_hash_sha256(hash, body, len);
	i64_text(sizetext, sizeof(sizetext), (int64_t)len);
	res = db_exec(db, STMT_BLOB_PUT, 3, values, lengths, formats, &st);
	if (st == DB_OK && PQntuples(res) == 1)
		*id_r = col_i64(res, 0, 0);
	else if (st == DB_OK)
		st = DB_ERROR;
	PQclear(res);
	return st;
}

/* Takes the next UID of an account's INBOX (creating a missing INBOX).
 * *mailbox_r 0 when the account is gone. */
static enum db_status inbox_next_uid(struct db *db, int64_t account, int64_t *mailbox_r,
				     int64_t *uid_r, int64_t *modseq_r)
{
	char idtext[24];
	const char *params[3] = { idtext, "INBOX", NULL };
	enum db_status st;

	*mailbox_r = 0;
	i64_text(idtext, sizeof(idtext), account);
	for (int pass = 0; pass < 2; pass++) {
		PGresult *res = db_exec(db, STMT_INBOX_NEXT_UID, 1, params, NULL, NULL, &st);
		if (st == DB_OK && PQntuples(res) == 1) {
			*mailbox_r = col_i64(res, 0, 0);
			*uid_r = col_i64(res, 0, 1);
			*modseq_r = col_i64(res, 0, 2);
		}
		PQclear(res);
		if (st != DB_OK || *mailbox_r != 0 || pass == 1)
			return st;
		/* no INBOX row: create it (admin.c makes one with the account) */
		PGresult *cr = db_exec(db, STMT_MAILBOX_CREATE, 3, params, NULL, NULL, &st);
		bool created = st == DB_OK && affected(cr) == 1;
		PQclear(cr);
		if (st != DB_OK || !created)
			return st;	/* FK: the account was deleted meanwhile */
	}
	return st;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static enum db_status deliver_once(struct db *db, const struct db_delivery *d,
				   const int64_t *accounts, size_t n_accounts, int64_t *mailboxes,
				   bool *over_quota_r)
{
	int64_t blob = 0;
	size_t n_mb = 0;
	char t[5][24];
	enum db_status st;

	st = db_begin(db);
	if (st != DB_OK)
		return st;
	if (n_accounts > 0)
		st = blob_put(db, d->local_body, d->local_len, &blob);
	for (size_t i = 0; i < n_accounts && st == DB_OK; i++) {
		int64_t mailbox, uid = 0, modseq = 0;
		const char *mp[5] = { t[0], t[1], t[2], t[3], t[4] };
		const char *cp[2] = { t[0], t[1] };
		PGresult *res;

		st = inbox_next_uid(db, accounts[i], &mailbox, &uid, &modseq);
		if (st != DB_OK)
			break;
		if (mailbox == 0) {
			log_warn("db", "account %lld vanished during delivery; its copy is skipped",
				 (long long)accounts[i]);
			continue;
		}
		i64_text(t[0], sizeof(t[0]), mailbox);
		i64_text(t[1], sizeof(t[1]), uid);
		i64_text(t[2], sizeof(t[2]), blob);
		i64_text(t[3], sizeof(t[3]), modseq);
		i64_text(t[4], sizeof(t[4]), (int64_t)d->local_len);
		st = run(db, STMT_MESSAGE_INSERT, 5, mp);
		if (st != DB_OK)
			break;
		i64_text(t[0], sizeof(t[0]), accounts[i]);
		i64_text(t[1], sizeof(t[1]), (int64_t)d->local_len);
		res = db_exec(db, STMT_ACCOUNT_CHARGE, 2, cp, NULL, NULL, &st);
		if (st == DB_OK && affected(res) == 0) {
			PQclear(res);
			db_rollback(db);
			*over_quota_r = true;
			return DB_OK;
		}
		PQclear(res);
		mailboxes[n_mb++] = mailbox;
	}
	if (st == DB_OK && d->n_remote > 0) {
		st = blob_put(db, d->remote_body, d->remote_len, &blob);
		i64_text(t[0], sizeof(t[0]), blob);
		for (size_t i = 0; i < d->n_remote && st == DB_OK; i++) {
			const char *qp[3] = { t[0], d->sender != NULL ? d->sender : "", d->remote[i] };
			st = run(db, STMT_QUEUE_INSERT, 3, qp);
		}
	}
	for (size_t i = 0; i < n_mb && st == DB_OK; i++) {
		const char *np[1] = { t[0] };
		i64_text(t[0], sizeof(t[0]), mailboxes[i]);
		st = run(db, STMT_NOTIFY_MAILBOX, 1, np);
	}
	if (st != DB_OK) {
		db_rollback(db);
		return st;
	}
	return db_commit(db);
}

enum db_status db_deliver(struct db *db, const struct db_delivery *d, bool *over_quota_r)
{
	int64_t accounts[DB_RCPT_MAX_TARGETS * 4];
	int64_t *sorted = accounts, *mailboxes;
	size_t n = 0;
	enum db_status st = DB_ERROR;

	*over_quota_r = false;
	if ((d->n_accounts > 0 && d->local_body == NULL) || (d->n_remote > 0 && d->remote_body == NULL)) {
		log_error("db", "db_deliver: a body is missing");
		return DB_ERROR;
	}
	if (d->n_accounts > sizeof(accounts) / sizeof(accounts[0]))
		sorted = xmalloc(d->n_accounts * sizeof(*sorted));
	/* Lock mailbox rows in account id order: no deadlock between two
	 * deliveries to overlapping recipient sets. */
	if (d->n_accounts > 0)
		memcpy(sorted, d->accounts, d->n_accounts * sizeof(*sorted));
	qsort(sorted, d->n_accounts, sizeof(*sorted), cmp_i64);
	for (size_t i = 0; i < d->n_accounts; i++)
		if (n == 0 || sorted[n - 1] != sorted[i])
			sorted[n++] = sorted[i];
	mailboxes = xmalloc((n + 1) * sizeof(*mailboxes));
	for (int attempt = 0; attempt <= LIMIT_DELIVER_RETRIES; attempt++) {
		st = deliver_once(db, d, sorted, n, mailboxes, over_quota_r);
		if (st != DB_RETRY)
			break;
		log_info("db", "delivery: serialization failure or deadlock, retrying");
	}
	if (st == DB_RETRY)
		st = DB_TEMP;
	free(mailboxes);
	if (sorted != accounts)
		free(sorted);
	return st;
}

/* ---------- POP3 view ---------- */

enum db_status db_pop3_list(struct db *db, int64_t account_id, int64_t *mailbox_id_r,
			    int64_t *uidvalidity_r, struct db_pop3_msg **msgs_r, size_t *n_r)
{
	char t[2][24];
	const char *params[3] = { t[0], "INBOX", NULL };
	enum db_status st;
	PGresult *res;
	int rows;

	*mailbox_id_r = 0;
	*uidvalidity_r = 0;
	*msgs_r = NULL;
	*n_r = 0;
	i64_text(t[0], sizeof(t[0]), account_id);
	for (int pass = 0; pass < 2 && *mailbox_id_r == 0; pass++) {
		if (pass == 1) {
			st = run(db, STMT_MAILBOX_CREATE, 3, params);
			if (st != DB_OK)
				return st;
		}
		res = db_exec(db, STMT_INBOX_GET, 1, params, NULL, NULL, &st);
		if (st == DB_OK && PQntuples(res) == 1) {
			*mailbox_id_r = col_i64(res, 0, 0);
			*uidvalidity_r = col_i64(res, 0, 1);
		}
		PQclear(res);
		if (st != DB_OK)
			return st;
	}
	if (*mailbox_id_r == 0)
		return DB_ERROR;
	i64_text(t[0], sizeof(t[0]), *mailbox_id_r);
	i64_text(t[1], sizeof(t[1]), LIMIT_POP3_MESSAGES);
	{
		const char *lp[2] = { t[0], t[1] };
		res = db_exec(db, STMT_POP3_LIST, 2, lp, NULL, NULL, &st);
	}
	rows = st == DB_OK ? PQntuples(res) : 0;
	if (rows > 0) {
		*msgs_r = xmalloc((size_t)rows * sizeof(**msgs_r));
		for (int i = 0; i < rows; i++) {
			(*msgs_r)[i].uid = col_i64(res, i, 0);
			(*msgs_r)[i].size = col_i64(res, i, 1);
		}
		*n_r = (size_t)rows;
	}
	PQclear(res);
	return st;
}

enum db_status db_message_body(struct db *db, int64_t mailbox_id, int64_t uid,
			       unsigned char **data_r, size_t *len_r, bool *found_r)
{
	char t[2][24];
	const char *params[2] = { t[0], t[1] };
	enum db_status st;
	PGresult *res;

	*data_r = NULL;
	*len_r = 0;
	*found_r = false;
	i64_text(t[0], sizeof(t[0]), mailbox_id);
	i64_text(t[1], sizeof(t[1]), uid);
	res = db_exec_binary(db, STMT_MESSAGE_BODY, 2, params, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		size_t len = (size_t)PQgetlength(res, 0, 0);
		*data_r = xmalloc(len + 1);
		memcpy(*data_r, PQgetvalue(res, 0, 0), len);
		(*data_r)[len] = '\0';
		*len_r = len;
		*found_r = true;
	}
	PQclear(res);
	return st;
}

/* ---------- expunge ---------- */

/* Deletes the candidate blobs nothing refers to any more. Inside a
 * savepoint: a concurrent delivery that reuses one of them makes the
 * DELETE fail its foreign key check, which only means "keep it". */
static enum db_status blob_gc(struct db *db, const char *blob_ids)
{
	const char *params[1] = { blob_ids };
	enum db_status st;

	if (strcmp(blob_ids, "{}") == 0)
		return DB_OK;
	st = run(db, STMT_SAVEPOINT, 0, NULL);
	if (st != DB_OK)
		return st;
	st = run(db, STMT_BLOB_GC, 1, params);
	if (st == DB_TEMP || st == DB_DISKFULL)
		return st;
	if (st != DB_OK) {
		log_info("db", "blob clean-up skipped: %s", db_error(db));
		return run(db, STMT_ROLLBACK_TO_SAVEPOINT, 0, NULL);
	}
	return run(db, STMT_RELEASE_SAVEPOINT, 0, NULL);
}

enum db_status db_blob_gc(struct db *db, const char *blob_ids)
{
	return blob_gc(db, blob_ids);
}

static enum db_status expunge_once(struct db *db, const char *account, const char *mailbox,
				   const char *uids)
{
	char modseq[24], bytes[24];
	const char *bp[2] = { mailbox, account };
	enum db_status st;
	PGresult *res;
	char *blobs = NULL;
	int64_t count = 0;

	st = db_begin(db);
	if (st != DB_OK)
		return st;
	res = db_exec(db, STMT_EXPUNGE_BUMP, 2, bp, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) != 1) {
		PQclear(res);
		db_rollback(db);	/* no such mailbox of this account */
		return DB_OK;
	}
	if (st == DB_OK)
		str_lcpy(modseq, PQgetvalue(res, 0, 0), sizeof(modseq));
	PQclear(res);
	if (st == DB_OK) {
		const char *ep[3] = { mailbox, uids, modseq };
		res = db_exec(db, STMT_EXPUNGE_UIDS, 3, ep, NULL, NULL, &st);
		if (st == DB_OK && PQntuples(res) == 1) {
			count = col_i64(res, 0, 0);
			str_lcpy(bytes, PQgetvalue(res, 0, 1), sizeof(bytes));
			blobs = xstrdup(PQgetvalue(res, 0, 2));
		}
		PQclear(res);
	}
	if (st == DB_OK && count == 0) {
		db_rollback(db);	/* all gone already: no MODSEQ change */
		free(blobs);
		return DB_OK;
	}
	if (st == DB_OK) {
		const char *up[2] = { account, bytes };
		st = run(db, STMT_ACCOUNT_UNCHARGE, 2, up);
	}
	if (st == DB_OK)
		st = blob_gc(db, blobs);
	free(blobs);
	if (st == DB_OK) {
		const char *np[1] = { mailbox };
		st = run(db, STMT_NOTIFY_MAILBOX, 1, np);
	}
	if (st != DB_OK) {
		db_rollback(db);
		return st;
	}
	return db_commit(db);
}

enum db_status db_expunge_uids(struct db *db, int64_t account_id, int64_t mailbox_id,
			       const int64_t *uids, size_t n)
{
	char account[24], mailbox[24];
	char *arr;
	size_t len = 0, cap;
	enum db_status st = DB_OK;

	if (n == 0)
		return DB_OK;
	cap = n * 21 + 3;
	arr = xmalloc(cap);
	arr[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(arr + len, cap - len, "%s%lld", i > 0 ? "," : "", (long long)uids[i]);
		if (w < 0 || (size_t)w >= cap - len)
			abort();	/* cap is computed for the widest int64 */
		len += (size_t)w;
	}
	arr[len++] = '}';
	arr[len] = '\0';
	i64_text(account, sizeof(account), account_id);
	i64_text(mailbox, sizeof(mailbox), mailbox_id);
	for (int attempt = 0; attempt <= LIMIT_DELIVER_RETRIES; attempt++) {
		st = expunge_once(db, account, mailbox, arr);
		if (st != DB_RETRY)
			break;
	}
	free(arr);
	return st == DB_RETRY ? DB_TEMP : st;
}

/* ---------- listeners and certificates ---------- */

static enum tls_mode tls_mode_of(const char *s)
{
	if (strcmp(s, "implicit") == 0)
		return TLS_MODE_IMPLICIT;
	if (strcmp(s, "starttls") == 0)
		return TLS_MODE_STARTTLS;
	return TLS_MODE_NONE;
}

enum db_status db_listeners_load(struct db *db, struct listener_spec **out, size_t *n_r)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_LISTENERS_LOAD, 0, NULL, NULL, NULL, &st);
	int rows = st == DB_OK ? PQntuples(res) : 0;

	*out = NULL;
	*n_r = 0;
	if (rows > 0) {
		*out = xcalloc((size_t)rows, sizeof(**out));
		for (int i = 0; i < rows; i++) {
			struct listener_spec *l = &(*out)[i];
			str_lcpy(l->name, PQgetvalue(res, i, 0), sizeof(l->name));
			str_lcpy(l->protocol, PQgetvalue(res, i, 1), sizeof(l->protocol));
			l->port = (int)col_i64(res, i, 2);
			l->tls = tls_mode_of(PQgetvalue(res, i, 3));
			l->enabled = col_bool(res, i, 4);
		}
		*n_r = (size_t)rows;
	}
	PQclear(res);
	return st;
}

void db_certs_free(struct tls_cert_pem *certs, size_t n)
{
	if (certs == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t h = 0; h < certs[i].n_hostnames; h++)
			free(certs[i].hostnames[h]);
		free(certs[i].hostnames);
		free(certs[i].cert_pem);
		if (certs[i].key_pem != NULL) {
			sodium_memzero(certs[i].key_pem, strlen(certs[i].key_pem));
			free(certs[i].key_pem);
		}
	}
	free(certs);
}

/* Splits "a\nb\nc" into a malloc'd array of malloc'd strings. */
static char **split_lines(const char *s, size_t *n_r)
{
	size_t n = 1, i = 0;
	char **v;

	for (const char *p = s; *p != '\0'; p++)
		n += *p == '\n';
	v = xcalloc(n, sizeof(*v));
	while (*s != '\0') {
		size_t len = strcspn(s, "\n");
		if (len > 0)
			v[i++] = xstrndup(s, len);
		s += len;
		if (*s == '\n')
			s++;
	}
	*n_r = i;
	return v;
}

enum db_status db_certs_load(struct db *db, const char *default_host, struct tls_cert_pem **out,
			     size_t *n_r)
{
	const char *params[1] = { default_host };
	enum db_status st;
	PGresult *res = db_exec(db, STMT_CERTS_LOAD, 1, params, NULL, NULL, &st);
	int rows = st == DB_OK ? PQntuples(res) : 0;
	size_t n = 0;

	*out = NULL;
	*n_r = 0;
	if (rows > 0) {
		*out = xcalloc((size_t)rows, sizeof(**out));
		for (int i = 0; i < rows; i++) {
			struct tls_cert_pem *c = &(*out)[n];
			char *key = seal_open(PQgetvalue(res, i, 2));
			if (key == NULL) {
				log_warn("db", "certificate %d: the private key cannot be unsealed "
					 "(seal.key changed?); skipped", i + 1);
				continue;
			}
			c->hostnames = split_lines(PQgetvalue(res, i, 0), &c->n_hostnames);
			c->cert_pem = xstrdup(PQgetvalue(res, i, 1));
			c->key_pem = key;
			n++;
		}
		*n_r = n;
		if (n == 0)
			xfree(*out);
	}
	PQclear(res);
	return st;
}

enum db_status db_cert_insert(struct db *db, const char *const *hostnames, size_t n_hostnames,
			      const char *cert_pem, const char *key_pem, long long not_after)
{
	struct buf names;
	char at[24];
	char *sealed;
	enum db_status st;

	buf_init(&names, 64 * 1024);
	for (size_t i = 0; i < n_hostnames; i++) {
		if (strchr(hostnames[i], '\n') != NULL ||
		    buf_printf(&names, "%s%s", i > 0 ? "\n" : "", hostnames[i]) < 0) {
			buf_free(&names);
			return DB_ERROR;
		}
	}
	if (buf_append(&names, "", 1) < 0) {
		buf_free(&names);
		return DB_ERROR;
	}
	sealed = seal_text(key_pem);
	if (sealed == NULL) {
		log_error("db", "cannot seal a private key (seal_init not called?)");
		buf_free(&names);
		return DB_ERROR;
	}
	(void)str_fmt(at, sizeof(at), "%lld", not_after);
	{
		const char *params[4] = { (const char *)buf_data(&names), cert_pem, sealed, at };
		st = run(db, STMT_CERT_INSERT, 4, params);
	}
	free(sealed);
	buf_free(&names);
	return st;
}

enum db_status db_cert_count(struct db *db, long long *n_r)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_CERT_COUNT, 0, NULL, NULL, NULL, &st);

	*n_r = st == DB_OK && PQntuples(res) == 1 ? (long long)col_i64(res, 0, 0) : 0;
	PQclear(res);
	return st;
}
