/* totp.c - the optional second factor of panel admins (RFC 6238 TOTP,
 * core/auth/totp.c): enrolment (a random 160-bit secret, shown once as
 * base32 and an otpauth:// URI, sealed at rest, active only after a first
 * valid code), the check at login once enrolled (each code accepted once:
 * the last used step is stored with a conditional UPDATE), and removal,
 * which needs a current code. A wrong code counts as a failed login for the
 * throttle; `posternctl admin totp-reset` is the way back for a lost
 * authenticator. */
#include "web/web.h"

#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "auth/seal.h"
#include "auth/totp.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/strnum.h"

struct web_totp_row {
	char *secret;		/* unsealed base32, or NULL */
	bool stored;		/* a secret is stored (even one that cannot be unsealed) */
	bool pending;
	int64_t last_step;
};

static void web_totp_row_free(struct web_totp_row *r)
{
	if (r->secret != NULL) {
		sodium_memzero(r->secret, strlen(r->secret));
		free(r->secret);
		r->secret = NULL;
	}
}

/* Reads admin idtext's active (or, with pending, pending) secret. 0, or -1
 * when the database failed. */
static int web_totp_load(struct db *db, const char *idtext, bool pending, struct web_totp_row *r)
{
	const char *params[1] = { idtext };
	enum db_status st;
	PGresult *res = db_exec(db, STMT_PANEL_TOTP_GET, 1, params, NULL, NULL, &st);
	uint64_t last = 0;
	int col = pending ? 1 : 0;

	memset(r, 0, sizeof(*r));
	if (st != DB_OK || PQntuples(res) != 1) {
		PQclear(res);
		return st != DB_OK ? -1 : 0;
	}
	r->pending = !PQgetisnull(res, 0, 1);
	r->stored = !PQgetisnull(res, 0, col);
	if (r->stored)
		r->secret = seal_open(PQgetvalue(res, 0, col));
	(void)strnum_parse(PQgetvalue(res, 0, 2), INT64_MAX, &last);
	r->last_step = (int64_t)last;
	PQclear(res);
	return 0;
}

/* The step code matches for secret (base32), or -1. */
static int64_t web_totp_match(const char *secret, const char *code, int64_t last_step)
{
	unsigned char key[TOTP_SECRET_BYTES * 2];
	size_t n = 0;
	int64_t step = -1;

	if (secret != NULL && totp_base32_decode(secret, key, sizeof(key), &n) == 0)
		step = totp_verify(key, n, code, time(NULL), last_step);
	sodium_memzero(key, sizeof(key));
	return step;
}

/* Marks step used for admin idtext: false when it was already (replay). */
static bool web_totp_use(struct db *db, const char *idtext, int64_t step)
{
	char s[24];
	const char *params[2] = { idtext, s };
	enum db_status st;
	PGresult *res;
	bool ok;

	(void)str_fmt(s, sizeof(s), "%lld", (long long)step);
	res = db_exec(db, STMT_PANEL_TOTP_USE, 2, params, NULL, NULL, &st);
	ok = st == DB_OK && PQntuples(res) == 1;
	PQclear(res);
	return ok;
}

int web_totp_login(struct web_req *req, struct web_reply *rep, const char *idtext, bool *failed_r)
{
	json_t *jc = json_object_get(req->body, "totp");
	struct web_totp_row r;
	int64_t step;

	*failed_r = false;
	if (web_totp_load(req->db, idtext, false, &r) < 0) {
		web_db_down(rep);
		return -1;
	}
	if (!r.stored)
		return 0;	/* not enrolled */
	if (r.secret == NULL) {
		/* never fall back to the password alone */
		log_warn("web", "admin id %s: the TOTP secret cannot be unsealed (seal.key "
			 "changed?); reset it with posternctl admin totp-reset", idtext);
		web_reply_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, "totp",
				"the second factor cannot be checked; an operator must reset it "
				"(posternctl admin totp-reset)");
		return -1;
	}
	if (!json_is_string(jc) || json_string_length(jc) == 0) {
		web_totp_row_free(&r);
		web_reply_error(rep, MHD_HTTP_UNAUTHORIZED, "totp",
				"enter the 6-digit code from your authenticator app");
		json_object_set_new(rep->json, "totp_required", json_true());
		return -1;
	}
	step = web_totp_match(r.secret, json_string_value(jc), r.last_step);
	web_totp_row_free(&r);
	if (step < 0 || !web_totp_use(req->db, idtext, step)) {
		*failed_r = true;
		web_reply_error(rep, MHD_HTTP_UNAUTHORIZED, "totp",
				"wrong or already used code; wait for the next one");
		json_object_set_new(rep->json, "totp_required", json_true());
		return -1;
	}
	return 0;
}

static void web_totp_idtext(struct web_req *req, char *out, size_t size)
{
	(void)str_fmt(out, size, "%lld", (long long)req->admin_id);
}

void web_api_totp_get(struct web_req *req, struct web_reply *rep)
{
	char idtext[24];
	struct web_totp_row r;

	web_totp_idtext(req, idtext, sizeof(idtext));
	if (web_totp_load(req->db, idtext, false, &r) < 0) {
		web_db_down(rep);
		return;
	}
	web_reply_json(rep, MHD_HTTP_OK, json_pack("{s:b,s:b}", "enabled", r.stored,
						   "pending", r.pending));
	web_totp_row_free(&r);
}

void web_api_totp_enroll(struct web_req *req, struct web_reply *rep)
{
	unsigned char key[TOTP_SECRET_BYTES];
	char secret[TOTP_SECRET_TEXT], idtext[24], uri[256], user[LIMIT_WEB_USERNAME * 3 + 1];
	const char *params[2] = { idtext, NULL };
	struct web_totp_row r;
	enum db_status st;
	char *sealed;
	size_t u = 0;

	web_totp_idtext(req, idtext, sizeof(idtext));
	if (web_totp_load(req->db, idtext, false, &r) < 0) {
		web_db_down(rep);
		return;
	}
	if (r.stored) {
		web_totp_row_free(&r);
		web_reply_error(rep, MHD_HTTP_CONFLICT, NULL,
				"two-factor login is already on; turn it off first");
		return;
	}
	randombytes_buf(key, sizeof(key));
	totp_base32(key, sizeof(key), secret);
	sodium_memzero(key, sizeof(key));
	sealed = seal_text(secret);
	if (sealed == NULL) {
		sodium_memzero(secret, sizeof(secret));
		web_reply_error(rep, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "the secret cannot be sealed");
		return;
	}
	params[1] = sealed;
	PQclear(db_exec(req->db, STMT_PANEL_TOTP_PENDING, 2, params, NULL, NULL, &st));
	free(sealed);
	if (st != DB_OK) {
		sodium_memzero(secret, sizeof(secret));
		web_db_down(rep);
		return;
	}
	/* the admin name percent-encoded for the label (RFC 3986 unreserved kept) */
	for (const char *p = req->admin; *p != '\0' && u + 4 < sizeof(user); p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')
			user[u++] = (char)c;
		else
			u += (size_t)snprintf(user + u, 4, "%%%02X", c);
	}
	user[u] = '\0';
	if (str_fmt(uri, sizeof(uri), "otpauth://totp/Postern:%s?secret=%s&issuer=Postern&"
		    "algorithm=SHA1&digits=%d&period=%d", user, secret, TOTP_DIGITS, TOTP_STEP_S) < 0)
		uri[0] = '\0';
	web_reply_json(rep, MHD_HTTP_OK, json_pack("{s:s,s:s}", "secret", secret, "uri", uri));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(uri, sizeof(uri));
}

/* The "code" field: 0, or -1 with rep set. */
static int web_totp_code(struct web_req *req, struct web_reply *rep, const char **code_r)
{
	if (web_body_str(req, rep, "code", true, 16, code_r) < 0)
		return -1;
	return 0;
}

static void web_totp_audit(struct web_req *req, const char *action)
{
	const char *params[3] = { req->admin, action, req->ip };
	enum db_status st;

	PQclear(db_exec(req->db, STMT_AUDIT, 3, params, NULL, NULL, &st));
}

void web_api_totp_confirm(struct web_req *req, struct web_reply *rep)
{
	char idtext[24], s[24];
	const char *code, *params[2] = { idtext, s };
	struct web_totp_row r;
	enum db_status st;
	PGresult *res;
	int64_t step;
	bool ok;

	if (web_totp_code(req, rep, &code) < 0)
		return;
	web_totp_idtext(req, idtext, sizeof(idtext));
	if (web_totp_load(req->db, idtext, true, &r) < 0) {
		web_db_down(rep);
		return;
	}
	if (r.secret == NULL) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "code", "start the enrolment first");
		return;
	}
	step = web_totp_match(r.secret, code, 0);
	web_totp_row_free(&r);
	if (step < 0) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "code",
				"that code does not match; check the device's clock and try the "
				"next one");
		return;
	}
	(void)str_fmt(s, sizeof(s), "%lld", (long long)step);
	res = db_exec(req->db, STMT_PANEL_TOTP_ACTIVATE, 2, params, NULL, NULL, &st);
	ok = st == DB_OK && PQntuples(res) == 1;
	PQclear(res);
	if (!ok) {
		web_db_down(rep);
		return;
	}
	web_totp_audit(req, "totp on");
	web_reply_json(rep, MHD_HTTP_OK, json_pack("{s:b}", "enabled", true));
}

void web_api_totp_disable(struct web_req *req, struct web_reply *rep)
{
	char idtext[24];
	const char *code, *params[1];
	struct web_totp_row r;
	enum db_status st;
	int64_t step;

	if (web_totp_code(req, rep, &code) < 0)
		return;
	web_totp_idtext(req, idtext, sizeof(idtext));
	if (web_totp_load(req->db, idtext, false, &r) < 0) {
		web_db_down(rep);
		return;
	}
	if (r.secret == NULL) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, NULL, "%s", r.stored ?
				"the second factor cannot be checked; an operator must reset it "
				"(posternctl admin totp-reset)" : "two-factor login is not on");
		return;
	}
	step = web_totp_match(r.secret, code, r.last_step);
	web_totp_row_free(&r);
	if (step < 0 || !web_totp_use(req->db, idtext, step)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "code", "wrong or already used code");
		return;
	}
	params[0] = req->admin;
	PQclear(db_exec(req->db, STMT_PANEL_ADMIN_TOTP_RESET, 1, params, NULL, NULL, &st));
	if (st != DB_OK) {
		web_db_down(rep);
		return;
	}
	web_totp_audit(req, "totp off");
	web_reply_json(rep, MHD_HTTP_OK, json_pack("{s:b}", "enabled", false));
}
