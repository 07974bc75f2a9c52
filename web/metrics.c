/* metrics.c - GET /metrics in the Prometheus text exposition format
 * (version 0.0.4): listener state and open connections (from the core's
 * listener snapshot, same process), messages accepted and delivered, mail
 * login failures (lib/stats.h), queue length, domains, accounts, messages
 * and storage (one SQL statement), DB use (mail jobs in flight, the
 * panel's pool) and certificate expiry. Allowed with an admin session
 * cookie or "Authorization: Bearer <POSTERN_METRICS_TOKEN>" (compared in
 * constant time); otherwise 401. Label values are escaped (\\, \", \n). */
#include "web/web.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <sodium.h>

#include "config/config.h"
#include "lib/buf.h"
#include "lib/stats.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "net/listener.h"
#include "work/work.h"

#define WEB_METRICS_MAX (256 * 1024)

/* Appends a label value with the exposition format's escapes. */
static void web_prom_label(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			(void)buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			(void)buf_append_str(b, "\\n");
		else
			(void)buf_append(b, s, 1);
	}
}

static void web_prom_head(struct buf *b, const char *name, const char *type, const char *help)
{
	(void)buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* True for the configured bearer token (constant time). */
static bool web_metrics_token_ok(struct web_req *req)
{
	const struct config *cfg = config_get();
	const char *h = web_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	size_t n;

	if (cfg == NULL || cfg->metrics_token == NULL || h == NULL ||
	    !str_casestarts(h, strlen(h), "Bearer "))
		return false;
	h += 7;
	n = strlen(cfg->metrics_token);
	return strlen(h) == n && sodium_memcmp(h, cfg->metrics_token, n) == 0;
}

static void web_metrics_listeners(struct buf *b)
{
	struct listener_status st[64];
	size_t n = listener_snapshot(st, 64);

	web_prom_head(b, "postern_listener_up", "gauge",
		      "1 when the listener's socket is bound and accepting.");
	for (size_t i = 0; i < n; i++) {
		(void)buf_append_str(b, "postern_listener_up{listener=\"");
		web_prom_label(b, st[i].spec.name);
		(void)buf_printf(b, "\",protocol=\"%s\",port=\"%d\"} %d\n", st[i].spec.protocol,
				 st[i].spec.port, st[i].up ? 1 : 0);
	}
	web_prom_head(b, "postern_listener_connections", "gauge",
		      "Open client connections per listener.");
	for (size_t i = 0; i < n; i++) {
		(void)buf_append_str(b, "postern_listener_connections{listener=\"");
		web_prom_label(b, st[i].spec.name);
		(void)buf_printf(b, "\"} %zu\n", st[i].connections);
	}
}

static void web_metrics_cert(void *arg, const struct admin_cert *c)
{
	struct buf *b = arg;

	(void)buf_printf(b, "postern_certificate_not_after_seconds{id=\"%lld\",name=\"",
			 (long long)c->id);
	web_prom_label(b, c->info->n_names > 0 ? c->info->names[0] : "");
	(void)buf_printf(b, "\"} %lld\n", c->info->not_after);
}

void web_metrics(struct web_req *req, struct web_reply *rep)
{
	static const struct {
		const char *name, *help;
	} db_gauges[] = {
		{ "postern_domains", "Hosted domains." },
		{ "postern_accounts", "Mail accounts." },
		{ "postern_aliases", "Aliases and catch-alls." },
		{ "postern_messages", "Messages stored in mailboxes." },
		{ "postern_storage_used_bytes", "Mailbox storage charged to accounts." },
		{ "postern_queue_messages", "Outbound messages waiting for delivery." },
	};
	const struct config *cfg = config_get();
	struct admin_err err;
	enum db_status st;
	PGresult *res;
	struct buf b;
	char *data;
	int busy, size;

	if (!web_metrics_token_ok(req) && web_session_check(req, rep) < 0)
		return;
	buf_init(&b, WEB_METRICS_MAX);
	web_metrics_listeners(&b);
	web_prom_head(&b, "postern_messages_accepted_total", "counter",
		      "Messages accepted over SMTP (250 after a durable commit).");
	(void)buf_printf(&b, "postern_messages_accepted_total %llu\n",
			 (unsigned long long)stats_get(STATS_MESSAGES_ACCEPTED));
	web_prom_head(&b, "postern_messages_delivered_total", "counter",
		      "Mailbox copies stored by accepted messages (local recipients).");
	(void)buf_printf(&b, "postern_messages_delivered_total %llu\n",
			 (unsigned long long)stats_get(STATS_MESSAGES_DELIVERED));
	web_prom_head(&b, "postern_auth_failures_total", "counter",
		      "Failed mail logins (SMTP AUTH, POP3, IMAP).");
	(void)buf_printf(&b, "postern_auth_failures_total %llu\n",
			 (unsigned long long)stats_get(STATS_AUTH_FAILURES));

	res = db_exec(req->db, STMT_WEB_DASHBOARD, 0, NULL, NULL, NULL, &st);
	for (int i = 0; st == DB_OK && PQntuples(res) == 1 &&
			i < (int)(sizeof(db_gauges) / sizeof(db_gauges[0])) && i < PQnfields(res);
	     i++) {
		uint64_t v = 0;
		(void)strnum_parse(PQgetvalue(res, 0, i), UINT64_MAX, &v);
		web_prom_head(&b, db_gauges[i].name, "gauge", db_gauges[i].help);
		(void)buf_printf(&b, "%s %llu\n", db_gauges[i].name, (unsigned long long)v);
	}
	PQclear(res);
	web_prom_head(&b, "postern_database_up", "gauge", "1 when the panel could query PostgreSQL.");
	(void)buf_printf(&b, "postern_database_up %d\n", st == DB_OK ? 1 : 0);

	web_prom_head(&b, "postern_db_jobs_in_flight", "gauge",
		      "Mail database and auth jobs queued or running.");
	(void)buf_printf(&b, "postern_db_jobs_in_flight %u\n", work_pending());
	web_prom_head(&b, "postern_db_workers", "gauge", "Mail database worker connections.");
	(void)buf_printf(&b, "postern_db_workers %d\n", cfg != NULL ? cfg->db_workers : 0);
	web_pool_use(&busy, &size);
	web_prom_head(&b, "postern_web_db_pool_busy", "gauge",
		      "Panel database connections in use (this request's included).");
	(void)buf_printf(&b, "postern_web_db_pool_busy %d\n", busy);
	web_prom_head(&b, "postern_web_db_pool_size", "gauge", "Panel database connections.");
	(void)buf_printf(&b, "postern_web_db_pool_size %d\n", size);

	web_prom_head(&b, "postern_certificate_not_after_seconds", "gauge",
		      "Expiry of each TLS certificate (unix time).");
	(void)admin_cert_list(req->db, web_metrics_cert, &b, &err);

	data = malloc(buf_len(&b) + 1);
	if (data == NULL)
		abort();
	memcpy(data, buf_data(&b), buf_len(&b));
	data[buf_len(&b)] = '\0';
	web_reply_raw(rep, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", data,
		      buf_len(&b));
	buf_free(&b);
}
