/* embedded.c - the embedded PostgreSQL cluster (POSTERN_DATABASE_URL unset):
 * initdb into <data_dir>/pgdata on first start (into pgdata.init, renamed
 * when complete, so an interrupted initdb never leaves half a cluster),
 * then `postgres` as a child process listening only on a unix socket in
 * <data_dir>/run (mode 0700), its output appended to <data_dir>/postgres.log.
 * The child gets its own process group (a terminal's ^C reaches posternd
 * only, which then stops postgres after its own last commit) and
 * PR_SET_PDEATHSIG(SIGINT), so it shuts down fast if posternd dies.
 * Start-up is bounded by LIMIT_EMBEDDED_START_MS, stop by LIMIT_EMBEDDED_STOP_MS.
 * A stale postmaster.pid after kill -9 is postgres's own business. */
#include "db/embedded.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "config/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"

#define PG_PATH 4096
#define PG_DBNAME "postern"
#define PG_USER "postern"

static pid_t pg_pid;
static char pg_error[PG_PATH + 256];

static int pg_fail(const char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int pg_fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(pg_error, sizeof(pg_error), fmt, ap) < 0)
		str_lcpy(pg_error, "embedded PostgreSQL: error", sizeof(pg_error));
	va_end(ap);	/* a cut message is still one line */
	*error_r = pg_error;
	return -1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* data_dir made absolute (libpq takes a host starting with '/' as a
 * socket directory). */
static int abs_dir(const char *dir, char *out, size_t size)
{
	char cwd[PG_PATH];

	if (dir[0] == '/')
		return str_fmt(out, size, "%s", dir) < 0 ? -1 : 0;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	return str_fmt(out, size, "%s/%s", cwd, dir) < 0 ? -1 : 0;
}

/* Appends key='value' with conninfo quoting. */
static int conninfo_add(char *out, size_t size, const char *key, const char *val)
{
	size_t len = strlen(out);

	if (str_fmt(out + len, size - len, "%s%s='", len > 0 ? " " : "", key) < 0)
		return -1;
	len = strlen(out);
	for (const char *p = val; *p != '\0'; p++) {
		if (len + 3 >= size)
			return -1;
		if (*p == '\'' || *p == '\\')
			out[len++] = '\\';
		out[len++] = *p;
	}
	if (len + 2 > size)
		return -1;
	out[len++] = '\'';
	out[len] = '\0';
	return 0;
}

static char *make_conninfo(const char *rundir, const char *dbname)
{
	char buf[PG_PATH * 2 + 128] = "";

	if (conninfo_add(buf, sizeof(buf), "host", rundir) < 0 ||
	    conninfo_add(buf, sizeof(buf), "dbname", dbname) < 0 ||
	    conninfo_add(buf, sizeof(buf), "user", PG_USER) < 0)
		return NULL;
	return xstrdup(buf);
}

char *pg_embedded_conninfo(const char *data_dir)
{
	char dir[PG_PATH], run[PG_PATH];

	if (abs_dir(data_dir, dir, sizeof(dir)) < 0 || str_fmt(run, sizeof(run), "%s/run", dir) < 0)
		return NULL;
	return make_conninfo(run, PG_DBNAME);
}

pid_t pg_embedded_pid(void)
{
	return pg_pid;
}

/* The newest /usr/lib/postgresql/N/bin holding a postgres binary. */
static int find_bindir(const char *bindir, char *out, size_t size)
{
	DIR *d;
	struct dirent *e;
	uint64_t best = 0;

	if (bindir == NULL || *bindir == '\0')
		bindir = getenv("POSTERN_PG_BINDIR");
	if (bindir != NULL && *bindir != '\0')
		return str_fmt(out, size, "%s", bindir) < 0 ? -1 : 0;
	d = opendir("/usr/lib/postgresql");
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		uint64_t v;
		char probe[PG_PATH];
		if (strnum_parse(e->d_name, 1000, &v) < 0 || v <= best)
			continue;
		if (str_fmt(probe, sizeof(probe), "/usr/lib/postgresql/%s/bin/postgres", e->d_name) < 0 ||
		    access(probe, X_OK) < 0)
			continue;
		best = v;
	}
	closedir(d);
	if (best == 0)
		return -1;
	return str_fmt(out, size, "/usr/lib/postgresql/%llu/bin", (unsigned long long)best) < 0 ? -1 : 0;
}

int pg_embedded_bindir(const char *bindir, char *out, size_t size)
{
	return find_bindir(bindir, out, size);
}

static int mkdir_0700(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* fork + exec argv with stdout/stderr appended to logpath. Everything
 * between fork and exec is async-signal-safe. */
static pid_t spawn(const char *const *argv, const char *logpath, bool own_group)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
	int null = open("/dev/null", O_RDONLY);
	if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(127);
	/* no listening socket or client connection of posternd leaks */
	if (close_range(3, ~0U, 0) < 0)
		for (int i = 3; i < 1024; i++)
			close(i);
	if (own_group) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGINT);
		if (getppid() != parent)
			_exit(1);
	}
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

static int run_initdb(const char *bindir, const char *pgdata, const char *logpath,
		      const char **error_r)
{
	char tmp[PG_PATH], prog[PG_PATH];
	locale_t loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	const char *locale = loc != (locale_t)0 ? "--locale=C.UTF-8" : "--locale=C";
	struct stat sb;
	int status;
	pid_t pid;

	if (loc != (locale_t)0)
		freelocale(loc);
	if (str_fmt(tmp, sizeof(tmp), "%s.init", pgdata) < 0 ||
	    str_fmt(prog, sizeof(prog), "%s/initdb", bindir) < 0)
		return pg_fail(error_r, "embedded PostgreSQL: path too long");
	if (access(prog, X_OK) < 0)
		return pg_fail(error_r, "embedded PostgreSQL: %s is missing (install postgresql)", prog);
	if (lstat(tmp, &sb) == 0) {
		log_warn("db", "removing %s left by an interrupted initdb", tmp);
		if (nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
			return pg_fail(error_r, "cannot remove %s: %s", tmp, strerror(errno));
	}
	log_info("db", "creating the embedded PostgreSQL cluster in %s", pgdata);
	{
		const char *argv[] = { prog, "-D", tmp, "-U", PG_USER, "--auth=trust", "-E", "UTF8",
				       locale, NULL };
		pid = spawn(argv, logpath, false);
	}
	if (pid < 0)
		return pg_fail(error_r, "cannot start initdb: %s", strerror(errno));
	while (waitpid(pid, &status, 0) < 0) {
		if (errno == ECHILD) {
			/* SIGCHLD ignored: the child was reaped for us; judge by
			 * what initdb left behind */
			char probe[PG_PATH];
			status = str_fmt(probe, sizeof(probe), "%s/PG_VERSION", tmp) >= 0 &&
				 access(probe, F_OK) == 0 ? 0 : 1 << 8;
			break;
		}
		if (errno != EINTR)
			return pg_fail(error_r, "initdb: %s", strerror(errno));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return pg_fail(error_r, "initdb failed (exit %d); see %s",
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1, logpath);
	if (rename(tmp, pgdata) < 0)
		return pg_fail(error_r, "cannot rename %s: %s", tmp, strerror(errno));
	return 0;
}

/* A postgres still shutting down (posternd was killed, PDEATHSIG fired)
 * holds postmaster.pid: give it the start-up budget to go away. */
static void wait_old_postmaster(const char *pgdata)
{
	char path[PG_PATH], line[32];
	long long deadline = now_ms() + LIMIT_EMBEDDED_START_MS;
	uint64_t pid;
	FILE *f;

	if (str_fmt(path, sizeof(path), "%s/postmaster.pid", pgdata) < 0)
		return;
	f = fopen(path, "re");
	if (f == NULL)
		return;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return;
	}
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (strnum_parse(line, INT32_MAX, &pid) < 0 || pid == 0 || (pid_t)pid == getpid())
		return;
	while (kill((pid_t)pid, 0) == 0 && now_ms() < deadline) {
		log_info("db", "waiting for an old postgres (pid %llu) to exit",
			 (unsigned long long)pid);
		sleep_ms(500);
	}
}

static int create_database(const char *rundir, const char **error_r)
{
	char *ci = make_conninfo(rundir, "postgres");
	PGconn *pg = PQconnectdb(ci);
	PGresult *res;
	bool exists;
	int rc = 0;

	free(ci);
	if (PQstatus(pg) != CONNECTION_OK) {
		rc = pg_fail(error_r, "embedded PostgreSQL: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return rc;
	}
	/* constant bootstrap SQL on a connection of its own (not the db_stmts
	 * table: that belongs to the postern database) */
	res = PQexecParams(pg, "SELECT 1 FROM pg_database WHERE datname = 'postern'", 0, NULL, NULL,
			   NULL, NULL, 0);
	exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	PQclear(res);
	if (!exists) {
		res = PQexecParams(pg, "CREATE DATABASE postern", 0, NULL, NULL, NULL, NULL, 0);
		const char *ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (PQresultStatus(res) != PGRES_COMMAND_OK && (ss == NULL || strcmp(ss, "42P04") != 0))
			rc = pg_fail(error_r, "CREATE DATABASE postern: %s", PQresultErrorMessage(res));
		else
			log_info("db", "created database postern");
		PQclear(res);
	}
	PQfinish(pg);
	return rc;
}

int pg_embedded_start(const char *data_dir, const char *bindir, char **conninfo_r,
		      const char **error_r)
{
	char dir[PG_PATH], pgdata[PG_PATH], rundir[PG_PATH], logpath[PG_PATH], bin[PG_PATH];
	char prog[PG_PATH], version[PG_PATH];
	char *ping;
	long long deadline;

	*conninfo_r = NULL;
	if (pg_pid > 0)
		return pg_fail(error_r, "embedded PostgreSQL is already running");
	if (geteuid() == 0)
		return pg_fail(error_r, "the embedded PostgreSQL cannot run as root "
			       "(drop privileges first, or set POSTERN_DATABASE_URL)");
	if (abs_dir(data_dir, dir, sizeof(dir)) < 0 ||
	    str_fmt(pgdata, sizeof(pgdata), "%s/pgdata", dir) < 0 ||
	    str_fmt(rundir, sizeof(rundir), "%s/run", dir) < 0 ||
	    str_fmt(logpath, sizeof(logpath), "%s/postgres.log", dir) < 0 ||
	    str_fmt(version, sizeof(version), "%s/PG_VERSION", pgdata) < 0)
		return pg_fail(error_r, "the data directory path is too long");
	/* the socket "<run>/.s.PGSQL.5432" must fit sockaddr_un */
	if (strlen(rundir) + sizeof("/.s.PGSQL.5432") > sizeof(((struct sockaddr_un *)0)->sun_path))
		return pg_fail(error_r, "the data directory path %s is too long for a unix socket", dir);
	if (find_bindir(bindir, bin, sizeof(bin)) < 0)
		return pg_fail(error_r, "no PostgreSQL binaries found (install postgresql or set "
			       "POSTERN_PG_BINDIR)");
	if (mkdir_0700(dir) < 0 || mkdir_0700(rundir) < 0)
		return pg_fail(error_r, "cannot create %s: %s", rundir, strerror(errno));
	if (access(version, F_OK) < 0 && run_initdb(bin, pgdata, logpath, error_r) < 0)
		return -1;
	wait_old_postmaster(pgdata);
	if (str_fmt(prog, sizeof(prog), "%s/postgres", bin) < 0)
		return pg_fail(error_r, "path too long");
	{
		const char *argv[] = { prog, "-D", pgdata, "-k", rundir,
				       "-c", "listen_addresses=",
				       "-c", "unix_socket_permissions=0700",
				       NULL };
		pg_pid = spawn(argv, logpath, true);
	}
	if (pg_pid < 0) {
		pg_pid = 0;
		return pg_fail(error_r, "cannot start postgres: %s", strerror(errno));
	}
	log_info("db", "started embedded postgres (pid %d), log in %s", (int)pg_pid, logpath);
	ping = make_conninfo(rundir, "postgres");
	deadline = now_ms() + LIMIT_EMBEDDED_START_MS;
	for (;;) {
		int status;
		if (PQping(ping) == PQPING_OK)
			break;
		if (waitpid(pg_pid, &status, WNOHANG) == pg_pid) {
			pg_pid = 0;
			free(ping);
			return pg_fail(error_r, "postgres exited during start-up; see %s", logpath);
		}
		if (now_ms() > deadline) {
			free(ping);
			pg_embedded_stop();
			return pg_fail(error_r, "postgres did not accept connections within %d s; see %s",
				       LIMIT_EMBEDDED_START_MS / 1000, logpath);
		}
		sleep_ms(100);
	}
	free(ping);
	if (create_database(rundir, error_r) < 0) {
		pg_embedded_stop();
		return -1;
	}
	*conninfo_r = make_conninfo(rundir, PG_DBNAME);
	return 0;
}

/* Waits up to ms for the child; true when it is gone. */
static bool wait_child(long long ms)
{
	long long deadline = now_ms() + ms;

	for (;;) {
		int status;
		pid_t r = waitpid(pg_pid, &status, WNOHANG);
		if (r == pg_pid || (r < 0 && errno == ECHILD))
			return true;	/* ECHILD: reaped by posternd's SIGCHLD code */
		if (now_ms() > deadline)
			return false;
		sleep_ms(50);
	}
}

void pg_embedded_stop(void)
{
	if (pg_pid <= 0)
		return;
	kill(pg_pid, SIGINT);	/* fast shutdown: clean, no recovery next start */
	if (!wait_child(LIMIT_EMBEDDED_STOP_MS)) {
		log_warn("db", "postgres did not stop in time; SIGQUIT");
		kill(pg_pid, SIGQUIT);
		if (!wait_child(LIMIT_EMBEDDED_STOP_MS)) {
			kill(pg_pid, SIGKILL);
			(void)wait_child(LIMIT_EMBEDDED_STOP_MS);
		}
	}
	log_info("db", "embedded postgres stopped");
	pg_pid = 0;
}
