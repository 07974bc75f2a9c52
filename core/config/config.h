/* config.h - bootstrap settings from the environment (DESIGN.md section 5).
 * Everything else lives in PostgreSQL. */
#ifndef POSTERN_CONFIG_CONFIG_H
#define POSTERN_CONFIG_CONFIG_H

#include <stdbool.h>

struct config {
	char *database_url;	/* POSTERN_DATABASE_URL, NULL = embedded cluster */
	char *data_dir;		/* POSTERN_DATA_DIR, absolute, default ./var */
	char *hostname;		/* POSTERN_HOSTNAME, default gethostname() */
	char *listen_address;	/* POSTERN_LISTEN_ADDRESS, mail listeners, default 0.0.0.0 */
	char *admin_listen;	/* POSTERN_ADMIN_LISTEN, default 127.0.0.1:8080 */
	char *admin_password;	/* POSTERN_ADMIN_PASSWORD */
	char *log_format;	/* POSTERN_LOG_FORMAT text|json */
	char *log_level;	/* POSTERN_LOG_LEVEL */
	char *user;		/* POSTERN_USER, unprivileged user when started as root, default postern */
	char *pg_bindir;	/* POSTERN_PG_BINDIR, default newest /usr/lib/postgresql/N/bin */
	char *sql_dir;		/* POSTERN_SQL_DIR, migrations; default <exe dir>/../sql, then /usr/share/postern/sql */
	int db_workers;		/* POSTERN_DB_WORKERS */
	char *metrics_token;	/* POSTERN_METRICS_TOKEN: bearer token for /metrics, NULL = session only */
	char *admin_tls_listen;	/* POSTERN_ADMIN_TLS_LISTEN, default 127.0.0.1:8443, "off" = none */
	/* acme */
	char *acme_directory;	/* POSTERN_ACME_DIRECTORY, default Let's Encrypt production */
	char *acme_ca_file;	/* POSTERN_ACME_CA_FILE, extra CA bundle for the directory's HTTPS, or NULL */
	char *acme_email;	/* POSTERN_ACME_EMAIL, account contact, or NULL */
	int acme_http_port;	/* POSTERN_ACME_HTTP_PORT, HTTP-01 responder, default 80 */
	int acme_tls_port;	/* POSTERN_ACME_TLS_PORT, TLS-ALPN-01 responder, default 443 */
	char *dns_server;	/* POSTERN_DNS_SERVER "ip[@port]", NULL = /etc/resolv.conf */
	char *dns_trust_anchor;	/* POSTERN_DNS_TRUST_ANCHOR, DNSSEC anchor file; NULL = the
				 * root key of dns-root-data when present */
	/* outbound (core/queue/) */
	int queue_runners;	/* POSTERN_QUEUE_RUNNERS, runner threads, 0 = no delivery */
	int smtp_out_port;	/* POSTERN_SMTP_OUT_PORT, remote MX port, default 25 (tests) */
	int queue_retry_s;	/* POSTERN_QUEUE_RETRY, first retry delay in seconds */
	int queue_lifetime_s;	/* POSTERN_QUEUE_LIFETIME, seconds until a message bounces */
	int queue_delay_notice_s;	/* POSTERN_QUEUE_DELAY_NOTICE, seconds until the delay DSN */
	int mta_sts_port;	/* POSTERN_MTA_STS_PORT, HTTPS port of policy hosts, default 443 (tests) */
	char *tls_ca_file;	/* POSTERN_TLS_CA_FILE, CAs for MTA-STS (policy host and MX
				 * certificates), NULL = the system's */
};

/* Fills cfg from the environment; returns 0 or -1 with *error_r set. */
int config_load(struct config *cfg, const char **error_r);
void config_free(struct config *cfg);
/* The process-wide settings (set once by main before anything runs). */
void config_set(const struct config *cfg);
const struct config *config_get(void);

#endif
