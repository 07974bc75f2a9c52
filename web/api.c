/* api.c - the JSON API handlers under /api/v1 (docs/API.md): dashboard,
 * domains, accounts (paged search), aliases, listeners, queue, audit log.
 * Every change goes through core/db/admin.c (validation, one transaction,
 * an audit_log row naming the panel user); fields are checked here first
 * so an error names the field it is about: {"error": "...", "field": "..."}.
 * 400 bad input, 404 unknown target, 409 duplicate, 503 database down.
 * Lists are bounded: LIMIT_WEB_PAGE_MAX rows a page, LIMIT_WEB_LIST_MAX
 * for the unpaged ones (then "truncated": true). */
#include "web/web.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "auth/failures.h"
#include "auth/password.h"
#include "db/admin.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "net/listener.h"

/* ---------- helpers ---------- */

/* A JSON string of database or client text; escaped when not UTF-8. */
json_t *web_jstr(const char *s)
{
	char safe[LIMIT_ADDRESS * 4 + 8];
	json_t *j = json_string(s);

	if (j == NULL)
		j = json_string(str_printable(safe, sizeof(safe), s, strlen(s)));
	return j != NULL ? j : json_string("");
}

static json_t *web_jnum(const char *s)
{
	uint64_t v = 0;

	(void)strnum_parse(s, INT64_MAX, &v);
	return json_integer((json_int_t)v);
}

/* Maps an admin.c result to the reply: ok_status with ok (consumed) on
 * success, else the sentence next to field. */
void web_admin_reply(struct web_reply *rep, enum admin_status as,
			    const struct admin_err *err, const char *field, unsigned ok_status,
			    json_t *ok)
{
	unsigned status = MHD_HTTP_BAD_REQUEST;

	if (as == ADMIN_OK) {
		web_reply_json(rep, ok_status, ok != NULL ? ok : json_object());
		return;
	}
	json_decref(ok);
	if (as == ADMIN_UNAVAILABLE)
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else if (strstr(err->msg, "already exists") != NULL)
		status = MHD_HTTP_CONFLICT;
	web_reply_error(rep, status, field, "%s", err->msg);
}

/* A string field of the body: 1 present (into *out_r), 0 absent (and not
 * required), -1 with rep set. */
int web_body_str(struct web_req *req, struct web_reply *rep, const char *key,
			bool required, size_t max, const char **out_r)
{
	json_t *j = json_object_get(req->body, key);

	*out_r = NULL;
	if (j == NULL || json_is_null(j)) {
		if (!required)
			return 0;
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, key, "%s is required", key);
		return -1;
	}
	if (!json_is_string(j)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, key, "%s must be a string", key);
		return -1;
	}
	if (strlen(json_string_value(j)) != json_string_length(j)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, key, "%s contains a NUL character", key);
		return -1;
	}
	if (json_string_length(j) > max) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, key, "%s is longer than %zu characters",
				key, max);
		return -1;
	}
	*out_r = json_string_value(j);
	return 1;
}

/* A non-negative integer field: 1 present, 0 absent, -1 with rep set. */
int web_body_int(struct web_req *req, struct web_reply *rep, const char *key,
			json_int_t min, json_int_t max, json_int_t *out_r)
{
	json_t *j = json_object_get(req->body, key);

	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_integer(j)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, key, "%s must be a whole number", key);
		return -1;
	}
	*out_r = json_integer_value(j);
	if (*out_r < min || *out_r > max) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, key, "%s must be between %lld and %lld",
				key, (long long)min, (long long)max);
		return -1;
	}
	return 1;
}

/* A boolean field: 1 present, 0 absent, -1 with rep set. */
int web_body_bool(struct web_req *req, struct web_reply *rep, const char *key, bool *out_r)
{
	json_t *j = json_object_get(req->body, key);

	if (j == NULL || json_is_null(j))
		return 0;
	if (!json_is_boolean(j)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, key, "%s must be true or false", key);
		return -1;
	}
	*out_r = json_is_true(j);
	return 1;
}

/* A numeric query argument: 0 (def when absent), or -1 with rep set. */
static int web_arg_u64(struct web_req *req, struct web_reply *rep, const char *name,
		       uint64_t def, uint64_t min, uint64_t max, uint64_t *out_r)
{
	const char *s = web_req_arg(req, name);

	*out_r = def;
	if (s == NULL || *s == '\0')
		return 0;
	if (strnum_parse(s, max, out_r) < 0 || *out_r < min) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, name, "%s must be a number from %llu to %llu",
				name, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	return 0;
}

/* An optional ?domain= filter, checked: 0 (NULL when absent) or -1. */
static int web_arg_domain(struct web_req *req, struct web_reply *rep, char *buf, size_t size,
			  const char **out_r)
{
	const char *d = web_req_arg(req, "domain");
	struct admin_err err;

	*out_r = NULL;
	if (d == NULL || *d == '\0')
		return 0;
	if (!admin_domain_check(d, buf, size, &err)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "domain", "%s", err.msg);
		return -1;
	}
	*out_r = buf;
	return 0;
}

void web_db_down(struct web_reply *rep)
{
	web_reply_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
			"the database is unavailable; try again shortly");
}

/* ---------- dashboard ---------- */

static void web_listener_add(void *arg, const struct admin_listener *l)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", web_jstr(l->name));
	json_object_set_new(o, "protocol", web_jstr(l->protocol));
	json_object_set_new(o, "port", json_integer(l->port));
	json_object_set_new(o, "tls", web_jstr(l->tls));
	json_object_set_new(o, "enabled", json_boolean(l->enabled));
	json_array_append_new(arg, o);
}

/* Adds each configured listener's live state from the core (same
 * process): "state" up / off / error, "error", "connections", and
 * "live_port" (the port actually bound, which differs while a new port
 * could not be bound). */
static void web_dashboard_live(json_t *listeners)
{
	struct listener_status st[64];
	size_t n = listener_snapshot(st, 64), i;
	json_t *l;

	json_array_foreach(listeners, i, l) {
		const char *name = json_string_value(json_object_get(l, "name"));
		const struct listener_status *s = NULL;
		for (size_t k = 0; k < n && name != NULL; k++)
			if (strcmp(st[k].spec.name, name) == 0)
				s = &st[k];
		if (s == NULL) {
			json_object_set_new(l, "state", json_string("unknown"));
			json_object_set_new(l, "error", json_string("not loaded by the mail core yet"));
			json_object_set_new(l, "connections", json_integer(0));
			continue;
		}
		json_object_set_new(l, "state", json_string(s->up ? "up" : !s->spec.enabled ? "off"
							      : "error"));
		json_object_set_new(l, "error", web_jstr(s->up || s->spec.enabled ? s->error : ""));
		json_object_set_new(l, "connections", json_integer((json_int_t)s->connections));
		json_object_set_new(l, "live_port", json_integer(s->spec.port));
	}
}

static void web_dashboard_cert(void *arg, const struct admin_cert *c)
{
	time_t now = time(NULL);

	if (c->info->not_after - (long long)now < (long long)LIMIT_CERT_WARN_DAYS * 86400)
		json_array_append_new(arg, web_cert_json(c, now));
}

/* Certificates expiring within LIMIT_CERT_WARN_DAYS (or expired). */
static json_t *web_dashboard_certs(struct web_req *req)
{
	struct admin_err err;
	json_t *list = json_array();

	(void)admin_cert_list(req->db, web_dashboard_cert, list, &err);
	return list;
}

static json_t *web_dashboard_failures(void)
{
	struct auth_failure f[AUTH_FAILURES_KEEP];
	size_t n = auth_failure_recent(f, AUTH_FAILURES_KEEP);
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++) {
		char at[32];
		struct tm tm;
		if (gmtime_r(&f[i].at, &tm) == NULL ||
		    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			str_lcpy(at, "?", sizeof(at));
		json_array_append_new(list, json_pack("{s:s,s:o,s:s,s:s}", "at", at, "user",
						      web_jstr(f[i].user), "peer", f[i].peer,
						      "listener", f[i].listener));
	}
	return list;
}

void web_api_dashboard(struct web_req *req, struct web_reply *rep)
{
	static const char *const names[] = { "domains", "accounts", "aliases", "messages",
					     "storage_bytes", "queue", "sessions" };
	struct admin_err err;
	enum db_status st;
	PGresult *res = db_exec(req->db, STMT_WEB_DASHBOARD, 0, NULL, NULL, NULL, &st);
	json_t *o, *counts, *listeners;

	if (st != DB_OK || PQntuples(res) != 1) {
		PQclear(res);
		web_db_down(rep);
		return;
	}
	counts = json_object();
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])) && i < PQnfields(res); i++)
		json_object_set_new(counts, names[i], web_jnum(PQgetvalue(res, 0, i)));
	PQclear(res);
	listeners = json_array();
	if (admin_listener_list(req->db, web_listener_add, listeners, &err) != ADMIN_OK) {
		json_decref(counts);
		json_decref(listeners);
		web_reply_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "%s", err.msg);
		return;
	}
	web_dashboard_live(listeners);
	o = json_object();
	json_object_set_new(o, "counts", counts);
	json_object_set_new(o, "listeners", listeners);
	json_object_set_new(o, "cert_warnings", web_dashboard_certs(req));
	json_object_set_new(o, "auth_failures", web_dashboard_failures());
	web_reply_json(rep, MHD_HTTP_OK, o);
}

/* ---------- domains ---------- */

static void web_domain_add(void *arg, const struct admin_domain *d)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", web_jstr(d->name));
	json_object_set_new(o, "active", json_boolean(d->active));
	json_array_append_new(arg, o);
}

void web_api_domains_get(struct web_req *req, struct web_reply *rep)
{
	struct admin_err err;
	json_t *list = json_array();
	enum admin_status as = admin_domain_list(req->db, web_domain_add, list, &err);

	web_admin_reply(rep, as, &err, NULL, MHD_HTTP_OK, json_pack("{s:o}", "domains", list));
}

void web_api_domains_post(struct web_req *req, struct web_reply *rep)
{
	char norm[LIMIT_DOMAIN + 1];
	struct admin_err err;
	const char *name;
	enum admin_status as;

	if (web_body_str(req, rep, "name", true, LIMIT_DOMAIN + 64, &name) < 0)
		return;
	if (!admin_domain_check(name, norm, sizeof(norm), &err)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "name", "%s", err.msg);
		return;
	}
	as = admin_domain_add(req->db, req->admin, norm, &err);
	web_admin_reply(rep, as, &err, "name", MHD_HTTP_CREATED,
			json_pack("{s:s}", "name", norm));
}

void web_api_domains_delete(struct web_req *req, struct web_reply *rep)
{
	struct admin_err err;
	enum admin_status as = admin_domain_del(req->db, req->admin, req->param, &err);

	if (as == ADMIN_FAIL && strstr(err.msg, "does not exist") != NULL) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "name", "%s", err.msg);
		return;
	}
	web_admin_reply(rep, as, &err, "name", MHD_HTTP_OK, NULL);
}

/* ---------- accounts ---------- */

void web_api_accounts_get(struct web_req *req, struct web_reply *rep)
{
	char dom[LIMIT_DOMAIN + 1], off[24], lim[24];
	const char *domain, *q = web_req_arg(req, "q");
	uint64_t offset, limit;
	enum db_status st;
	PGresult *res;
	json_t *list, *o;
	json_t *total;

	if (web_arg_domain(req, rep, dom, sizeof(dom), &domain) < 0 ||
	    web_arg_u64(req, rep, "offset", 0, 0, 1000000000, &offset) < 0 ||
	    web_arg_u64(req, rep, "limit", 50, 1, LIMIT_WEB_PAGE_MAX, &limit) < 0)
		return;
	if (q != NULL && *q == '\0')
		q = NULL;
	if (q != NULL && strlen(q) > LIMIT_ADDRESS) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "q", "the search text is longer than %d "
				"characters", LIMIT_ADDRESS);
		return;
	}
	(void)str_fmt(off, sizeof(off), "%llu", (unsigned long long)offset);
	(void)str_fmt(lim, sizeof(lim), "%llu", (unsigned long long)limit);
	{
		const char *params[2] = { domain, q };
		res = db_exec(req->db, STMT_WEB_ACCOUNT_COUNT, 2, params, NULL, NULL, &st);
	}
	if (st != DB_OK || PQntuples(res) != 1) {
		PQclear(res);
		web_db_down(rep);
		return;
	}
	total = web_jnum(PQgetvalue(res, 0, 0));
	PQclear(res);
	{
		const char *params[4] = { domain, q, off, lim };
		res = db_exec(req->db, STMT_WEB_ACCOUNT_PAGE, 4, params, NULL, NULL, &st);
	}
	if (st != DB_OK) {
		PQclear(res);
		json_decref(total);
		web_db_down(rep);
		return;
	}
	list = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *a = json_object();
		json_object_set_new(a, "address", web_jstr(PQgetvalue(res, i, 0)));
		json_object_set_new(a, "used_bytes", web_jnum(PQgetvalue(res, i, 1)));
		json_object_set_new(a, "quota_bytes", web_jnum(PQgetvalue(res, i, 2)));
		json_object_set_new(a, "active", json_boolean(PQgetvalue(res, i, 3)[0] == 't'));
		json_array_append_new(list, a);
	}
	PQclear(res);
	o = json_object();
	json_object_set_new(o, "total", total);
	json_object_set_new(o, "offset", json_integer((json_int_t)offset));
	json_object_set_new(o, "limit", json_integer((json_int_t)limit));
	json_object_set_new(o, "accounts", list);
	web_reply_json(rep, MHD_HTTP_OK, o);
}

/* Checks an address field: 0 or -1 with rep set. */
static int web_check_address(struct web_reply *rep, const char *field, const char *address,
			     bool allow_catchall)
{
	char local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1];
	struct admin_err err;

	if (!admin_address_check(address, allow_catchall, local, domain, &err)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, field, "%s", err.msg);
		return -1;
	}
	return 0;
}

static int web_check_password(struct web_reply *rep, const char *pw)
{
	const char *weak = password_weakness(pw, strlen(pw));

	if (weak != NULL) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "password", "%s", weak);
		return -1;
	}
	return 0;
}

void web_api_accounts_post(struct web_req *req, struct web_reply *rep)
{
	const char *address, *pw;
	json_int_t quota = 0;
	struct admin_err err;
	enum admin_status as;

	if (web_body_str(req, rep, "address", true, LIMIT_ADDRESS + 64, &address) < 0 ||
	    web_check_address(rep, "address", address, false) < 0 ||
	    web_body_str(req, rep, "password", true, LIMIT_PASSWORD_MAX + 1, &pw) < 0 ||
	    web_check_password(rep, pw) < 0 ||
	    web_body_int(req, rep, "quota_bytes", 0, INT64_MAX, &quota) < 0)
		return;
	as = admin_user_add(req->db, req->admin, address, pw, strlen(pw), quota, &err);
	web_admin_reply(rep, as, &err, "address", MHD_HTTP_CREATED,
			json_pack("{s:o}", "address", web_jstr(address)));
}

void web_api_accounts_patch(struct web_req *req, struct web_reply *rep)
{
	const char *address = req->param, *pw = NULL;
	json_int_t quota = 0;
	bool active = true;
	int has_pw, has_quota, has_active;
	struct admin_err err;
	enum admin_status as = ADMIN_OK;

	if (web_check_address(rep, "address", address, false) < 0)
		return;
	has_pw = web_body_str(req, rep, "password", false, LIMIT_PASSWORD_MAX + 1, &pw);
	if (has_pw < 0 || (has_pw == 1 && web_check_password(rep, pw) < 0))
		return;
	has_quota = web_body_int(req, rep, "quota_bytes", 0, INT64_MAX, &quota);
	if (has_quota < 0)
		return;
	has_active = web_body_bool(req, rep, "active", &active);
	if (has_active < 0)
		return;
	if (has_pw + has_quota + has_active == 0) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, NULL,
				"nothing to change (password, quota_bytes or active)");
		return;
	}
	/* XXX: each change is its own transaction; fields are checked first so
	 * only a database failure can leave a part applied */
	if (has_pw == 1)
		as = admin_user_passwd(req->db, req->admin, address, pw, strlen(pw), &err);
	if (as == ADMIN_OK && has_quota == 1)
		as = admin_user_set_quota(req->db, req->admin, address, quota, &err);
	if (as == ADMIN_OK && has_active == 1)
		as = admin_user_set_active(req->db, req->admin, address, active, &err);
	if (as == ADMIN_FAIL && strstr(err.msg, "does not exist") != NULL) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "address", "%s", err.msg);
		return;
	}
	web_admin_reply(rep, as, &err, "address", MHD_HTTP_OK, NULL);
}

void web_api_accounts_delete(struct web_req *req, struct web_reply *rep)
{
	struct admin_err err;
	enum admin_status as;

	if (web_check_address(rep, "address", req->param, false) < 0)
		return;
	as = admin_user_del(req->db, req->admin, req->param, &err);
	if (as == ADMIN_FAIL && strstr(err.msg, "does not exist") != NULL) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "address", "%s", err.msg);
		return;
	}
	web_admin_reply(rep, as, &err, "address", MHD_HTTP_OK, NULL);
}

/* ---------- aliases ---------- */

static void web_alias_add(void *arg, const struct admin_alias *a)
{
	json_t *o = json_object();

	json_object_set_new(o, "source", web_jstr(a->source));
	json_object_set_new(o, "destination", web_jstr(a->destination));
	json_array_append_new(arg, o);
}

void web_api_aliases_get(struct web_req *req, struct web_reply *rep)
{
	char dom[LIMIT_DOMAIN + 1];
	const char *domain;
	struct admin_err err;
	json_t *list;
	enum admin_status as;

	if (web_arg_domain(req, rep, dom, sizeof(dom), &domain) < 0)
		return;
	list = json_array();
	as = admin_alias_list(req->db, domain, web_alias_add, list, &err);
	web_admin_reply(rep, as, &err, "domain", MHD_HTTP_OK, json_pack("{s:o}", "aliases", list));
}

/* Which field an alias refusal is about. */
static const char *web_alias_field(const struct admin_err *err)
{
	return strncmp(err->msg, "destination", 11) == 0 ? "destination" : "source";
}

void web_api_aliases_post(struct web_req *req, struct web_reply *rep)
{
	const char *source, *dest;
	struct admin_err err;
	enum admin_status as;

	if (web_body_str(req, rep, "source", true, LIMIT_ADDRESS + 64, &source) < 0 ||
	    web_check_address(rep, "source", source, true) < 0 ||
	    web_body_str(req, rep, "destination", true, LIMIT_ADDRESS + 64, &dest) < 0 ||
	    web_check_address(rep, "destination", dest, false) < 0)
		return;
	as = admin_alias_add(req->db, req->admin, source, dest, &err);
	web_admin_reply(rep, as, &err, web_alias_field(&err), MHD_HTTP_CREATED,
			json_pack("{s:o,s:o}", "source", web_jstr(source), "destination",
				  web_jstr(dest)));
}

void web_api_aliases_delete(struct web_req *req, struct web_reply *rep)
{
	const char *source = web_req_arg(req, "source"), *dest = web_req_arg(req, "destination");
	struct admin_err err;
	enum admin_status as;

	if (source == NULL || *source == '\0') {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "source", "source is required");
		return;
	}
	if (dest == NULL || *dest == '\0') {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "destination", "destination is required");
		return;
	}
	if (web_check_address(rep, "source", source, true) < 0 ||
	    web_check_address(rep, "destination", dest, false) < 0)
		return;
	as = admin_alias_del(req->db, req->admin, source, dest, &err);
	if (as == ADMIN_FAIL && strstr(err.msg, "does not exist") != NULL) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "source", "%s", err.msg);
		return;
	}
	web_admin_reply(rep, as, &err, "source", MHD_HTTP_OK, NULL);
}

/* ---------- listeners ---------- */

void web_api_listeners_get(struct web_req *req, struct web_reply *rep)
{
	struct admin_err err;
	json_t *list = json_array();
	enum admin_status as = admin_listener_list(req->db, web_listener_add, list, &err);

	web_admin_reply(rep, as, &err, NULL, MHD_HTTP_OK, json_pack("{s:o}", "listeners", list));
}

void web_api_listeners_patch(struct web_req *req, struct web_reply *rep)
{
	struct admin_listener_change c = { .enable = -1 };
	struct admin_err err;
	json_int_t port = 0;
	bool enabled = false;
	int has_port, has_tls, has_enabled;
	enum admin_status as;

	/* any integer here: the range check below gives the sentence */
	has_port = web_body_int(req, rep, "port", INT32_MIN, INT32_MAX, &port);
	if (has_port < 0)
		return;
	has_tls = web_body_str(req, rep, "tls", false, 32, &c.tls);
	if (has_tls < 0)
		return;
	has_enabled = web_body_bool(req, rep, "enabled", &enabled);
	if (has_enabled < 0)
		return;
	if (has_port + has_tls + has_enabled == 0) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, NULL,
				"nothing to change (port, tls or enabled)");
		return;
	}
	c.set_port = has_port == 1;
	c.port = (int)port;
	c.enable = has_enabled == 1 ? (int)enabled : -1;
	{
		struct admin_listener_change only_port = { .set_port = c.set_port, .port = c.port,
							   .enable = -1 };
		if (!admin_listener_change_check(&only_port, &err)) {
			web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "port", "%s", err.msg);
			return;
		}
	}
	if (!admin_listener_change_check(&c, &err)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "tls", "%s", err.msg);
		return;
	}
	as = admin_listener_set(req->db, req->admin, req->param, &c, &err);
	if (as == ADMIN_FAIL && strstr(err.msg, "does not exist") != NULL) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "name", "%s", err.msg);
		return;
	}
	web_admin_reply(rep, as, &err, "port", MHD_HTTP_OK, NULL);
}

/* ---------- queue and audit log ---------- */

struct web_list {
	json_t *items;
	size_t n;
	bool truncated;
};

static void web_queue_add(void *arg, const struct admin_queue_item *q)
{
	struct web_list *l = arg;
	json_t *o;

	if (l->n >= LIMIT_WEB_LIST_MAX) {
		l->truncated = true;
		return;
	}
	o = json_object();
	json_object_set_new(o, "id", json_integer(q->id));
	json_object_set_new(o, "sender", web_jstr(q->sender));
	json_object_set_new(o, "recipient", web_jstr(q->recipient));
	json_object_set_new(o, "state", web_jstr(q->state));
	json_object_set_new(o, "attempts", json_integer(q->attempts));
	json_object_set_new(o, "next_attempt", web_jstr(q->next_attempt));
	json_object_set_new(o, "last_error", web_jstr(q->last_error));
	json_array_append_new(l->items, o);
	l->n++;
}

void web_api_queue_get(struct web_req *req, struct web_reply *rep)
{
	struct web_list l = { .items = json_array() };
	struct admin_err err;
	enum admin_status as = admin_queue_list(req->db, web_queue_add, &l, &err);

	web_admin_reply(rep, as, &err, NULL, MHD_HTTP_OK,
			json_pack("{s:o,s:b}", "queue", l.items, "truncated", l.truncated));
}

void web_api_audit_get(struct web_req *req, struct web_reply *rep)
{
	char off[24], lim[24];
	uint64_t offset, limit;
	enum db_status st;
	PGresult *res;
	json_t *list;

	if (web_arg_u64(req, rep, "offset", 0, 0, 1000000000, &offset) < 0 ||
	    web_arg_u64(req, rep, "limit", 100, 1, LIMIT_WEB_PAGE_MAX, &limit) < 0)
		return;
	(void)str_fmt(off, sizeof(off), "%llu", (unsigned long long)offset);
	(void)str_fmt(lim, sizeof(lim), "%llu", (unsigned long long)limit);
	{
		const char *params[2] = { off, lim };
		res = db_exec(req->db, STMT_WEB_AUDIT_LIST, 2, params, NULL, NULL, &st);
	}
	if (st != DB_OK) {
		PQclear(res);
		web_db_down(rep);
		return;
	}
	list = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *o = json_object();
		json_object_set_new(o, "id", web_jnum(PQgetvalue(res, i, 0)));
		json_object_set_new(o, "at", web_jstr(PQgetvalue(res, i, 1)));
		json_object_set_new(o, "admin", web_jstr(PQgetvalue(res, i, 2)));
		json_object_set_new(o, "action", web_jstr(PQgetvalue(res, i, 3)));
		json_object_set_new(o, "detail", web_jstr(PQgetvalue(res, i, 4)));
		json_array_append_new(list, o);
	}
	PQclear(res);
	web_reply_json(rep, MHD_HTTP_OK, json_pack("{s:o,s:I,s:I}", "entries", list, "offset",
						   (json_int_t)offset, "limit", (json_int_t)limit));
}
