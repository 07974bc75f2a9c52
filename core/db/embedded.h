/* embedded.h - the embedded PostgreSQL cluster used when POSTERN_DATABASE_URL
 * is unset: initdb under <data_dir>/pgdata on first start (trust auth, unix
 * socket only in <data_dir>/run, listen_addresses=''), the postgres server
 * run as a child of posternd, database "postern" created once, and a clean
 * fast shutdown (SIGINT) on exit. Runs as the current (unprivileged) user:
 * initdb refuses root, so posternd drops privileges first. */
#ifndef POSTERN_DB_EMBEDDED_H
#define POSTERN_DB_EMBEDDED_H

#include <sys/types.h>

/* Starts the cluster and waits until it accepts connections (bounded).
 * bindir: directory holding initdb/postgres, NULL = newest
 * /usr/lib/postgresql/N/bin. Returns 0 with a malloc'd libpq conninfo in
 * *conninfo_r, or -1 with *error_r. */
int pg_embedded_start(const char *data_dir, const char *bindir, char **conninfo_r,
		      const char **error_r);
/* The postgres child's pid (0 when none), for SIGCHLD handling. */
pid_t pg_embedded_pid(void);
/* Fast shutdown, waits up to a few seconds, then SIGQUIT. Safe to call twice. */
void pg_embedded_stop(void);
/* The conninfo of the embedded cluster under data_dir (posternctl uses it
 * while posternd runs). malloc'd. */
char *pg_embedded_conninfo(const char *data_dir);
/* The directory of the PostgreSQL programs: bindir when set, else
 * POSTERN_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin. 0 or -1. */
int pg_embedded_bindir(const char *bindir, char *out, size_t size);

#endif
