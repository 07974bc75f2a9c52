/* api_alerts.c - abuse alerts and held queue rows in the panel (docs/API.md
 * "Alerts"): GET /api/v1/alerts lists the newest alerts first (?limit=,
 * 1..LIMIT_WEB_PAGE_MAX, default 100; the store keeps the newest 1000 in
 * view), POST /api/v1/alerts/{id}/ack marks one seen and POST
 * /api/v1/queue/{id}/release makes a held row due now. Both changes go
 * through core/db (admin_alert_ack, admin_queue_op): validated, audited
 * under the panel user; the router asks them for a session and CSRF. */
#include "web/web.h"

#include <string.h>

#include <microhttpd.h>

#include "db/admin_mailauth.h"
#include "lib/str.h"
#include "lib/strnum.h"

struct web_alert_list {
	json_t *items;
	uint64_t max;
	size_t n, unacked;
	bool truncated;
};

static void web_alert_add(void *arg, const struct admin_alert *a)
{
	struct web_alert_list *l = arg;
	json_t *o;

	if (l->n >= l->max) {
		l->truncated = true;
		return;
	}
	o = json_object();
	json_object_set_new(o, "id", web_jstr(a->id));
	json_object_set_new(o, "at", web_jstr(a->at));
	json_object_set_new(o, "kind", web_jstr(a->kind));
	json_object_set_new(o, "account", web_jstr(a->account));
	json_object_set_new(o, "detail", web_jstr(a->detail));
	json_object_set_new(o, "acknowledged", json_boolean(a->acknowledged));
	json_array_append_new(l->items, o);
	l->n++;
	if (!a->acknowledged)
		l->unacked++;
}

void web_api_alerts_get(struct web_req *req, struct web_reply *rep)
{
	struct web_alert_list l = { .max = 100 };
	const char *s = web_req_arg(req, "limit");
	struct admin_err err;
	enum admin_status as;

	if (s != NULL && *s != '\0' &&
	    (strnum_parse(s, LIMIT_WEB_PAGE_MAX, &l.max) < 0 || l.max == 0)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "limit",
				"limit must be a number from 1 to %d", LIMIT_WEB_PAGE_MAX);
		return;
	}
	l.items = json_array();
	as = admin_alerts_list(req->db, web_alert_add, &l, &err);
	web_admin_reply(rep, as, &err, NULL, MHD_HTTP_OK,
			json_pack("{s:o,s:b,s:I}", "alerts", l.items, "truncated", l.truncated,
				  "unacknowledged", (json_int_t)l.unacked));
}

/* The id segment of a "prefix/{id}/suffix" route (req->param runs on into
 * the suffix): 0 with *id_r, or -1 with a 404 in rep (an id names nothing
 * unless it is a positive number). */
static int web_param_id(struct web_req *req, struct web_reply *rep, const char *what,
			uint64_t *id_r)
{
	const char *slash = strchr(req->param, '/');
	size_t len = slash != NULL ? (size_t)(slash - req->param) : strlen(req->param);

	if (strnum_u64(req->param, len, INT64_MAX, id_r) < 0 || *id_r == 0) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "id", "no such %s", what);
		return -1;
	}
	return 0;
}

void web_api_alerts_ack(struct web_req *req, struct web_reply *rep)
{
	char idt[24];
	uint64_t id;
	struct admin_err err;
	enum admin_status as;

	if (web_param_id(req, rep, "alert", &id) < 0)
		return;
	(void)str_fmt(idt, sizeof(idt), "%llu", (unsigned long long)id);
	as = admin_alert_ack(req->db, req->admin, idt, &err);
	if (as == ADMIN_FAIL && strstr(err.msg, "no such") != NULL) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "id", "%s", err.msg);
		return;
	}
	web_admin_reply(rep, as, &err, "id", MHD_HTTP_OK,
			json_pack("{s:I,s:b}", "id", (json_int_t)id, "acknowledged", 1));
}

void web_api_queue_release(struct web_req *req, struct web_reply *rep)
{
	uint64_t id;
	long long n = 0;
	struct admin_err err;
	enum admin_status as;

	if (web_param_id(req, rep, "queue entry", &id) < 0)
		return;
	as = admin_queue_op(req->db, req->admin, ADMIN_QUEUE_RELEASE, (int64_t)id, &n, &err);
	/* "no queue entry N is held": gone, or not held (404 either way) */
	if (as == ADMIN_FAIL && strstr(err.msg, "no queue entry") != NULL) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "id", "%s", err.msg);
		return;
	}
	web_admin_reply(rep, as, &err, "id", MHD_HTTP_OK,
			json_pack("{s:I,s:I}", "id", (json_int_t)id, "released", (json_int_t)n));
}
