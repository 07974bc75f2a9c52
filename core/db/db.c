/* db.c - one blocking libpq connection with the prepared statements of
 * stmt.c, and the SQLSTATE -> db_status mapping of DESIGN.md section 6:
 * 08xxx / 57P0x / a broken connection -> DB_TEMP, 53100 -> DB_DISKFULL,
 * 40001 / 40P01 -> DB_RETRY, 23505 -> DB_CONFLICT.
 * db_open() prepares every statement; one that cannot be prepared yet
 * (its table comes with a migration not applied so far) is prepared on
 * first use, and db_migrate() insists that all of them prepare. */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"

struct db {
	PGconn *pg;
	bool prepared[STMT__COUNT];
	char error[512];
};

static _Thread_local char db_open_error[512];

/* Copies a libpq message into dst as one line (newlines become spaces,
 * the trailing one is dropped). */
static void db_set_error(char *dst, size_t dstsize, const char *msg)
{
	size_t i;

	if (msg == NULL || *msg == '\0')
		msg = "unknown database error";
	str_lcpy(dst, msg, dstsize);
	for (i = strlen(dst); i > 0 && (dst[i - 1] == '\n' || dst[i - 1] == ' '); i--)
		dst[i - 1] = '\0';
	/* one line, without the doubled spaces libpq's indentation leaves */
	size_t o = 0;
	for (i = 0; dst[i] != '\0'; i++) {
		char c = (dst[i] == '\n' || dst[i] == '\r' || dst[i] == '\t') ? ' ' : dst[i];
		if (c == ' ' && o > 0 && dst[o - 1] == ' ')
			continue;
		dst[o++] = c;
	}
	dst[o] = '\0';
}

static void db_table_check(void)
{
	for (int i = 1; i < STMT__COUNT; i++) {
		if (db_stmts[i].name == NULL || db_stmts[i].sql == NULL) {
			log_error("db", "statement %d has no entry in stmt.c", i);
			abort();
		}
	}
}

/* Prepares one statement. Returns the status of the PREPARE. */
static enum db_status db_prepare(struct db *db, enum db_stmt id)
{
	const struct db_stmt_def *def = &db_stmts[id];
	PGresult *res = PQprepare(db->pg, def->name, def->sql, def->nparams, NULL);
	enum db_status st = db_status_of(db, res);

	if (st == DB_OK)
		db->prepared[id] = true;
	else
		db_set_error(db->error, sizeof(db->error),
			     res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->pg));
	PQclear(res);
	return st;
}

enum db_status db_prepare_all(struct db *db, const char **failed_r)
{
	enum db_status first = DB_OK;

	for (int i = 1; i < STMT__COUNT; i++) {
		if (db->prepared[i])
			continue;
		enum db_status st = db_prepare(db, (enum db_stmt)i);
		if (st == DB_TEMP)
			return st;
		if (st != DB_OK && first == DB_OK) {
			first = st;
			if (failed_r != NULL)
				*failed_r = db_stmts[i].name;
		}
	}
	return first;
}

/* Server notices (a WARNING, "terminating connection ...") go to the
 * log instead of libpq's default stderr printing. */
static void db_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("db", "notice: %.*s", (int)strcspn(message, "\n"), message);
}

struct db *db_open(const char *conninfo, const char **error_r)
{
	/* Entries before dbname may be overridden by the conninfo string. */
	static const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *vals[] = { "10", "postern", conninfo != NULL ? conninfo : "", NULL };
	struct db *db;
	PGresult *res;
	enum db_status st;

	db_table_check();
	db = xcalloc(1, sizeof(*db));
	db->pg = PQconnectdbParams(keys, vals, 1);
	if (db->pg == NULL || PQstatus(db->pg) != CONNECTION_OK) {
		db_set_error(db_open_error, sizeof(db_open_error),
			     db->pg != NULL ? PQerrorMessage(db->pg) : "out of memory");
		*error_r = db_open_error;
		PQfinish(db->pg);
		free(db);
		return NULL;
	}
	PQsetNoticeProcessor(db->pg, db_notice, NULL);
	/* DESIGN.md: replies only after a durable commit, whatever the
	 * server's default says; generic plans (see stmt.c). */
	res = db_exec(db, STMT_SET_SYNC_COMMIT, 0, NULL, NULL, NULL, &st);
	PQclear(res);
	if (st == DB_OK) {
		/* An empty database (before the first migration) would make
		 * every PREPARE fail and fill the server log: defer them. */
		res = db_exec(db, STMT_MIGRATE_HAS_TABLE, 0, NULL, NULL, NULL, &st);
		bool schema = st == DB_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (schema && db_prepare_all(db, NULL) == DB_TEMP)
			st = DB_TEMP;
	}
	if (st != DB_OK || !db_ok(db)) {
		str_lcpy(db_open_error, db->error, sizeof(db_open_error));
		*error_r = db_open_error;
		db_close(&db);
		return NULL;
	}
	/* Other failures: tables of a pending migration; prepared on use. */
	return db;
}

void db_close(struct db **dbp)
{
	struct db *db = *dbp;

	if (db == NULL)
		return;
	PQfinish(db->pg);
	free(db);
	*dbp = NULL;
}

PGconn *db_pg(struct db *db)
{
	return db->pg;
}

bool db_ok(struct db *db)
{
	return db != NULL && db->pg != NULL && PQstatus(db->pg) == CONNECTION_OK;
}

const char *db_error(struct db *db)
{
	return db->error;
}

enum db_status db_status_of(struct db *db, const PGresult *res)
{
	const char *ss;

	if (res != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
			return DB_OK;
		default:
			break;
		}
	}
	if (db != NULL && (db->pg == NULL || PQstatus(db->pg) != CONNECTION_OK))
		return DB_TEMP;
	ss = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (ss == NULL)
		/* no result at all: the connection broke (or out of memory) */
		return res == NULL ? DB_TEMP : DB_ERROR;
	if (strncmp(ss, "08", 2) == 0 || strncmp(ss, "57P0", 4) == 0)
		return DB_TEMP;
	if (strcmp(ss, "53100") == 0)
		return DB_DISKFULL;
	if (strncmp(ss, "53", 2) == 0)	/* out of memory, too many connections */
		return DB_TEMP;
	if (strcmp(ss, "40001") == 0 || strcmp(ss, "40P01") == 0)
		return DB_RETRY;
	if (strcmp(ss, "23505") == 0)
		return DB_CONFLICT;
	return DB_ERROR;
}

static PGresult *db_exec_fmt(struct db *db, enum db_stmt id, int nparams, const char *const *values,
			     const int *lengths, const int *formats, int result_format,
			     enum db_status *status_r)
{
	const struct db_stmt_def *def;
	PGresult *res;
	enum db_status st;

	if (id <= STMT_NONE || id >= STMT__COUNT || nparams != db_stmts[id].nparams) {
		log_error("db", "statement %d called with %d parameters", (int)id, nparams);
		abort();
	}
	def = &db_stmts[id];
	if (!db->prepared[id]) {
		st = db_prepare(db, id);
		if (st != DB_OK) {
			log_warn("db", "prepare %s: %s", def->name, db->error);
			*status_r = st;
			return NULL;
		}
	}
	res = PQexecPrepared(db->pg, def->name, nparams, values, lengths, formats, result_format);
	st = db_status_of(db, res);
	if (st != DB_OK) {
		db_set_error(db->error, sizeof(db->error),
			     res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->pg));
		if (st == DB_ERROR || st == DB_TEMP || st == DB_DISKFULL)
			log_warn("db", "%s: %s", def->name, db->error);
	}
	*status_r = st;
	return res;
}

PGresult *db_exec(struct db *db, enum db_stmt id, int nparams, const char *const *values,
		  const int *lengths, const int *formats, enum db_status *status_r)
{
	return db_exec_fmt(db, id, nparams, values, lengths, formats, 0, status_r);
}

PGresult *db_exec_binary(struct db *db, enum db_stmt id, int nparams, const char *const *values,
			 const int *lengths, const int *formats, enum db_status *status_r)
{
	return db_exec_fmt(db, id, nparams, values, lengths, formats, 1, status_r);
}

static enum db_status db_simple(struct db *db, enum db_stmt id)
{
	enum db_status st;
	PGresult *res = db_exec(db, id, 0, NULL, NULL, NULL, &st);

	PQclear(res);
	return st;
}

enum db_status db_begin(struct db *db)
{
	return db_simple(db, STMT_BEGIN);
}

enum db_status db_commit(struct db *db)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_COMMIT, 0, NULL, NULL, NULL, &st);

	if (res == NULL || !db_ok(db)) {
		/* The COMMIT may or may not have happened: DESIGN.md says
		 * answer a temporary failure (a duplicate, never a loss). */
		st = DB_TEMP;
	} else if (st == DB_OK && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		/* COMMIT of a transaction that had failed rolls it back. */
		db_set_error(db->error, sizeof(db->error), "transaction was rolled back at COMMIT");
		st = DB_ERROR;
	}
	PQclear(res);
	return st;
}

void db_rollback(struct db *db)
{
	if (db_ok(db))
		(void)db_simple(db, STMT_ROLLBACK);
}

/* n values of elem bytes each: 8 = int64_t, 4 = uint32_t. */
static char *db_array(const void *v, size_t n, size_t elem)
{
	size_t cap = n * 21 + 3, len = 0;
	char *arr = xmalloc(cap);

	arr[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		long long x = elem == 8 ? (long long)((const int64_t *)v)[i]
					: (long long)((const uint32_t *)v)[i];
		int w = snprintf(arr + len, cap - len, "%s%lld", i > 0 ? "," : "", x);

		if (w < 0 || (size_t)w >= cap - len)
			abort();	/* cap is computed for the widest int64 */
		len += (size_t)w;
	}
	arr[len++] = '}';
	arr[len] = '\0';
	return arr;
}

char *db_array_i64(const int64_t *v, size_t n)
{
	return db_array(v, n, sizeof(*v));
}

char *db_array_u32(const uint32_t *v, size_t n)
{
	return db_array(v, n, sizeof(*v));
}

int64_t db_col_i64(const PGresult *res, int row, int col)
{
	const char *s;
	uint64_t v = 0;
	bool neg;

	if (PQgetisnull(res, row, col))
		return 0;
	s = PQgetvalue(res, row, col);
	neg = s[0] == '-';
	if (strnum_parse(s + neg, INT64_MAX, &v) < 0)
		return 0;
	return neg ? -(int64_t)v : (int64_t)v;
}
