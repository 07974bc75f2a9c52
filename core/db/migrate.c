/* migrate.c - applies sql/NNN_name.sql files in version order, each in its
 * own transaction together with its schema_version row, under a session
 * advisory lock so several nodes starting at once apply each file once.
 * A migration file is the one place plain (non-prepared) SQL runs: its text
 * goes through PQexec, which accepts several statements. Files are bounded
 * by LIMIT_MIGRATION_FILE; versions are 001..999 and must be unique. */
#include "db/db.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"

#define MIGRATE_VERSIONS 1000

static _Thread_local char migrate_error[768];

static int migrate_fail(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int migrate_fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(migrate_error, sizeof(migrate_error), fmt, ap);
	va_end(ap);
	if (n < 0)
		str_lcpy(migrate_error, "migration failed", sizeof(migrate_error));
	/* a long message is cut: still one line for the log */
	*error_r = migrate_error;
	return -1;
}

/* "NNN_something.sql" */
static int migrate_filter(const struct dirent *d)
{
	const char *n = d->d_name;
	size_t len = strlen(n);

	return len > 8 && n[0] >= '0' && n[0] <= '9' && n[1] >= '0' && n[1] <= '9' &&
	       n[2] >= '0' && n[2] <= '9' && n[3] == '_' && strcmp(n + len - 4, ".sql") == 0;
}

/* Reads a whole migration file (bounded) into a malloc'd string. */
static char *migrate_read(const char *path, const char **why_r)
{
	struct stat sb;
	char *text;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		*why_r = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > LIMIT_MIGRATION_FILE) {
		*why_r = "not a regular file or larger than LIMIT_MIGRATION_FILE";
		close(fd);
		return NULL;
	}
	text = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, text + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*why_r = n < 0 ? strerror(errno) : "file shrank while reading";
			free(text);
			close(fd);
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	if (strlen(text) != got) {
		*why_r = "file contains a NUL byte";
		free(text);
		return NULL;
	}
	return text;
}

/* Fills applied[] from schema_version (nothing when the table is absent). */
static enum db_status migrate_applied(struct db *db, bool *applied)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_MIGRATE_HAS_TABLE, 0, NULL, NULL, NULL, &st);
	bool has = st == DB_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';

	PQclear(res);
	if (st != DB_OK || !has)
		return st;
	res = db_exec(db, STMT_MIGRATE_APPLIED, 0, NULL, NULL, NULL, &st);
	for (int i = 0; st == DB_OK && i < PQntuples(res); i++) {
		uint64_t v;
		if (strnum_parse(PQgetvalue(res, i, 0), MIGRATE_VERSIONS - 1, &v) == 0)
			applied[v] = true;
	}
	PQclear(res);
	return st;
}

/* Runs one file in a transaction with its schema_version row. */
static int migrate_apply(struct db *db, const char *path, const char *name, unsigned version,
			 const char **error_r)
{
	const char *why = NULL;
	char vtext[16];
	const char *params[1] = { vtext };
	char *text = migrate_read(path, &why);
	enum db_status st;
	PGresult *res;

	if (text == NULL)
		return migrate_fail(error_r, "cannot read %s: %s", path, why);
	if (db_begin(db) != DB_OK) {
		free(text);
		return migrate_fail(error_r, "%s: BEGIN failed: %s", name, db_error(db));
	}
	res = PQexec(db_pg(db), text);
	free(text);
	st = db_status_of(db, res);
	if (st != DB_OK) {
		char msg[512];
		str_lcpy(msg, res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db_pg(db)),
			 sizeof(msg));
		msg[strcspn(msg, "\n")] = '\0';
		PQclear(res);
		db_rollback(db);
		return migrate_fail(error_r, "%s: %s", name, msg);
	}
	PQclear(res);
	(void)str_fmt(vtext, sizeof(vtext), "%u", version);
	res = db_exec(db, STMT_MIGRATE_RECORD, 1, params, NULL, NULL, &st);
	PQclear(res);
	if (st != DB_OK) {
		db_rollback(db);
		return migrate_fail(error_r, "%s: cannot record the version: %s", name, db_error(db));
	}
	if (db_commit(db) != DB_OK)
		return migrate_fail(error_r, "%s: COMMIT failed: %s", name, db_error(db));
	log_info("db", "applied migration %s", name);
	return 0;
}

static int migrate_run(struct db *db, const char *sql_dir, const char **error_r)
{
	bool applied[MIGRATE_VERSIONS] = { false };
	bool seen[MIGRATE_VERSIONS] = { false };
	struct dirent **names = NULL;
	int n, rc = 0;

	if (migrate_applied(db, applied) != DB_OK)
		return migrate_fail(error_r, "cannot read schema_version: %s", db_error(db));
	n = scandir(sql_dir, &names, migrate_filter, alphasort);
	if (n < 0)
		return migrate_fail(error_r, "cannot read the migration directory %s: %s", sql_dir,
				    strerror(errno));
	if (n == 0)
		rc = migrate_fail(error_r, "no NNN_*.sql migration files in %s", sql_dir);
	/* check every name before applying anything */
	for (int i = 0; i < n && rc == 0; i++) {
		const char *name = names[i]->d_name;
		uint64_t v;

		if (strnum_u64(name, 3, MIGRATE_VERSIONS - 1, &v) < 0 || v == 0)
			rc = migrate_fail(error_r, "%s: version must be 001..999", name);
		else if (seen[v])
			rc = migrate_fail(error_r, "%s: another file has the same version in %s", name,
					  sql_dir);
		seen[v] = true;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		const char *name = names[i]->d_name;
		char path[4096];
		uint64_t v;

		(void)strnum_u64(name, 3, MIGRATE_VERSIONS - 1, &v);
		if (applied[v])
			continue;
		if (str_fmt(path, sizeof(path), "%s/%s", sql_dir, name) < 0) {
			rc = migrate_fail(error_r, "%s: path too long", name);
			break;
		}
		rc = migrate_apply(db, path, name, (unsigned)v, error_r);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int db_migrate(struct db *db, const char *sql_dir, const char **error_r)
{
	enum db_status st;
	const char *failed = NULL;
	PGresult *res;
	int rc;

	res = db_exec(db, STMT_MIGRATE_LOCK, 0, NULL, NULL, NULL, &st);
	PQclear(res);
	if (st != DB_OK)
		return migrate_fail(error_r, "cannot take the migration lock: %s", db_error(db));
	rc = migrate_run(db, sql_dir, error_r);
	res = db_exec(db, STMT_MIGRATE_UNLOCK, 0, NULL, NULL, NULL, &st);
	PQclear(res);
	if (rc < 0)
		return rc;
	/* Every statement must prepare against the final schema: this is
	 * where a typo in stmt.c shows at start-up. */
	st = db_prepare_all(db, &failed);
	if (st != DB_OK)
		return migrate_fail(error_r, "statement %s does not prepare: %s",
				    failed != NULL ? failed : "?", db_error(db));
	return 0;
}
