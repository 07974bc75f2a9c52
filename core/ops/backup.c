/* backup.c - posternctl backup DIR / restore DIR. A backup is a directory:
 * postern.dump (pg_dump --format=custom, run from the PostgreSQL client
 * binaries of the newest installed version or POSTERN_PG_BINDIR), seal.key
 * (the key that seals certificate and DKIM private keys; without it they
 * are lost) and MANIFEST, written last through a rename, so a directory
 * with a MANIFEST is a complete backup. The MANIFEST (at most
 * LIMIT_BACKUP_MANIFEST octets) names the schema version and each file's
 * size and SHA-256; restore checks them all before touching the database.
 * The connection settings reach pg_dump/pg_restore as PG* environment
 * variables, never on the command line, so a password is not shown by ps. */
#include "ops/ops.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "config/limits.h"
#include "db/embedded.h"
#include "lib/fs.h"
#include "lib/str.h"
#include "lib/strnum.h"

#define BACKUP_FORMAT "postern-backup 1"
#define BACKUP_DUMP "postern.dump"
#define BACKUP_KEY "seal.key"
#define BACKUP_MANIFEST "MANIFEST"
#define BACKUP_HEX (crypto_hash_sha256_BYTES * 2 + 1)

struct backup_file {
	const char *name;
	unsigned long long size;
	char sha256[BACKUP_HEX];
};

static enum ops_status backup_fail(struct admin_err *err, enum ops_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum ops_status backup_fail(struct admin_err *err, enum ops_status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(err->msg, sizeof(err->msg), fmt, ap) < 0)
		str_lcpy(err->msg, "backup failed", sizeof(err->msg));
	va_end(ap);
	return st;
}

static int backup_path(char *out, size_t size, const char *dir, const char *name)
{
	return str_fmt(out, size, "%s/%s", dir, name);
}

/* SHA-256 (hex) and size of a file. */
static int backup_hash(const char *path, struct backup_file *f)
{
	crypto_hash_sha256_state st;
	unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	crypto_hash_sha256_init(&st);
	f->size = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
		f->size += (unsigned long long)n;
	}
	close(fd);
	if (n < 0)
		return -1;
	crypto_hash_sha256_final(&st, digest);
	sodium_bin2hex(f->sha256, sizeof(f->sha256), digest, sizeof(digest));
	return 0;
}

/* Writes len bytes to path through path.tmp, fsync and rename. */
static int backup_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const unsigned char *p = data;
	int fd;

	if (str_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			unlink(tmp);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Reads a whole small file (at most max octets) into buf; its length or -1. */
static ssize_t backup_read_small(const char *path, char *buf, size_t max)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + len, max + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > max) {
			close(fd);
			errno = EFBIG;
			return -1;
		}
	}
	close(fd);
	return n < 0 ? -1 : (ssize_t)len;
}

/* Runs bindir/tool with argv, the connection settings of conninfo in its
 * environment (PGHOST, PGUSER, PGPASSWORD ...). 0 when it exited 0. */
static int backup_run(const char *tool_path, char *const argv[], const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	pid_t pid;
	int status;

	if (opts == NULL)
		return -1;
	pid = fork();
	if (pid < 0) {
		PQconninfoFree(opts);
		return -1;
	}
	if (pid == 0) {
		for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
			if (o->envvar != NULL && o->val != NULL && *o->val != '\0')
				setenv(o->envvar, o->val, 1);
		execv(tool_path, argv);
		_exit(127);
	}
	PQconninfoFree(opts);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The path of a PostgreSQL client program: POSTERN_PG_BINDIR, else the
 * newest /usr/lib/postgresql/N/bin. */
static int backup_tool(const struct config *cfg, const char *tool, char *out, size_t size)
{
	char bindir[PATH_MAX];

	if (pg_embedded_bindir(cfg->pg_bindir, bindir, sizeof(bindir)) < 0)
		return -1;
	if (str_fmt(out, size, "%s/%s", bindir, tool) < 0 || access(out, X_OK) < 0)
		return -1;
	return 0;
}

static bool backup_dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

/* The highest version among the applied migrations, -1 on error. */
static long backup_schema_version(struct db *db)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_MIGRATE_APPLIED, 0, NULL, NULL, NULL, &st);
	long v = -1;

	if (st == DB_OK && PQntuples(res) > 0) {
		uint64_t n;
		if (strnum_parse(PQgetvalue(res, PQntuples(res) - 1, 0), 999, &n) == 0)
			v = (long)n;
	} else if (st == DB_OK) {
		v = 0;
	}
	PQclear(res);
	return v;
}

/* XXX: the backup is not encrypted (mail and seal.key in clear, the
 * directory is 0700): encrypt it with the operator's tools before it leaves
 * the host. No retention either: one directory per run. */
enum ops_status ops_backup(const struct config *cfg, struct db *db, const char *conninfo,
			   const char *dir, struct admin_err *err)
{
	char tool[PATH_MAX], dump[PATH_MAX], key_src[PATH_MAX], key_dst[PATH_MAX];
	char file_arg[PATH_MAX + 16], manifest[1024], key[64];
	struct backup_file files[2] = { { .name = BACKUP_DUMP }, { .name = BACKUP_KEY } };
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	ssize_t keylen;
	long schema;

	if (backup_tool(cfg, "pg_dump", tool, sizeof(tool)) < 0)
		return backup_fail(err, OPS_FAIL, "pg_dump not found (install postgresql-client "
				   "or set POSTERN_PG_BINDIR)");
	if (fs_mkdirs(dir, 0700) < 0 && errno != EEXIST)
		return backup_fail(err, OPS_FAIL, "cannot create %s: %s", dir, strerror(errno));
	if (!backup_dir_empty(dir))
		return backup_fail(err, OPS_FAIL, "%s is not an empty directory", dir);
	if (backup_path(dump, sizeof(dump), dir, BACKUP_DUMP) < 0 ||
	    backup_path(key_dst, sizeof(key_dst), dir, BACKUP_KEY) < 0 ||
	    backup_path(key_src, sizeof(key_src), cfg->data_dir, BACKUP_KEY) < 0 ||
	    str_fmt(file_arg, sizeof(file_arg), "--file=%s", dump) < 0)
		return backup_fail(err, OPS_FAIL, "the path %s is too long", dir);
	keylen = backup_read_small(key_src, key, sizeof(key) - 1);
	if (keylen < 0)
		return backup_fail(err, OPS_FAIL, "cannot read %s (%s): the sealed private keys "
				   "would be lost; set POSTERN_DATA_DIR", key_src, strerror(errno));
	schema = backup_schema_version(db);
	if (schema < 0) {
		sodium_memzero(key, sizeof(key));
		return backup_fail(err, db_ok(db) ? OPS_FAIL : OPS_UNAVAILABLE,
				   "cannot read the schema version: %s", db_error(db));
	}
	{
		char *argv[] = { tool, "--format=custom", "--compress=6", file_arg, NULL };
		if (backup_run(tool, argv, conninfo) < 0) {
			sodium_memzero(key, sizeof(key));
			return backup_fail(err, OPS_FAIL, "pg_dump failed (see its message above)");
		}
	}
	if (backup_write_file(key_dst, key, (size_t)keylen, 0600) < 0) {
		sodium_memzero(key, sizeof(key));
		return backup_fail(err, OPS_FAIL, "cannot write %s: %s", key_dst, strerror(errno));
	}
	sodium_memzero(key, sizeof(key));
	if (backup_hash(dump, &files[0]) < 0 || backup_hash(key_dst, &files[1]) < 0)
		return backup_fail(err, OPS_FAIL, "cannot read back the backup files: %s",
				   strerror(errno));
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (str_fmt(manifest, sizeof(manifest),
		    BACKUP_FORMAT "\ncreated %s\nschema %ld\nfile %s %llu %s\nfile %s %llu %s\n", when,
		    schema, files[0].name, files[0].size, files[0].sha256, files[1].name,
		    files[1].size, files[1].sha256) < 0 ||
	    backup_path(dump, sizeof(dump), dir, BACKUP_MANIFEST) < 0 ||
	    backup_write_file(dump, manifest, strlen(manifest), 0600) < 0)
		return backup_fail(err, OPS_FAIL, "cannot write the MANIFEST in %s", dir);
	return OPS_OK;
}

/* ---------- restore ---------- */

struct backup_manifest {
	long schema;
	struct backup_file files[2];	/* dump, key */
	bool seen[2];
};

/* Parses and checks MANIFEST: the format line, schema, and a "file" line
 * for each of the two files with its size and hash matching the disk. */
static enum ops_status backup_manifest_check(const char *dir, struct backup_manifest *m,
					     struct admin_err *err)
{
	char text[LIMIT_BACKUP_MANIFEST + 1], path[PATH_MAX];
	ssize_t len;
	char *line, *save = NULL;
	int lineno = 0;

	memset(m, 0, sizeof(*m));
	m->schema = -1;
	m->files[0].name = BACKUP_DUMP;
	m->files[1].name = BACKUP_KEY;
	if (backup_path(path, sizeof(path), dir, BACKUP_MANIFEST) < 0)
		return backup_fail(err, OPS_FAIL, "the path %s is too long", dir);
	len = backup_read_small(path, text, LIMIT_BACKUP_MANIFEST);
	if (len < 0)
		return backup_fail(err, OPS_FAIL, "cannot read %s: %s (an incomplete backup has "
				   "none)", path, strerror(errno));
	text[len] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *w[4], *wsave = NULL;
		int nw = 0;
		uint64_t v;

		if (++lineno == 1) {
			if (strcmp(line, BACKUP_FORMAT) != 0)
				return backup_fail(err, OPS_FAIL, "%s is not a Postern backup manifest",
						   path);
			continue;
		}
		for (char *t = strtok_r(line, " ", &wsave); t != NULL && nw < 4;
		     t = strtok_r(NULL, " ", &wsave))
			w[nw++] = t;
		if (nw == 2 && strcmp(w[0], "schema") == 0 && strnum_parse(w[1], 999, &v) == 0) {
			m->schema = (long)v;
		} else if (nw == 4 && strcmp(w[0], "file") == 0 &&
			   strnum_parse(w[2], UINT64_MAX, &v) == 0 && strlen(w[3]) == BACKUP_HEX - 1) {
			for (int i = 0; i < 2; i++) {
				if (strcmp(w[1], m->files[i].name) != 0)
					continue;
				m->files[i].size = v;
				str_lcpy(m->files[i].sha256, w[3], sizeof(m->files[i].sha256));
				m->seen[i] = true;
			}
		}
	}
	if (m->schema < 0 || !m->seen[0] || !m->seen[1])
		return backup_fail(err, OPS_FAIL, "%s lacks the schema or a file line", path);
	for (int i = 0; i < 2; i++) {
		struct backup_file disk = { .name = m->files[i].name };
		if (backup_path(path, sizeof(path), dir, m->files[i].name) < 0 ||
		    backup_hash(path, &disk) < 0)
			return backup_fail(err, OPS_FAIL, "cannot read %s: %s", path, strerror(errno));
		if (disk.size != m->files[i].size || strcmp(disk.sha256, m->files[i].sha256) != 0)
			return backup_fail(err, OPS_FAIL, "%s does not match the MANIFEST (damaged or "
					   "changed)", path);
	}
	return OPS_OK;
}

/* The highest NNN of sql_dir/NNN_*.sql, -1 when none. */
static long backup_migrations_max(const char *sql_dir)
{
	DIR *d = opendir(sql_dir);
	struct dirent *e;
	long best = -1;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		uint64_t v;
		size_t len = strlen(e->d_name);
		if (len > 8 && e->d_name[3] == '_' && strcmp(e->d_name + len - 4, ".sql") == 0 &&
		    strnum_u64(e->d_name, 3, 999, &v) == 0 && (long)v > best)
			best = (long)v;
	}
	closedir(d);
	return best;
}

/* True when the database holds no table in schema public. */
static enum ops_status backup_db_empty(struct db *db, struct admin_err *err)
{
	enum db_status st;
	PGresult *res = db_exec(db, STMT_OPS_PUBLIC_TABLES, 0, NULL, NULL, NULL, &st);
	bool empty = st == DB_OK && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "0") == 0;

	PQclear(res);
	if (st != DB_OK)
		return backup_fail(err, db_ok(db) ? OPS_FAIL : OPS_UNAVAILABLE,
				   "cannot inspect the database: %s", db_error(db));
	if (!empty)
		return backup_fail(err, OPS_FAIL, "the database is not empty: restore only into a "
				   "new, empty database");
	return OPS_OK;
}

enum ops_status ops_restore(const struct config *cfg, struct db *db, const char *conninfo,
			    const char *dir, struct admin_err *err)
{
	struct backup_manifest m;
	char tool[PATH_MAX], dump[PATH_MAX], key_src[PATH_MAX], key_dst[PATH_MAX];
	char key[64], have[64], dbarg[1024];
	ssize_t keylen, havelen;
	enum ops_status st;
	long newest = backup_migrations_max(cfg->sql_dir);
	const char *dbname = NULL;
	const char *error = NULL;
	PQconninfoOption *opts;

	if ((st = backup_manifest_check(dir, &m, err)) != OPS_OK)
		return st;
	if (m.schema > newest)
		return backup_fail(err, OPS_FAIL, "the backup has schema version %ld, newer than this "
				   "Postern's migrations (%ld): restore with a newer release",
				   m.schema, newest);
	if (backup_tool(cfg, "pg_restore", tool, sizeof(tool)) < 0)
		return backup_fail(err, OPS_FAIL, "pg_restore not found (install postgresql-client "
				   "or set POSTERN_PG_BINDIR)");
	if (backup_path(dump, sizeof(dump), dir, BACKUP_DUMP) < 0 ||
	    backup_path(key_src, sizeof(key_src), dir, BACKUP_KEY) < 0 ||
	    backup_path(key_dst, sizeof(key_dst), cfg->data_dir, BACKUP_KEY) < 0)
		return backup_fail(err, OPS_FAIL, "the path %s is too long", dir);
	keylen = backup_read_small(key_src, key, sizeof(key) - 1);
	if (keylen < 0)
		return backup_fail(err, OPS_FAIL, "cannot read %s: %s", key_src, strerror(errno));
	havelen = backup_read_small(key_dst, have, sizeof(have) - 1);
	if (havelen >= 0 && (havelen != keylen || sodium_memcmp(have, key, (size_t)keylen) != 0)) {
		sodium_memzero(key, sizeof(key));
		sodium_memzero(have, sizeof(have));
		return backup_fail(err, OPS_FAIL, "%s already exists and differs from the backup's: "
				   "restore into a new data directory", key_dst);
	}
	sodium_memzero(have, sizeof(have));
	if ((st = backup_db_empty(db, err)) != OPS_OK) {
		sodium_memzero(key, sizeof(key));
		return st;
	}
	opts = PQconninfoParse(conninfo, NULL);
	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "dbname") == 0 && o->val != NULL && *o->val != '\0')
			dbname = o->val;
	if (str_fmt(dbarg, sizeof(dbarg), "--dbname=%s", dbname != NULL ? dbname : "postern") < 0) {
		PQconninfoFree(opts);
		sodium_memzero(key, sizeof(key));
		return backup_fail(err, OPS_FAIL, "the database name is too long");
	}
	PQconninfoFree(opts);
	{
		char *argv[] = { tool, "--exit-on-error", "--single-transaction", "--no-owner",
				 "--no-privileges", dbarg, dump, NULL };
		if (backup_run(tool, argv, conninfo) < 0) {
			sodium_memzero(key, sizeof(key));
			return backup_fail(err, OPS_FAIL, "pg_restore failed (see its message above); "
					   "the database was left unchanged");
		}
	}
	if (havelen < 0 && (fs_mkdirs(cfg->data_dir, 0750) < 0 ||
			    backup_write_file(key_dst, key, (size_t)keylen, 0600) < 0)) {
		sodium_memzero(key, sizeof(key));
		return backup_fail(err, OPS_FAIL, "restored the database but cannot write %s: %s; "
				   "copy %s there by hand", key_dst, strerror(errno), key_src);
	}
	sodium_memzero(key, sizeof(key));
	if (db_migrate(db, cfg->sql_dir, &error) < 0)
		return backup_fail(err, db_ok(db) ? OPS_FAIL : OPS_UNAVAILABLE,
				   "restored, but the upgrade of schema %ld failed: %s", m.schema, error);
	return OPS_OK;
}
