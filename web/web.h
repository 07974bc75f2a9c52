/* web.h - private to web/: the request and reply of one API call, the
 * route table (router.c), the session and login throttle (session.c), the
 * API handlers (api.c) and the server's helpers (server.c). Handlers run in
 * a libmicrohttpd connection thread and may block (libpq, argon2id). */
#ifndef POSTERN_WEB_WEB_H
#define POSTERN_WEB_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "config/limits.h"
#include "db/admin.h"
#include "db/db.h"

#define WEB_COOKIE_NAME "postern_session"
#define WEB_TOKEN_BYTES 32		/* 256-bit session token */
#define WEB_TOKEN_TEXT 44		/* its base64url text, no padding, + NUL */
#define WEB_CSRF_TEXT 44

struct MHD_Connection;

struct web_req {
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	const char *param;	/* the path segment after a WEB_PARAM route, else NULL */
	json_t *body;		/* the JSON object of POST/PATCH (empty object when no body) */
	const unsigned char *raw_body;	/* WEB_RAW_BODY routes: the body, at most LIMIT_WEB_BODY */
	size_t raw_len;
	struct db *db;
	char ip[64];		/* client address as text */
	bool https;		/* arrived on the HTTPS daemon */
	/* the session, once web_session_check() accepted it */
	int64_t admin_id;
	char admin[LIMIT_WEB_USERNAME + 1];
	char csrf[WEB_CSRF_TEXT];
};

struct web_reply {
	unsigned status;
	json_t *json;		/* owned; NULL = {} */
	char cookie[192];	/* Set-Cookie value, "" = none */
	unsigned retry_after;	/* seconds, 0 = no header */
	char *raw;		/* owned; when set, sent instead of json with raw_type */
	size_t raw_len;
	const char *raw_type;
	char attachment[96];	/* Content-Disposition filename, "" = none */
};

typedef void web_handler_fn(struct web_req *req, struct web_reply *rep);

enum {
	WEB_AUTH = 1 << 0,	/* needs a session (else 401); state-changing methods need CSRF (else 403) */
	WEB_HASH = 1 << 1,	/* runs argon2id: waits for one of LIMIT_WEB_HASHERS slots */
	WEB_PARAM = 1 << 2,	/* path is a prefix ending in '/', followed by one segment;
				 * or "prefix/{id}/suffix": the segment, then suffix */
	WEB_RAW_BODY = 1 << 3,	/* the body is not JSON: handed over as bytes (raw_body) */
};

struct web_route {
	const char *method;
	const char *path;
	unsigned flags;
	web_handler_fn *fn;
};

/* router.c: finds the route of method + path. NULL when none; then
 * *path_known_r tells 405 (the path exists with another method) from 404.
 * *param_r points into path for WEB_PARAM routes. Pure. */
const struct web_route *web_route_find(const char *method, const char *path,
				       const char **param_r, bool *path_known_r);

/* server.c: replies. The error sentence is shown to a person next to
 * field (may be NULL). */
void web_reply_json(struct web_reply *rep, unsigned status, json_t *json);
void web_reply_error(struct web_reply *rep, unsigned status, const char *field,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A query-string argument of the request, NULL when absent. */
const char *web_req_arg(struct web_req *req, const char *name);
/* A non-JSON reply (XML, plist, Prometheus text): data is malloc'd and
 * taken over; type is a static string. */
void web_reply_raw(struct web_reply *rep, unsigned status, const char *type, char *data,
		   size_t len);
/* The panel's database pool: connections in use, and its size. */
void web_pool_use(int *busy_r, int *size_r);
/* A request header, NULL when absent. */
const char *web_req_header(struct web_req *req, const char *name);

/* session.c */
/* Loads the session of the request's cookie into req (sliding its idle
 * expiry) and, for state-changing methods, checks X-CSRF-Token. 0, or -1
 * with rep set to 401 / 403 / 503. */
int web_session_check(struct web_req *req, struct web_reply *rep);
/* Creates the first admin when the admins table is empty. 0 or -1. */
int web_session_first_admin(struct db *db, const char *url);
void web_session_init(void);
web_handler_fn web_api_login, web_api_logout, web_api_me;

/* Login failure counters (per user name, per client address), bounded to
 * LIMIT_WEB_THROTTLE_ENTRIES with the oldest replaced; thread-safe. */
/* True when key has max failures or more in the current window;
 * *retry_r = seconds until the window ends. */
bool web_throttle_blocked(const char *key, unsigned max, time_t now, unsigned *retry_r);
void web_throttle_fail(const char *key, time_t now);
void web_throttle_reset(const char *key);
void web_throttle_clear(void);

/* api.c: helpers shared by the handler files */
/* A JSON string of database or client text; escaped when not UTF-8. */
json_t *web_jstr(const char *s);
/* Maps an admin.c result to the reply: ok_status with ok (consumed) on
 * success, else the sentence next to field (409 for "already exists"). */
void web_admin_reply(struct web_reply *rep, enum admin_status as, const struct admin_err *err,
		     const char *field, unsigned ok_status, json_t *ok);
/* Body fields: 1 present (into *out_r), 0 absent, -1 with rep set (400
 * naming the field). */
int web_body_str(struct web_req *req, struct web_reply *rep, const char *key, bool required,
		 size_t max, const char **out_r);
int web_body_int(struct web_req *req, struct web_reply *rep, const char *key, json_int_t min,
		 json_int_t max, json_int_t *out_r);
int web_body_bool(struct web_req *req, struct web_reply *rep, const char *key, bool *out_r);
/* 503 "the database is unavailable". */
void web_db_down(struct web_reply *rep);

/* api.c */
web_handler_fn web_api_dashboard, web_api_domains_get, web_api_domains_post,
	web_api_domains_delete, web_api_accounts_get, web_api_accounts_post,
	web_api_accounts_patch, web_api_accounts_delete, web_api_aliases_get,
	web_api_aliases_post, web_api_aliases_delete, web_api_listeners_get,
	web_api_listeners_patch, web_api_queue_get, web_api_audit_get;
/* alerts and held queue rows (api_alerts.c) */
web_handler_fn web_api_alerts_get, web_api_alerts_ack, web_api_queue_release;
/* acme (api_acme.c) */
web_handler_fn web_api_acme_get, web_api_acme_post;

/* setup.c: client settings from the listeners table */
#define WEB_SETUP_MAX 32
struct web_setup_entry {
	char protocol[8];	/* imap, pop3, smtp (submission only) */
	char listener[65];
	int port;
	bool implicit;		/* else STARTTLS */
};
struct web_setup {
	char hostname[256];	/* POSTERN_HOSTNAME: the server name clients use */
	struct web_setup_entry entries[WEB_SETUP_MAX];	/* by protocol, implicit TLS first, then port */
	size_t n;
};
/* Enabled TLS listeners for clients (the MX listener "smtp" left out). */
enum admin_status web_setup_load(struct db *db, struct web_setup *s, struct admin_err *err);
/* The preferred entry of protocol, NULL when none. */
const struct web_setup_entry *web_setup_best(const struct web_setup *s, const char *protocol);
web_handler_fn web_api_setup_get, web_autoconfig, web_autodiscover, web_mobileconfig;

/* totp.c: the admins' optional second factor */
/* At login, after the password matched: 0 when the admin has no TOTP or
 * the body's "totp" code is right (and now used); else -1 with rep set
 * (401 field "totp", "totp_required": true) and *failed_r true when a
 * code was given and wrong. */
int web_totp_login(struct web_req *req, struct web_reply *rep, const char *idtext,
		   bool *failed_r);
web_handler_fn web_api_totp_get, web_api_totp_enroll, web_api_totp_confirm,
	web_api_totp_disable;

/* metrics.c: Prometheus text; a session or the bearer token */
web_handler_fn web_metrics;

/* dns.c: the records to publish; the MTA-STS policy file */
web_handler_fn web_api_dns_get, web_mta_sts;

/* dns_check.c: adds "check" (ok, different, missing, unknown) and, when
 * different, "found" to each record of the array that can be looked up;
 * blocks at most LIMIT_DNS_CHECK_MS (never call it on the loop thread). */
void web_dns_check(json_t *records);
/* Waits for lookups a check left running (LIMIT_DNS_TIMEOUT_MS at most). */
void web_dns_check_drain(void);

/* api_cert.c */
/* The JSON object of one certificate (names, expiry, days_left at now). */
json_t *web_cert_json(const struct admin_cert *c, time_t now);
web_handler_fn web_api_certs_get, web_api_certs_post, web_api_certs_generate,
	web_api_certs_patch, web_api_certs_delete;

#endif
