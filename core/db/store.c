/* store.c - typed queries of the mail store (store.h is the contract for
 * the SMTP and POP3 code): login lookup, recipient resolution (account,
 * alias, +tag, catch-all; aliases nest LIMIT_ALIAS_DEPTH deep and may point
 * to other domains), delivery in ONE transaction (DESIGN.md durability
 * invariant: the caller answers 250 only after db_deliver returned DB_OK),
 * group commit of several deliveries in one transaction (one round trip
 * for the common one-mailbox case; over quota isolates each message),
 * the POP3 view of INBOX, expunge with QRESYNC bookkeeping, listeners and
 * certificates. UIDs come from the mailbox row updated in the same
 * transaction, never from a sequence; INBOX rows are locked before account
 * rows, and a batch with several locks them all in mailbox id order first,
 * so concurrent batches (and expunges) cannot deadlock. */
#include "db/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/seal.h"
#include "lib/digest.h"
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

static bool col_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
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
		out->id = db_col_i64(res, 0, 0);
		out->domain_id = db_col_i64(res, 0, 1);
		out->inbox_id = db_col_i64(res, 0, 2);
		str_lcpy(out->address, PQgetvalue(res, 0, 3), sizeof(out->address));
		str_lcpy(out->password_hash, PQgetvalue(res, 0, 4), sizeof(out->password_hash));
		out->active = col_bool(res, 0, 5);
		out->quota_bytes = db_col_i64(res, 0, 6);
		out->used_bytes = db_col_i64(res, 0, 7);
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

/* A domain this resolution has looked up already. */
static bool rcpt_domain_cached(const struct rcpt_ctx *c, const char *domain, int64_t *id_r,
			       bool *active_r)
{
	for (size_t i = 0; i < c->n_dom; i++) {
		if (str_caseeq(c->dom[i].name, domain)) {
			*id_r = c->dom[i].id;
			*active_r = c->dom[i].active;
			return true;
		}
	}
	return false;
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

/* The account in row 0 of res from column col on (id, active, quota,
 * used); false when there is none. */
static bool rcpt_account_row(struct rcpt_ctx *c, PGresult *res, int col, enum db_rcpt_result *res_r)
{
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, col))
		return false;
	if (!col_bool(res, 0, col + 1)) {
		*res_r = DB_RCPT_INACTIVE;
	} else {
		rcpt_add_account(c, db_col_i64(res, 0, col), db_col_i64(res, 0, col + 2),
				 db_col_i64(res, 0, col + 3));
		*res_r = DB_RCPT_HOSTED;
	}
	return true;
}

/* An account or an alias named local in the domain. *known_r: the caller
 * already looked for the account (rcpt_direct) and found none. */
static enum db_status rcpt_local(struct rcpt_ctx *c, int64_t domain_id, const char *local,
				 int depth, bool known_absent, bool *found_r, enum db_rcpt_result *res_r)
{
	char idtext[24];
	const char *params[2] = { idtext, local };
	enum db_status st = DB_OK;
	PGresult *res;

	i64_text(idtext, sizeof(idtext), domain_id);
	if (!known_absent) {
		res = db_exec(c->db, STMT_RCPT_ACCOUNT, 2, params, NULL, NULL, &st);
		*found_r = st == DB_OK && rcpt_account_row(c, res, 0, res_r);
		PQclear(res);
		if (st != DB_OK || *found_r)
			return st;
	}
	return rcpt_aliases(c, domain_id, local, depth, found_r, res_r);
}

/* A domain not seen yet by this resolution, with the account named local
 * in the same round trip. */
static enum db_status rcpt_direct(struct rcpt_ctx *c, const char *local, const char *domain,
				  int64_t *id_r, bool *active_r, bool *found_r,
				  enum db_rcpt_result *res_r)
{
	const char *params[2] = { domain, local };
	enum db_status st;
	PGresult *res = db_exec(c->db, STMT_RCPT_DIRECT, 2, params, NULL, NULL, &st);

	*id_r = 0;
	*active_r = false;
	*found_r = false;
	if (st == DB_OK && PQntuples(res) == 1) {
		*id_r = db_col_i64(res, 0, 0);
		*active_r = col_bool(res, 0, 1);
		if (*active_r)
			*found_r = rcpt_account_row(c, res, 2, res_r);
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

static enum db_status rcpt_expand(struct rcpt_ctx *c, const char *local, const char *domain,
				  int depth, enum db_rcpt_result *res_r)
{
	int64_t domain_id;
	bool active, found = false, looked = false;
	const char *plus;
	enum db_status st;

	if (rcpt_domain_cached(c, domain, &domain_id, &active)) {
		st = DB_OK;
	} else {
		st = rcpt_direct(c, local, domain, &domain_id, &active, &found, res_r);
		looked = true;
	}
	if (st != DB_OK || found)
		return st;
	if (domain_id == 0) {
		*res_r = DB_RCPT_NOT_HOSTED;
		return DB_OK;
	}
	if (!active) {
		*res_r = DB_RCPT_INACTIVE;
		return DB_OK;
	}
	st = rcpt_local(c, domain_id, local, depth, looked, &found, res_r);
	if (st != DB_OK || found)
		return st;
	/* user+tag@domain: the same without the tag */
	plus = strchr(local, '+');
	if (plus != NULL && plus != local) {
		char base[LIMIT_LOCAL_PART + 1];
		size_t blen = (size_t)(plus - local);

		memcpy(base, local, blen);
		base[blen] = '\0';
		st = rcpt_local(c, domain_id, base, depth, false, &found, res_r);
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
	unsigned char hash[DIGEST_SHA256_BYTES];
	char sizetext[24];
	const char *values[3] = { (const char *)hash, sizetext, (const char *)body };
	int lengths[3] = { (int)sizeof(hash), 0, (int)len };
	static const int formats[3] = { 1, 0, 1 };
	enum db_status st;
	PGresult *res;

	if (len > (size_t)INT32_MAX)
		return DB_ERROR;
	digest_sha256(hash, body, len);
	i64_text(sizetext, sizeof(sizetext), (int64_t)len);
	res = db_exec(db, STMT_BLOB_PUT, 3, values, lengths, formats, &st);
	if (st == DB_OK && PQntuples(res) == 1)
		*id_r = db_col_i64(res, 0, 0);
	else if (st == DB_OK)
		st = DB_ERROR;
	PQclear(res);
	return st;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts v and removes duplicates; returns the new length. */
static size_t sort_unique(int64_t *v, size_t n)
{
	size_t o = 0;

	qsort(v, n, sizeof(*v), cmp_i64);
	for (size_t i = 0; i < n; i++)
		if (o == 0 || v[o - 1] != v[i])
			v[o++] = v[i];
	return o;
}

/* Scratch of one batch: ids of every delivery, sorted account sets. */
struct batch_ctx {
	struct db *db;
	const struct db_delivery *d;
	size_t n;
	struct db_delivery_result *res;
	int64_t *local_blob;	/* [n], 0 = none */
	int64_t *remote_blob;	/* [n] */
	int64_t *accts;		/* every delivery's distinct accounts, one after another */
	size_t *acct_off;	/* [n + 1]: delivery i has accts[acct_off[i] .. acct_off[i+1]) */
	int64_t *all;		/* distinct accounts of the whole batch, sorted */
	size_t n_all;
	int64_t *gc;		/* blobs of rolled-back deliveries */
	size_t n_gc;
	bool *skip;		/* [n]: failed alone, left out of the next attempt */
	bool *redo;		/* [n]: one-round-trip path found no INBOX: slow path */
	size_t failed;		/* delivery whose statement failed the attempt, or SIZE_MAX */
};

/* The account ids of every delivery, deduplicated; the whole batch's set
 * sorted for the lock statement. */
static void batch_accounts(struct batch_ctx *b)
{
	size_t total = 0;

	for (size_t i = 0; i < b->n; i++)
		total += b->d[i].n_accounts;
	b->accts = xmalloc((total + 1) * sizeof(*b->accts));
	b->all = xmalloc((total + 1) * sizeof(*b->all));
	b->acct_off = xmalloc((b->n + 1) * sizeof(*b->acct_off));
	b->gc = xmalloc((2 * b->n + 1) * sizeof(*b->gc));
	b->skip = xcalloc(b->n, sizeof(*b->skip));
	b->redo = xcalloc(b->n, sizeof(*b->redo));
	b->local_blob = xcalloc(b->n, sizeof(*b->local_blob));
	b->remote_blob = xcalloc(b->n, sizeof(*b->remote_blob));
	total = 0;
	for (size_t i = 0; i < b->n; i++) {
		b->acct_off[i] = total;
		if (b->d[i].n_accounts > 0) {
			memcpy(b->accts + total, b->d[i].accounts,
			       b->d[i].n_accounts * sizeof(*b->accts));
			total += sort_unique(b->accts + total, b->d[i].n_accounts);
		}
	}
	b->acct_off[b->n] = total;
	if (total > 0)
		memcpy(b->all, b->accts, total * sizeof(*b->all));
	b->n_all = sort_unique(b->all, total);
}

static void batch_free(struct batch_ctx *b)
{
	free(b->local_blob);
	free(b->remote_blob);
	free(b->accts);
	free(b->acct_off);
	free(b->all);
	free(b->gc);
	free(b->skip);
	free(b->redo);
}

/* Locks the INBOX rows of every account of a batch that writes to more
 * than one, in mailbox id order, before any of them is written: batches
 * with overlapping accounts cannot deadlock. A batch for one account needs
 * no extra statement (its copy statement locks the row first). */
static enum db_status batch_lock(struct batch_ctx *b)
{
	const char *params[1];
	enum db_status st;
	char *arr;

	if (b->n_all < 2)
		return DB_OK;
	arr = db_array_i64(b->all, b->n_all);
	params[0] = arr;
	st = run(b->db, STMT_DELIVER_LOCK, 1, params);
	free(arr);
	return st;
}

/* One copy into one account's INBOX; *mailbox_r its mailbox, or 0 when
 * nothing was stored: over quota (*over_quota_r) or the account is gone
 * (skipped, as if it were not a recipient). */
static enum db_status deliver_copy(struct batch_ctx *b, size_t i, int64_t account,
				   int64_t *mailbox_r, bool *over_quota_r)
{
	char t[3][24];
	const struct db_delivery *d = &b->d[i];
	const char *params[7] = { t[0], t[1], t[2], d->envelope, d->bodystructure, d->body,
				  d->parts };
	enum db_status st = DB_OK;

	*mailbox_r = 0;
	*over_quota_r = false;
	i64_text(t[0], sizeof(t[0]), account);
	i64_text(t[1], sizeof(t[1]), b->local_blob[i]);
	i64_text(t[2], sizeof(t[2]), (int64_t)b->d[i].local_len);
	for (int pass = 0; pass < 2; pass++) {
		const char *cp[3] = { t[0], "INBOX", NULL };
		bool charged = false, exists = false, has_inbox = false;
		PGresult *res = db_exec(b->db, STMT_DELIVER_MESSAGE, 7, params, NULL, NULL, &st);

		if (st == DB_OK && PQntuples(res) == 1) {
			charged = db_col_i64(res, 0, 0) == 1;
			*mailbox_r = db_col_i64(res, 0, 1);
		} else if (st == DB_OK) {
			st = DB_ERROR;
		}
		PQclear(res);
		if (st != DB_OK)
			return st;
		if (charged && *mailbox_r == 0) {
			log_error("db", "account %lld: charged but no copy stored", (long long)account);
			return DB_ERROR;	/* cannot happen: the INBOX row was locked */
		}
		if (charged)
			return DB_OK;
		/* Nothing changed: over quota, no such account, or no INBOX. */
		res = db_exec(b->db, STMT_ACCOUNT_EXISTS, 1, params, NULL, NULL, &st);
		if (st == DB_OK && PQntuples(res) == 1) {
			exists = true;
			has_inbox = col_bool(res, 0, 0);
		}
		PQclear(res);
		if (st != DB_OK)
			return st;
		if (!exists) {
			log_warn("db", "account %lld vanished during delivery; its copy is skipped",
				 (long long)account);
			return DB_OK;
		}
		if (has_inbox || pass == 1) {
			*over_quota_r = true;
			return DB_OK;
		}
		/* admin.c makes the INBOX with the account; this is for rows
		 * made by hand. Then the copy once more. */
		st = run(b->db, STMT_MAILBOX_CREATE, 3, cp);
		if (st != DB_OK)
			return st;
	}
	return st;
}

/* Delivery i: a copy per account, then its queue rows. A savepoint only
 * when it has several local accounts (over quota at the second must undo
 * the first): a subtransaction that takes the foreign key lock on a
 * mailbox row the transaction already updated makes PostgreSQL create a
 * MultiXact, which costs more than the whole delivery. With one account
 * the copy is one statement that changes nothing when over quota. A
 * statement that fails without a savepoint sets b->failed: the batch is
 * rolled back and run again without this delivery. DB_OK with res[i] set,
 * or a status that fails the attempt. */
static enum db_status deliver_one(struct batch_ctx *b, size_t i)
{
	const struct db_delivery *d = &b->d[i];
	bool sp = b->acct_off[i + 1] - b->acct_off[i] > 1, over = false;
	enum db_status st = DB_OK;
	char blob[24];

	if (sp)
		st = run(b->db, STMT_SAVEPOINT, 0, NULL);
	if (st != DB_OK)
		return st;
	for (size_t k = b->acct_off[i]; k < b->acct_off[i + 1] && st == DB_OK && !over; k++) {
		int64_t mailbox;
		st = deliver_copy(b, i, b->accts[k], &mailbox, &over);
	}
	i64_text(blob, sizeof(blob), b->remote_blob[i]);
	for (size_t k = 0; k < d->n_remote && st == DB_OK && !over; k++) {
		const char *qp[3] = { blob, d->sender != NULL ? d->sender : "", d->remote[k] };
		st = run(b->db, STMT_QUEUE_INSERT, 3, qp);
	}
	if (st == DB_OK && !over) {
		b->res[i].st = DB_OK;
		if (sp)
			st = run(b->db, STMT_RELEASE_SAVEPOINT, 0, NULL);
		return st;
	}
	if (st == DB_TEMP || st == DB_RETRY)
		return st;	/* the connection or the whole transaction */
	if (st != DB_OK && !sp) {
		b->failed = i;	/* DB_ERROR, DB_DISKFULL, DB_CONFLICT */
		return st;
	}
	/* Over quota, or (with a savepoint) this message's statement failed:
	 * undo only this one. Over quota without a savepoint changed nothing
	 * (the first and only copy's statement found no room). */
	b->res[i].st = st;
	b->res[i].over_quota = over;
	if (b->local_blob[i] != 0)
		b->gc[b->n_gc++] = b->local_blob[i];
	if (b->remote_blob[i] != 0)
		b->gc[b->n_gc++] = b->remote_blob[i];
	return sp ? run(b->db, STMT_ROLLBACK_TO_SAVEPOINT, 0, NULL) : DB_OK;
}

static enum db_status batch_slow(struct batch_ctx *b)
{
	enum db_status st;

	b->n_gc = 0;
	b->failed = SIZE_MAX;
	for (size_t i = 0; i < b->n; i++) {
		if (!b->skip[i]) {
			b->res[i].st = DB_OK;
			b->res[i].over_quota = false;
		}
		b->local_blob[i] = b->remote_blob[i] = 0;
	}
	st = db_begin(b->db);
	if (st != DB_OK)
		return st;
	/* Blobs first, before any mailbox lock: the big writes of a batch
	 * overlap with the COMMIT of the batch ahead of it. */
	for (size_t i = 0; i < b->n && st == DB_OK; i++) {
		if (b->skip[i])
			continue;
		if (b->acct_off[i + 1] > b->acct_off[i])
			st = blob_put(b->db, b->d[i].local_body, b->d[i].local_len, &b->local_blob[i]);
		if (st == DB_OK && b->d[i].n_remote > 0)
			st = blob_put(b->db, b->d[i].remote_body, b->d[i].remote_len,
				      &b->remote_blob[i]);
		if (st != DB_OK && st != DB_TEMP && st != DB_RETRY)
			b->failed = i;
	}
	if (st == DB_OK)
		st = batch_lock(b);
	for (size_t i = 0; i < b->n && st == DB_OK; i++)
		if (!b->skip[i])
			st = deliver_one(b, i);
	if (st == DB_OK && b->n_gc > 0) {
		char *arr = db_array_i64(b->gc, sort_unique(b->gc, b->n_gc));
		st = db_blob_gc(b->db, arr);
		free(arr);
	}
	if (st != DB_OK) {
		db_rollback(b->db);
		return st;
	}
	return db_commit(b->db);
}

/* ---------- group commit in one round trip ---------- */

/* True when every delivery left is one copy into the same single account
 * (the MX case): no statement needs another's result, so BEGIN, one
 * statement per message and COMMIT go to the server at once (libpq
 * pipeline mode). On a busy two-core machine every round trip costs a
 * scheduler wake-up on both sides, and the batch holds its INBOX row lock
 * across them all. */
static bool batch_simple(const struct batch_ctx *b)
{
	if (b->n_all != 1)
		return false;
	for (size_t i = 0; i < b->n; i++)
		if (!b->skip[i] && (b->acct_off[i + 1] - b->acct_off[i] != 1 || b->d[i].n_remote > 0))
			return false;
	return true;
}

static bool pipe_send(PGconn *pg, enum db_stmt id, int n, const char *const *values,
		      const int *lengths, const int *formats)
{
	return PQsendQueryPrepared(pg, db_stmts[id].name, n, values, lengths, formats, 0) == 1;
}

/* The next statement's result in the pipeline (NULL when the connection
 * broke), having read the NULL that ends it. */
static PGresult *pipe_result(PGconn *pg)
{
	PGresult *res = PQgetResult(pg), *extra;

	if (res != NULL && PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		while ((extra = PQgetResult(pg)) != NULL)
			PQclear(extra);
	return res;
}

/* Status of the pipelined COMMIT, as db_commit() decides it. */
static enum db_status pipe_commit_status(struct db *db, PGresult *res)
{
	if (res == NULL || !db_ok(db))
		return DB_TEMP;	/* outcome unknown: a duplicate, never a loss */
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		enum db_status st = db_status_of(db, res);
		return st == DB_OK ? DB_ERROR : st;
	}
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		return DB_ERROR;	/* rolled back at COMMIT */
	return DB_OK;
}

/* Sends what ends a delivery pipeline for account: COMMIT, then the
 * NOTIFY in a transaction of its own (STMT_NOTIFY_INBOX), then Sync. */
static bool pipe_send_end(PGconn *pg, int64_t account)
{
	char acct[24];
	const char *v[1] = { acct };

	i64_text(acct, sizeof(acct), account);
	return pipe_send(pg, STMT_COMMIT, 0, NULL, NULL, NULL) &&
	       pipe_send(pg, STMT_NOTIFY_INBOX, 1, v, NULL, NULL) && PQpipelineSync(pg) == 1;
}

/* Ends what was sent of a delivery pipeline (sent_ok: all of it went) and
 * reads its BEGIN into *st_r. False, having left pipeline mode, when
 * something could not be sent (nothing more to read then). */
static bool pipe_flush(struct db *db, bool sent_ok, int64_t account, enum db_status *st_r)
{
	PGconn *pg = db_pg(db);
	PGresult *res;

	if (!sent_ok || !pipe_send_end(pg, account)) {
		log_warn("db", "delivery pipeline: %s", PQerrorMessage(pg));
		(void)PQexitPipelineMode(pg);
		*st_r = DB_TEMP;
		return false;
	}
	res = pipe_result(pg);	/* BEGIN */
	*st_r = db_status_of(db, res);
	PQclear(res);
	return true;
}

/* Reads a delivery pipeline's COMMIT and NOTIFY (unless st is already
 * DB_TEMP) and Sync and leaves pipeline mode; returns the transaction's
 * status, having rolled back whatever a failed statement left open. A
 * failed NOTIFY only costs listeners their wake-up. */
static enum db_status pipe_finish(struct db *db, enum db_status st)
{
	PGconn *pg = db_pg(db);
	PGresult *res = st == DB_TEMP ? NULL : pipe_result(pg);	/* COMMIT */
	enum db_status cst = pipe_commit_status(db, res);
	bool read_on = res != NULL;

	PQclear(res);
	if (read_on)
		PQclear(pipe_result(pg));	/* the NOTIFY */
	if (st == DB_OK)
		st = cst;
	while ((res = PQgetResult(pg)) != NULL) {	/* the Sync */
		ExecStatusType rs = PQresultStatus(res);
		PQclear(res);
		if (rs == PGRES_PIPELINE_SYNC)
			break;
	}
	if (PQexitPipelineMode(pg) != 1) {
		log_error("db", "delivery pipeline did not end: %s", PQerrorMessage(pg));
		if (st != DB_OK)
			st = DB_TEMP;
	}
	if (st != DB_OK)
		db_rollback(db);	/* a failed statement left the block open */
	return st;
}

/* Group commit for one account in one round trip: BEGIN, one reservation
 * (quota for the whole batch, its UIDs and MODSEQs), one insert per copy,
 * COMMIT. *fallback_r when it stored nothing for a reason of the data
 * (over quota for the sum, no INBOX, one copy refused): the per-message
 * pipeline then sorts the batch out. */
static enum db_status batch_reserve(struct batch_ctx *b, bool *fallback_r)
{
	PGconn *pg = db_pg(b->db);
	unsigned char (*hash)[DIGEST_SHA256_BYTES] = xmalloc(b->n * sizeof(*hash));
	char (*txt)[2][24] = xmalloc(b->n * sizeof(*txt));
	char rtxt[3][24];
	size_t sent = 0;
	int64_t total = 0;
	enum db_status st;
	PGresult *res;
	bool sent_ok;

	*fallback_r = false;
	for (size_t i = 0; i < b->n; i++)
		if (!b->skip[i]) {
			i64_text(txt[sent][0], sizeof(txt[sent][0]), (int64_t)sent);
			i64_text(txt[sent][1], sizeof(txt[sent][1]), (int64_t)b->d[i].local_len);
			total += (int64_t)b->d[i].local_len;
			sent++;
		}
	i64_text(rtxt[0], sizeof(rtxt[0]), b->all[0]);
	i64_text(rtxt[1], sizeof(rtxt[1]), (int64_t)sent);
	i64_text(rtxt[2], sizeof(rtxt[2]), total);
	const char *rv[3] = { rtxt[0], rtxt[1], rtxt[2] };

	if (PQenterPipelineMode(pg) != 1) {
		st = DB_TEMP;
		goto out;
	}
	sent_ok = pipe_send(pg, STMT_BEGIN, 0, NULL, NULL, NULL) &&
		  pipe_send(pg, STMT_DELIVER_RESERVE, 3, rv, NULL, NULL);
	for (size_t i = 0, k = 0; i < b->n && sent_ok; i++) {
		const struct db_delivery *d = &b->d[i];
		if (b->skip[i])
			continue;
		const char *v[8] = { txt[k][0], txt[k][1], (const char *)hash[k],
				     (const char *)d->local_body, d->envelope, d->bodystructure,
				     d->body, d->parts };
		const int len[8] = { 0, 0, DIGEST_SHA256_BYTES, (int)d->local_len, 0, 0, 0, 0 };
		static const int fmt[8] = { 0, 0, 1, 1, 0, 0, 0, 0 };

		if (d->local_len > (size_t)INT32_MAX) {
			sent_ok = false;
			break;
		}
		digest_sha256(hash[k], d->local_body, d->local_len);
		sent_ok = pipe_send(pg, STMT_DELIVER_RESERVED, 8, v, len, fmt);
		k++;
	}
	if (!pipe_flush(b->db, sent_ok, b->all[0], &st))
		goto out;
	for (size_t k = 0; k < sent + 1; k++) {	/* the reservation, then each copy */
		res = pipe_result(pg);
		if (res == NULL) {
			st = DB_TEMP;
			break;
		}
		if (st == DB_OK && PQresultStatus(res) != PGRES_PIPELINE_ABORTED) {
			enum db_status rst = db_status_of(b->db, res);
			if (rst == DB_TEMP || rst == DB_RETRY)
				st = rst;
			else if (rst != DB_OK || (k == 0 && PQntuples(res) != 1))
				*fallback_r = true;
		}
		PQclear(res);
	}
	if (st == DB_OK && *fallback_r)
		st = DB_ERROR;	/* the COMMIT rolled back; nothing stored */
	st = pipe_finish(b->db, st);
	if (*fallback_r)
		st = DB_OK;
out:
	free(hash);
	free(txt);
	return st;
}

/* One transaction, one round trip. A message whose copy changed nothing
 * is looked at after the COMMIT: over quota, account gone (skipped), or
 * no INBOX (b->redo: stored again on the slow path, which makes one). */
static enum db_status batch_pipe(struct batch_ctx *b)
{
	PGconn *pg = db_pg(b->db);
	unsigned char (*hash)[DIGEST_SHA256_BYTES] = xmalloc(b->n * sizeof(*hash));
	char (*txt)[2][24] = xmalloc(b->n * sizeof(*txt));
	size_t *order = xmalloc(b->n * sizeof(*order)), sent = 0;
	bool *check = xcalloc(b->n, sizeof(*check)), sent_ok;
	enum db_status st, cst;
	PGresult *res;

	if (PQenterPipelineMode(pg) != 1) {
		st = DB_TEMP;
		goto out;
	}
	sent_ok = pipe_send(pg, STMT_BEGIN, 0, NULL, NULL, NULL);
	for (size_t i = 0; i < b->n && sent_ok; i++) {
		const struct db_delivery *d = &b->d[i];
		const char *v[8] = { txt[i][0], txt[i][1], (const char *)hash[i],
				     (const char *)d->local_body, d->envelope, d->bodystructure,
				     d->body, d->parts };
		const int len[8] = { 0, 0, DIGEST_SHA256_BYTES, (int)d->local_len, 0, 0, 0, 0 };
		static const int fmt[8] = { 0, 0, 1, 1, 0, 0, 0, 0 };

		if (b->skip[i])
			continue;
		if (d->local_len > (size_t)INT32_MAX) {
			sent_ok = false;
			break;
		}
		digest_sha256(hash[i], d->local_body, d->local_len);
		i64_text(txt[i][0], sizeof(txt[i][0]), b->accts[b->acct_off[i]]);
		i64_text(txt[i][1], sizeof(txt[i][1]), (int64_t)d->local_len);
		sent_ok = pipe_send(pg, STMT_DELIVER_NEW, 8, v, len, fmt);
		order[sent++] = i;
	}
	if (!pipe_flush(b->db, sent_ok, b->all[0], &st))
		goto out;
	for (size_t k = 0; k < sent; k++) {
		size_t i = order[k];
		res = pipe_result(pg);
		if (res == NULL) {
			st = DB_TEMP;
			break;
		}
		if (st == DB_OK && PQresultStatus(res) != PGRES_PIPELINE_ABORTED) {
			enum db_status rst = db_status_of(b->db, res);
			if (rst == DB_OK && PQntuples(res) == 1) {
				b->res[i].st = DB_OK;
				check[i] = db_col_i64(res, 0, 0) != 1;
			} else {
				st = rst == DB_OK ? DB_ERROR : rst;
				log_warn("db", "deliver_new: %s", PQresultErrorMessage(res));
				if (st != DB_TEMP && st != DB_RETRY)
					b->failed = i;	/* this one alone */
			}
		}
		PQclear(res);
	}
	st = pipe_finish(b->db, st);
	if (st != DB_OK)
		goto out;
	for (size_t i = 0; i < b->n; i++) {
		char idtext[24];
		const char *params[1] = { idtext };
		if (!check[i])
			continue;
		i64_text(idtext, sizeof(idtext), b->accts[b->acct_off[i]]);
		res = db_exec(b->db, STMT_ACCOUNT_EXISTS, 1, params, NULL, NULL, &cst);
		if (cst != DB_OK)
			b->res[i].st = cst;
		else if (PQntuples(res) != 1)
			log_warn("db", "account %s vanished during delivery; its copy is skipped",
				 idtext);
		else if (col_bool(res, 0, 0))
			b->res[i].over_quota = true;
		else
			b->redo[i] = true;
		PQclear(res);
	}
out:
	free(hash);
	free(txt);
	free(order);
	free(check);
	return st;
}

static enum db_status batch_once(struct batch_ctx *b)
{
	enum db_status st;
	bool any = false;

	const char *unprepared = NULL;

	/* Pipelined statements must be prepared already (db_exec() prepares
	 * on first use; the pipeline cannot). XXX: db.h prepares all or
	 * reports the first failure, so a statement of another module that
	 * cannot be prepared (its table missing) keeps every batch on the
	 * slow path; a db_prepare_one() would be finer. */
	if (!batch_simple(b) || db_prepare_all(b->db, &unprepared) != DB_OK)
		return batch_slow(b);
	b->failed = SIZE_MAX;
	for (size_t i = 0; i < b->n; i++) {
		b->redo[i] = false;
		if (!b->skip[i]) {
			b->res[i].st = DB_OK;
			b->res[i].over_quota = false;
		}
	}
	size_t live = 0;
	for (size_t i = 0; i < b->n; i++)
		live += !b->skip[i];
	if (live >= 2) {
		bool fallback;
		st = batch_reserve(b, &fallback);
		if (st != DB_OK || !fallback)
			return st;
	}
	st = batch_pipe(b);
	for (size_t i = 0; i < b->n; i++)
		any = any || b->redo[i];
	if (st != DB_OK || !any)
		return st;
	/* The batch is committed. The messages for an account without an
	 * INBOX row go once more, alone, on the path that makes one. */
	bool *saved = xmalloc(b->n * sizeof(*saved));
	memcpy(saved, b->skip, b->n * sizeof(*saved));
	for (size_t i = 0; i < b->n; i++)
		b->skip[i] = saved[i] || !b->redo[i];
	st = batch_slow(b);
	memcpy(b->skip, saved, b->n * sizeof(*saved));
	free(saved);
	for (size_t i = 0; i < b->n; i++)
		if (b->redo[i] && st != DB_OK) {
			b->res[i].st = st == DB_RETRY ? DB_TEMP : st;
			b->res[i].over_quota = false;
		}
	b->failed = SIZE_MAX;
	return DB_OK;
}

enum db_status db_deliver_batch(struct db *db, const struct db_delivery *d, size_t n,
				struct db_delivery_result *results)
{
	struct batch_ctx b = { .db = db, .d = d, .n = n, .res = results };
	enum db_status st = DB_ERROR;
	int retries = 0;

	for (size_t i = 0; i < n; i++) {
		results[i].st = DB_OK;
		results[i].over_quota = false;
		if ((d[i].n_accounts > 0 && d[i].local_body == NULL) ||
		    (d[i].n_remote > 0 && d[i].remote_body == NULL)) {
			log_error("db", "db_deliver_batch: a body is missing");
			for (size_t k = 0; k < n; k++)
				results[k].st = DB_ERROR;
			return DB_ERROR;
		}
	}
	if (n == 0)
		return DB_OK;
	batch_accounts(&b);
	for (;;) {
		st = batch_once(&b);
		if (st == DB_OK)
			break;
		if (b.failed != SIZE_MAX && st != DB_TEMP && st != DB_RETRY) {
			/* One message's statement failed: it alone gets that
			 * status; the others go again without it (at most n
			 * times in all). */
			b.skip[b.failed] = true;
			results[b.failed].st = st;
			results[b.failed].over_quota = false;
			log_warn("db", "delivery batch of %zu: one message failed (%d), the others "
				 "are retried", n, (int)st);
			continue;
		}
		if (st != DB_RETRY || retries++ >= LIMIT_DELIVER_RETRIES)
			break;
		log_info("db", "delivery batch of %zu: serialization failure or deadlock, retrying", n);
	}
	if (st == DB_RETRY)
		st = DB_TEMP;
	if (st != DB_OK)
		for (size_t i = 0; i < n; i++) {
			if (b.skip[i])
				continue;
			results[i].st = st;
			results[i].over_quota = false;
		}
	batch_free(&b);
	return st;
}

enum db_status db_deliver(struct db *db, const struct db_delivery *d, bool *over_quota_r)
{
	struct db_delivery_result r;
	enum db_status st = db_deliver_batch(db, d, 1, &r);

	*over_quota_r = st == DB_OK && r.over_quota;
	return st == DB_OK ? r.st : st;
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
			*mailbox_id_r = db_col_i64(res, 0, 0);
			*uidvalidity_r = db_col_i64(res, 0, 1);
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
			(*msgs_r)[i].uid = db_col_i64(res, i, 0);
			(*msgs_r)[i].size = db_col_i64(res, i, 1);
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
			count = db_col_i64(res, 0, 0);
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
	enum db_status st = DB_OK;

	if (n == 0)
		return DB_OK;
	arr = db_array_i64(uids, n);
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
			l->port = (int)db_col_i64(res, i, 2);
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

	*n_r = st == DB_OK && PQntuples(res) == 1 ? (long long)db_col_i64(res, 0, 0) : 0;
	PQclear(res);
	return st;
}
