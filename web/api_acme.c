/* api_acme.c - ACME certificates in the JSON API (docs/API.md):
 * POST /api/v1/certificates/acme {"hostname", "challenge"} queues an order
 * for posternd's ACME thread (202 with its id; the panel then polls), GET
 * /api/v1/certificates/acme lists the newest LIMIT_ACME_STATUS_ROWS orders
 * with their step and the CA's error, GET ?id=N one of them. The request is
 * written to the audit log in the order's transaction. */
#include "web/web.h"

#include <string.h>

#include <microhttpd.h>

#include "db/acme.h"
#include "db/admin.h"
#include "lib/str.h"
#include "lib/strnum.h"

static json_t *web_acme_str(const char *s)
{
	json_t *j = json_string(s);
	return j != NULL ? j : json_string("(not UTF-8)");
}

static void web_acme_add(void *arg, const struct db_acme_order *o)
{
	json_t *list = arg, *j = json_object();

	json_object_set_new(j, "id", json_integer((json_int_t)o->id));
	json_object_set_new(j, "hostname", web_acme_str(o->hostname));
	json_object_set_new(j, "challenge", web_acme_str(o->challenge));
	json_object_set_new(j, "state", web_acme_str(o->state));
	json_object_set_new(j, "step", web_acme_str(o->step));
	json_object_set_new(j, "error", web_acme_str(o->error));
	json_object_set_new(j, "not_after", web_acme_str(o->not_after));
	json_object_set_new(j, "updated_at", web_acme_str(o->updated_at));
	json_array_append_new(list, j);
}

void web_api_acme_get(struct web_req *req, struct web_reply *rep)
{
	const char *id = web_req_arg(req, "id");
	json_t *list = json_array();
	enum db_status st;

	if (id != NULL) {
		uint64_t v;
		if (strnum_parse(id, INT64_MAX, &v) < 0) {
			json_decref(list);
			web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "id", "id must be a number");
			return;
		}
		st = db_acme_order_get(req->db, (int64_t)v, web_acme_add, list);
		if (st == DB_ERROR && json_array_size(list) == 0) {
			json_decref(list);
			web_reply_error(rep, MHD_HTTP_NOT_FOUND, "id", "no such ACME order");
			return;
		}
	} else {
		st = db_acme_order_list(req->db, LIMIT_ACME_STATUS_ROWS, web_acme_add, list);
	}
	if (st != DB_OK) {
		json_decref(list);
		web_reply_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "the database is unavailable");
		return;
	}
	web_reply_json(rep, MHD_HTTP_OK, json_pack("{s:o}", "orders", list));
}

void web_api_acme_post(struct web_req *req, struct web_reply *rep)
{
	json_t *jh = json_object_get(req->body, "hostname");
	json_t *jc = json_object_get(req->body, "challenge");
	const char *challenge = "http-01";
	char host[LIMIT_DOMAIN + 1];
	struct admin_err err;
	int64_t id = 0;
	enum db_status st;

	if (!json_is_string(jh)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "hostname", "hostname is required");
		return;
	}
	if (!admin_domain_check(json_string_value(jh), host, sizeof(host), &err)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "hostname", "%s", err.msg);
		return;
	}
	if (jc != NULL && !json_is_null(jc)) {
		challenge = json_string_value(jc);
		if (challenge == NULL ||
		    (strcmp(challenge, "http-01") != 0 && strcmp(challenge, "tls-alpn-01") != 0)) {
			web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "challenge",
					"challenge must be http-01 or tls-alpn-01");
			return;
		}
	}
	st = db_acme_order_request(req->db, host, challenge, &id);
	if (st != DB_OK) {
		web_reply_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "the database is unavailable");
		return;
	}
	{
		char detail[LIMIT_DOMAIN + 64];
		const char *p[3] = { req->admin, "certificate acme", detail };
		(void)str_fmt(detail, sizeof(detail), "%s %s order %lld", host, challenge,
			      (long long)id);
		PQclear(db_exec(req->db, STMT_AUDIT, 3, p, NULL, NULL, &st)); /* best effort */
	}
	web_reply_json(rep, MHD_HTTP_ACCEPTED,
		       json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "hostname", host,
				 "challenge", challenge, "state", "requested"));
}
