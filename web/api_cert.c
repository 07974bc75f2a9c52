/* api_cert.c - the TLS certificate API (docs/API.md "Certificates"): list
 * with names and expiry, upload a PEM chain + key (checked by
 * core/net/tls_check.c; each refusal a 400 naming cert_pem, key_pem or
 * hostnames), generate a self-signed one, choose which hostnames (SNI) a
 * certificate serves and which one is the default, delete. Every change
 * commits with NOTIFY config_changed: the mail core reloads its contexts
 * and the panel's HTTPS takes the new default on its next handshake. */
#include "web/web.h"

#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "lib/str.h"
#include "lib/strnum.h"

static json_t *web_cert_time(long long t)
{
	char out[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(out);
}

/* The JSON of one certificate (also used by the dashboard). */
json_t *web_cert_json(const struct admin_cert *c, time_t now)
{
	json_t *o = json_object(), *hosts = json_array(), *names = json_array();

	for (size_t i = 0; i < c->n_hostnames; i++)
		json_array_append_new(hosts, web_jstr(c->hostnames[i]));
	for (size_t i = 0; i < c->info->n_names; i++)
		json_array_append_new(names, web_jstr(c->info->names[i]));
	json_object_set_new(o, "id", json_integer((json_int_t)c->id));
	json_object_set_new(o, "hostnames", hosts);
	json_object_set_new(o, "names", names);
	json_object_set_new(o, "subject", web_jstr(c->info->subject));
	json_object_set_new(o, "issuer", web_jstr(c->info->issuer));
	json_object_set_new(o, "self_signed", json_boolean(c->info->self_signed));
	json_object_set_new(o, "not_before", web_cert_time(c->info->not_before));
	json_object_set_new(o, "not_after", web_cert_time(c->info->not_after));
	json_object_set_new(o, "days_left",
			    json_integer((json_int_t)((c->info->not_after - (long long)now) / 86400)));
	json_object_set_new(o, "default", json_boolean(c->is_default));
	return o;
}

static void web_cert_add(void *arg, const struct admin_cert *c)
{
	json_array_append_new(arg, web_cert_json(c, time(NULL)));
}

void web_api_certs_get(struct web_req *req, struct web_reply *rep)
{
	struct admin_err err;
	json_t *list = json_array();
	enum admin_status as = admin_cert_list(req->db, web_cert_add, list, &err);

	web_admin_reply(rep, as, &err, NULL, MHD_HTTP_OK, json_pack("{s:o}", "certificates", list));
}

/* The optional "hostnames" array: 1 present (strings in names_r, count in
 * *n_r), 0 absent, -1 with rep set. */
static int web_cert_hostnames(struct web_req *req, struct web_reply *rep,
			      const char *names_r[LIMIT_CERT_HOSTNAMES], size_t *n_r)
{
	json_t *a = json_object_get(req->body, "hostnames"), *v;
	size_t i;

	*n_r = 0;
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "hostnames",
				"hostnames must be a list of names");
		return -1;
	}
	if (json_array_size(a) > LIMIT_CERT_HOSTNAMES) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "hostnames",
				"a certificate serves at most %d hostnames", LIMIT_CERT_HOSTNAMES);
		return -1;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
			web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "hostnames",
					"hostnames must be a list of names");
			return -1;
		}
		names_r[(*n_r)++] = json_string_value(v);
	}
	return 1;
}

/* The created or changed certificate as the reply. */
static void web_cert_reply_id(struct web_req *req, struct web_reply *rep, unsigned status,
			      int64_t id)
{
	json_t *list = json_array(), *found = NULL, *v;
	struct admin_err err;
	size_t i;

	if (admin_cert_list(req->db, web_cert_add, list, &err) == ADMIN_OK) {
		json_array_foreach(list, i, v) {
			if (json_integer_value(json_object_get(v, "id")) == (json_int_t)id)
				found = json_incref(v);
		}
	}
	json_decref(list);
	web_reply_json(rep, status, found != NULL ? found :
			json_pack("{s:I}", "id", (json_int_t)id));
}

void web_api_certs_post(struct web_req *req, struct web_reply *rep)
{
	const char *names[LIMIT_CERT_HOSTNAMES];
	const char *cert, *key, *field = NULL;
	bool make_default = false;
	struct admin_err err;
	size_t n = 0;
	int64_t id = 0;
	enum admin_status as;

	if (web_body_str(req, rep, "cert_pem", true, LIMIT_CERT_PEM, &cert) < 0 ||
	    web_body_str(req, rep, "key_pem", true, LIMIT_CERT_KEY_PEM, &key) < 0 ||
	    web_cert_hostnames(req, rep, names, &n) < 0 ||
	    web_body_bool(req, rep, "default", &make_default) < 0)
		return;
	as = admin_cert_import(req->db, req->admin, cert, key, names, n, make_default, &id, &field,
			       &err);
	if (as != ADMIN_OK) {
		web_admin_reply(rep, as, &err, field, MHD_HTTP_OK, NULL);
		return;
	}
	web_cert_reply_id(req, rep, MHD_HTTP_CREATED, id);
}

void web_api_certs_generate(struct web_req *req, struct web_reply *rep)
{
	const char *host;
	json_int_t days = 365;
	bool make_default = false;
	struct admin_err err;
	int64_t id = 0;
	enum admin_status as;

	if (web_body_str(req, rep, "hostname", true, TLS_CHECK_NAME, &host) < 0 ||
	    web_body_int(req, rep, "days", 1, LIMIT_CERT_DAYS, &days) < 0 ||
	    web_body_bool(req, rep, "default", &make_default) < 0)
		return;
	as = admin_cert_generate(req->db, req->admin, host, (int)days, make_default, &id, &err);
	if (as != ADMIN_OK) {
		web_admin_reply(rep, as, &err, "hostname", MHD_HTTP_OK, NULL);
		return;
	}
	web_cert_reply_id(req, rep, MHD_HTTP_CREATED, id);
}

/* The certificate id of the path: 0, or -1 with a 404. */
static int web_cert_id(struct web_req *req, struct web_reply *rep, int64_t *id_r)
{
	uint64_t v;

	if (strnum_parse(req->param, INT64_MAX, &v) < 0 || v == 0) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, NULL, "no such certificate");
		return -1;
	}
	*id_r = (int64_t)v;
	return 0;
}

static void web_cert_fail(struct web_reply *rep, enum admin_status as, const struct admin_err *err,
			  const char *field)
{
	if (as == ADMIN_FAIL && strstr(err->msg, "does not exist") != NULL)
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, NULL, "%s", err->msg);
	else
		web_admin_reply(rep, as, err, field, MHD_HTTP_OK, NULL);
}

void web_api_certs_patch(struct web_req *req, struct web_reply *rep)
{
	const char *names[LIMIT_CERT_HOSTNAMES];
	const char *field = NULL;
	bool make_default = false;
	struct admin_err err;
	size_t n = 0;
	int has_names, has_default;
	int64_t id;
	enum admin_status as;

	if (web_cert_id(req, rep, &id) < 0)
		return;
	has_names = web_cert_hostnames(req, rep, names, &n);
	if (has_names < 0)
		return;
	has_default = web_body_bool(req, rep, "default", &make_default);
	if (has_default < 0)
		return;
	if (has_names == 0 && !(has_default == 1 && make_default)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, NULL,
				"nothing to change (hostnames, or default: true)");
		return;
	}
	as = admin_cert_set(req->db, req->admin, id, has_names == 1 ? names : NULL, n,
			    make_default, &field, &err);
	if (as != ADMIN_OK) {
		web_cert_fail(rep, as, &err, field);
		return;
	}
	web_cert_reply_id(req, rep, MHD_HTTP_OK, id);
}

void web_api_certs_delete(struct web_req *req, struct web_reply *rep)
{
	struct admin_err err;
	int64_t id;
	enum admin_status as;

	if (web_cert_id(req, rep, &id) < 0)
		return;
	as = admin_cert_del(req->db, req->admin, id, &err);
	if (as != ADMIN_OK) {
		web_cert_fail(rep, as, &err, NULL);
		return;
	}
	web_reply_json(rep, MHD_HTTP_OK, json_object());
}
