/* config.c - the bootstrap settings read from the environment (DESIGN.md
 * section 5). Everything else lives in PostgreSQL. Values are checked here
 * so a typo stops posternd at start with a clear sentence: log format and
 * level, hostname syntax (<= 253 bytes), POSTERN_DB_WORKERS bounded by
 * LIMIT_DB_WORKERS_MAX. Paths are made absolute, since posternd later runs
 * as another user and the embedded PostgreSQL needs absolute paths. */
#include "config/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "config/limits.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"

static const struct config *config_current;

/* A whole number from the environment within [min, max]; def when unset. */
static int config_env_int(const char *name, int def, int min, int max, int *out, char *err,
			  size_t errsize)
{
	const char *v = getenv(name);
	uint64_t n;

	*out = def;
	if (v == NULL || v[0] == '\0')
		return 0;
	if (strnum_parse(v, (uint64_t)max, &n) < 0 || n < (uint64_t)min) {
		str_fmt(err, errsize, "%s must be a number from %d to %d", name, min, max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static char *config_env(const char *name, const char *def)
{
	const char *v = getenv(name);
	if (v == NULL || v[0] == '\0')
		return def ? xstrdup(def) : NULL;
	return xstrdup(v);
}

/* Joins base and rel ("a", "b" -> "a/b"); malloc'd, NULL when too long. */
static char *config_join(const char *base, const char *rel)
{
	char path[PATH_MAX];
	size_t bl = strlen(base);
	while (bl > 1 && base[bl - 1] == '/')
		bl--;
	if (str_fmt(path, sizeof(path), "%.*s/%s", (int)bl, base, rel) < 0)
		return NULL;
	return xstrdup(path);
}

/* Makes path absolute against the current directory; malloc'd or NULL. */
static char *config_absolute(const char *path)
{
	char cwd[PATH_MAX];
	char *r;

	if (path[0] == '/') {
		r = xstrdup(path);
	} else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return NULL;
		const char *rel = path;
		while (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		r = (strcmp(rel, ".") == 0 || rel[0] == '\0') ? xstrdup(cwd) : config_join(cwd, rel);
		if (r == NULL)
			return NULL;
	}
	size_t len = strlen(r);
	while (len > 1 && r[len - 1] == '/')
		r[--len] = '\0';
	return r;
}

static bool config_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The migrations directory when POSTERN_SQL_DIR is unset: next to the
 * binary (installed layout or build/posternd), then build/asan/posternd,
 * then the Debian path. */
static char *config_default_sql_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			static const char *const rel[] = { "../sql", "../../sql" };
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				char *p = config_join(exe[0] ? exe : "/", rel[i]);
				if (p != NULL && config_is_dir(p)) {
					char *real = realpath(p, NULL);
					if (real != NULL) {
						free(p);
						return real;
					}
					return p;
				}
				free(p);
			}
		}
	}
	return xstrdup("/usr/share/postern/sql");
}

static bool config_hostname_ok(const char *h)
{
	size_t len = strlen(h);
	if (len == 0 || len > LIMIT_DOMAIN - 2)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* A TCP port from the environment (1..65535), def when unset. */
static int config_port(const char *name, int def, int *port_r, const char **error_r)
{
	static char err[128];
	const char *v = getenv(name);
	uint64_t p;

	*port_r = def;
	if (v == NULL || v[0] == '\0')
		return 0;
	if (strnum_parse(v, 65535, &p) < 0 || p == 0) {
		str_fmt(err, sizeof(err), "%s must be a port number from 1 to 65535", name);
		*error_r = err;
		return -1;
	}
	*port_r = (int)p;
	return 0;
}

int config_load(struct config *cfg, const char **error_r)
{
	static char err[256];
	memset(cfg, 0, sizeof(*cfg));

	cfg->database_url = config_env("POSTERN_DATABASE_URL", NULL);
	char *dir = config_env("POSTERN_DATA_DIR", "var");
	cfg->data_dir = config_absolute(dir);
	free(dir);
	if (cfg->data_dir == NULL) {
		*error_r = "POSTERN_DATA_DIR: cannot make the path absolute";
		goto fail;
	}

	cfg->hostname = config_env("POSTERN_HOSTNAME", NULL);
	if (cfg->hostname == NULL) {
		char h[256];
		if (gethostname(h, sizeof(h)) < 0 || h[0] == '\0')
			str_lcpy(h, "localhost", sizeof(h));
		h[sizeof(h) - 1] = '\0';
		cfg->hostname = xstrdup(h);
	}
	if (!config_hostname_ok(cfg->hostname)) {
		char p[64];
		str_printable(p, sizeof(p), cfg->hostname, strlen(cfg->hostname));
		str_fmt(err, sizeof(err), "POSTERN_HOSTNAME \"%s\" is not a valid host name", p);
		*error_r = err;
		goto fail;
	}
	str_lower(cfg->hostname);

	cfg->listen_address = config_env("POSTERN_LISTEN_ADDRESS", "0.0.0.0");
	cfg->admin_listen = config_env("POSTERN_ADMIN_LISTEN", "127.0.0.1:8080");
	cfg->admin_password = config_env("POSTERN_ADMIN_PASSWORD", NULL);
	cfg->admin_tls_listen = config_env("POSTERN_ADMIN_TLS_LISTEN", "127.0.0.1:8443");
	cfg->metrics_token = config_env("POSTERN_METRICS_TOKEN", NULL);
	cfg->log_format = config_env("POSTERN_LOG_FORMAT", "text");
	if (!str_caseeq(cfg->log_format, "text") && !str_caseeq(cfg->log_format, "json")) {
		*error_r = "POSTERN_LOG_FORMAT must be text or json";
		goto fail;
	}
	cfg->log_level = config_env("POSTERN_LOG_LEVEL", "info");
	if (!str_caseeq(cfg->log_level, "debug") && !str_caseeq(cfg->log_level, "info") &&
	    !str_caseeq(cfg->log_level, "warn") && !str_caseeq(cfg->log_level, "warning") &&
	    !str_caseeq(cfg->log_level, "error")) {
		*error_r = "POSTERN_LOG_LEVEL must be debug, info, warn or error";
		goto fail;
	}
	cfg->user = config_env("POSTERN_USER", "postern");
	cfg->pg_bindir = config_env("POSTERN_PG_BINDIR", NULL);

	char *sql = config_env("POSTERN_SQL_DIR", NULL);
	if (sql != NULL) {
		cfg->sql_dir = config_absolute(sql);
		free(sql);
		if (cfg->sql_dir == NULL) {
			*error_r = "POSTERN_SQL_DIR: cannot make the path absolute";
			goto fail;
		}
	} else {
		cfg->sql_dir = config_default_sql_dir();
	}

	cfg->db_workers = LIMIT_DB_WORKERS;
	const char *w = getenv("POSTERN_DB_WORKERS");
	if (w != NULL && w[0] != '\0') {
		uint64_t v;
		if (strnum_parse(w, LIMIT_DB_WORKERS_MAX, &v) < 0 || v == 0) {
			str_fmt(err, sizeof(err), "POSTERN_DB_WORKERS must be a number from 1 to %d",
				LIMIT_DB_WORKERS_MAX);
			*error_r = err;
			goto fail;
		}
		cfg->db_workers = (int)v;
	}

	/* acme */
	cfg->acme_directory = config_env("POSTERN_ACME_DIRECTORY",
					 "https://acme-v02.api.letsencrypt.org/directory");
	cfg->acme_ca_file = config_env("POSTERN_ACME_CA_FILE", NULL);
	cfg->acme_email = config_env("POSTERN_ACME_EMAIL", NULL);
	if (config_port("POSTERN_ACME_HTTP_PORT", 80, &cfg->acme_http_port, error_r) < 0 ||
	    config_port("POSTERN_ACME_TLS_PORT", 443, &cfg->acme_tls_port, error_r) < 0)
		goto fail;
	cfg->dns_server = config_env("POSTERN_DNS_SERVER", NULL);
	cfg->dns_trust_anchor = config_env("POSTERN_DNS_TRUST_ANCHOR", NULL);
	cfg->tls_ca_file = config_env("POSTERN_TLS_CA_FILE", NULL);
	if (config_env_int("POSTERN_QUEUE_RUNNERS", LIMIT_QUEUE_RUNNERS, 0, LIMIT_QUEUE_RUNNERS_MAX,
			   &cfg->queue_runners, err, sizeof(err)) < 0 ||
	    config_env_int("POSTERN_SMTP_OUT_PORT", 25, 1, 65535, &cfg->smtp_out_port, err,
			   sizeof(err)) < 0 ||
	    config_env_int("POSTERN_QUEUE_RETRY", LIMIT_QUEUE_RETRY_S, 1, 86400, &cfg->queue_retry_s,
			   err, sizeof(err)) < 0 ||
	    config_env_int("POSTERN_QUEUE_LIFETIME", LIMIT_QUEUE_LIFETIME_S, 1, 60 * 86400,
			   &cfg->queue_lifetime_s, err, sizeof(err)) < 0 ||
	    config_env_int("POSTERN_QUEUE_DELAY_NOTICE", LIMIT_QUEUE_DELAY_NOTICE_S, 1, 60 * 86400,
			   &cfg->queue_delay_notice_s, err, sizeof(err)) < 0 ||
	    config_env_int("POSTERN_MTA_STS_PORT", 443, 1, 65535, &cfg->mta_sts_port, err,
			   sizeof(err)) < 0) {
		*error_r = err;
		goto fail;
	}
	return 0;
fail:
	config_free(cfg);
	return -1;
}

void config_free(struct config *cfg)
{
	xfree(cfg->database_url);
	xfree(cfg->data_dir);
	xfree(cfg->dns_server);
	xfree(cfg->dns_trust_anchor);
	xfree(cfg->tls_ca_file);
	xfree(cfg->hostname);
	xfree(cfg->listen_address);
	xfree(cfg->admin_listen);
	xfree(cfg->admin_tls_listen);
	if (cfg->metrics_token != NULL)
		sodium_memzero(cfg->metrics_token, strlen(cfg->metrics_token));
	xfree(cfg->metrics_token);
	if (cfg->admin_password != NULL) {
		explicit_bzero(cfg->admin_password, strlen(cfg->admin_password));
		xfree(cfg->admin_password);
	}
	xfree(cfg->log_format);
	xfree(cfg->log_level);
	xfree(cfg->user);
	xfree(cfg->pg_bindir);
	xfree(cfg->sql_dir);
	xfree(cfg->acme_directory);
	xfree(cfg->acme_ca_file);
	xfree(cfg->acme_email);
}

void config_set(const struct config *cfg)
{
	config_current = cfg;
}

const struct config *config_get(void)
{
	return config_current;
}
