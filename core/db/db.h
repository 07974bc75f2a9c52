/* db.h - one PostgreSQL connection with every prepared statement of the
 * program (STYLE rule 10), run with blocking libpq from a worker thread or
 * from posternctl. Never called from the loop thread. */
#ifndef POSTERN_DB_DB_H
#define POSTERN_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "db/stmt.h"

/* What a failure means for the reply (DESIGN.md section 6). */
enum db_status {
	DB_OK = 0,
	DB_TEMP,	/* 08xxx, 57P0x, commit outcome unknown: 451 / NO [UNAVAILABLE] */
	DB_DISKFULL,	/* 53100: 452 4.3.1 */
	DB_RETRY,	/* 40001, 40P01: retry the transaction */
	DB_CONFLICT,	/* 23505 unique violation */
	DB_ERROR,	/* anything else: a bug or bad data */
};

struct db;

/* Connects and prepares every statement. NULL with *error_r (static or
 * thread-local text) on failure. */
struct db *db_open(const char *conninfo, const char **error_r);
void db_close(struct db **db);
PGconn *db_pg(struct db *db);
/* True when the connection looks usable (PQstatus OK). */
bool db_ok(struct db *db);
/* Runs a prepared statement with text parameters (NULL = SQL NULL).
 * lengths may be NULL for all-text; binary params: pass formats.
 * Returns the result (caller PQclear()s) and sets *status_r. */
PGresult *db_exec(struct db *db, enum db_stmt id, int nparams, const char *const *values,
		  const int *lengths, const int *formats, enum db_status *status_r);
/* Same, with the result in binary format (bytea columns as raw bytes,
 * integers in network order): for message bodies. */
PGresult *db_exec_binary(struct db *db, enum db_stmt id, int nparams, const char *const *values,
			 const int *lengths, const int *formats, enum db_status *status_r);
/* Maps a result / connection state to a status. */
enum db_status db_status_of(struct db *db, const PGresult *res);
enum db_status db_begin(struct db *db);
/* COMMIT: DB_TEMP when the outcome is unknown (connection lost during it). */
enum db_status db_commit(struct db *db);
void db_rollback(struct db *db);
/* Last error text of the connection (for logs). */
const char *db_error(struct db *db);
/* A result column as a signed 64-bit integer: 0 when NULL or not a number
 * (ids, sizes, counters, epochs, MODSEQs). */
int64_t db_col_i64(const PGresult *res, int row, int col);

/* Prepares the statements not prepared yet (db_open() defers those whose
 * tables do not exist yet). DB_OK, or the first failure with *failed_r set
 * to the statement's name (may be NULL). */
enum db_status db_prepare_all(struct db *db, const char **failed_r);

/* "{1,2,3}" (malloc'd) for a bigint[] / int[] statement parameter. */
char *db_array_i64(const int64_t *v, size_t n);
char *db_array_u32(const uint32_t *v, size_t n);

/* Applies sql/NNN_*.sql not yet recorded in schema_version, each in its own
 * transaction, under an advisory lock (several nodes may start at once).
 * sql_dir: directory of the migration files. */
int db_migrate(struct db *db, const char *sql_dir, const char **error_r);

#endif
