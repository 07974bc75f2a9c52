/* session.c - admin login, sessions and CSRF. The cookie holds a random
 * 256-bit token (base64url); only its SHA-256 is stored in admin_sessions.
 * Cookies are HttpOnly and SameSite=Strict (and Secure over HTTPS). A
 * session expires after LIMIT_WEB_SESSION_IDLE_S unused and
 * LIMIT_WEB_SESSION_MAX_S after login; logout deletes its row. A CSRF token
 * is returned at login (and by /me) and every state-changing request must
 * echo it in X-CSRF-Token (else 403). Failed logins are counted per user
 * name and per client address (LIMIT_WEB_LOGIN_FAILS_*, 429 past them). */
#include "web/web.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "auth/password.h"
#include "config/config.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/strnum.h"

#define WEB_HASH_SIZE 128		/* >= crypto_pwhash_STRBYTES */
#define WEB_GENERATED_PASSWORD_BYTES 15	/* 20 base64url characters */

/* ---------- login failure throttle ---------- */

struct web_throttle_entry {
	char key[LIMIT_WEB_USERNAME + 16];
	time_t start;		/* window start; 0 = free */
	unsigned fails;
};

static pthread_mutex_t web_throttle_mu = PTHREAD_MUTEX_INITIALIZER;
static struct web_throttle_entry web_throttle[LIMIT_WEB_THROTTLE_ENTRIES];

/* The entry of key (created with create, replacing the oldest), or NULL.
 * Expired windows read as free. Caller holds the mutex. */
static struct web_throttle_entry *web_throttle_find(const char *key, time_t now, bool create)
{
	struct web_throttle_entry *oldest = &web_throttle[0];

	for (size_t i = 0; i < LIMIT_WEB_THROTTLE_ENTRIES; i++) {
		struct web_throttle_entry *e = &web_throttle[i];
		if (e->start != 0 && now - e->start >= LIMIT_WEB_LOGIN_WINDOW_S)
			e->start = 0;
		if (e->start != 0 && strcmp(e->key, key) == 0)
			return e;
		if (e->start < oldest->start)
			oldest = e;
	}
	if (!create)
		return NULL;
	str_lcpy(oldest->key, key, sizeof(oldest->key));
	oldest->start = now;
	oldest->fails = 0;
	return oldest;
}

bool web_throttle_blocked(const char *key, unsigned max, time_t now, unsigned *retry_r)
{
	bool blocked = false;

	pthread_mutex_lock(&web_throttle_mu);
	struct web_throttle_entry *e = web_throttle_find(key, now, false);
	if (e != NULL && e->fails >= max) {
		blocked = true;
		*retry_r = (unsigned)(LIMIT_WEB_LOGIN_WINDOW_S - (now - e->start));
	}
	pthread_mutex_unlock(&web_throttle_mu);
	return blocked;
}

void web_throttle_fail(const char *key, time_t now)
{
	pthread_mutex_lock(&web_throttle_mu);
	web_throttle_find(key, now, true)->fails++;
	pthread_mutex_unlock(&web_throttle_mu);
}

void web_throttle_reset(const char *key)
{
	pthread_mutex_lock(&web_throttle_mu);
	struct web_throttle_entry *e = web_throttle_find(key, time(NULL), false);
	if (e != NULL)
		e->start = 0;
	pthread_mutex_unlock(&web_throttle_mu);
}

void web_throttle_clear(void)
{
	pthread_mutex_lock(&web_throttle_mu);
	memset(web_throttle, 0, sizeof(web_throttle));
	pthread_mutex_unlock(&web_throttle_mu);
}

/* ---------- tokens ---------- */

static char web_dummy_hash[WEB_HASH_SIZE];
static pthread_once_t web_dummy_once = PTHREAD_ONCE_INIT;

/* A hash to verify against for unknown users, so their logins take as
 * long as real ones. */
static void web_dummy_make(void)
{
	unsigned char pw[16];

	randombytes_buf(pw, sizeof(pw));
	if (password_hash((const char *)pw, sizeof(pw), web_dummy_hash, sizeof(web_dummy_hash)) < 0)
		web_dummy_hash[0] = '\0';
}

void web_session_init(void)
{
	if (sodium_init() < 0)
		abort();
	web_throttle_clear();
}

static void web_random_text(char *out, size_t size, size_t nbytes)
{
	unsigned char raw[WEB_TOKEN_BYTES];

	randombytes_buf(raw, nbytes);
	sodium_bin2base64(out, size, raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

/* The SHA-256 of a cookie token; -1 when the cookie is malformed. */
static int web_token_hash(const char *token, unsigned char hash[crypto_hash_sha256_BYTES])
{
	unsigned char raw[WEB_TOKEN_BYTES];
	size_t len = 0;

	if (token == NULL || strlen(token) != WEB_TOKEN_TEXT - 1 ||
	    sodium_base642bin(raw, sizeof(raw), token, strlen(token), NULL, &len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len != WEB_TOKEN_BYTES)
		return -1;
	crypto_hash_sha256(hash, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

static bool web_state_changing(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* ---------- session check ---------- */

int web_session_check(struct web_req *req, struct web_reply *rep)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	char idle[16], max[16];
	const char *params[3] = { (const char *)hash, idle, max };
	const int lengths[3] = { sizeof(hash), 0, 0 };
	const int formats[3] = { 1, 0, 0 };
	const char *csrf;
	enum db_status st;
	PGresult *res;
	uint64_t id = 0;

	if (web_token_hash(MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, WEB_COOKIE_NAME),
			   hash) < 0) {
		web_reply_error(rep, MHD_HTTP_UNAUTHORIZED, NULL, "please log in");
		return -1;
	}
	(void)str_fmt(idle, sizeof(idle), "%d", LIMIT_WEB_SESSION_IDLE_S);
	(void)str_fmt(max, sizeof(max), "%d", LIMIT_WEB_SESSION_MAX_S);
	res = db_exec(req->db, STMT_WEB_SESSION_TOUCH, 3, params, lengths, formats, &st);
	if (st != DB_OK) {
		PQclear(res);
		web_reply_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
				"the database is unavailable; try again shortly");
		return -1;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		web_reply_error(rep, MHD_HTTP_UNAUTHORIZED, NULL,
				"your session has expired; please log in again");
		return -1;
	}
	(void)strnum_parse(PQgetvalue(res, 0, 0), INT64_MAX, &id);
	req->admin_id = (int64_t)id;
	str_lcpy(req->admin, PQgetvalue(res, 0, 1), sizeof(req->admin));
	str_lcpy(req->csrf, PQgetvalue(res, 0, 2), sizeof(req->csrf));
	PQclear(res);
	if (!web_state_changing(req->method))
		return 0;
	csrf = web_req_header(req, "X-CSRF-Token");
	if (csrf == NULL || strlen(csrf) != strlen(req->csrf) ||
	    sodium_memcmp(csrf, req->csrf, strlen(req->csrf)) != 0) {
		web_reply_error(rep, MHD_HTTP_FORBIDDEN, NULL,
				"missing or wrong CSRF token; reload the page");
		return -1;
	}
	return 0;
}

/* ---------- first admin ---------- */

int web_session_first_admin(struct db *db, const char *url)
{
	const struct config *cfg = config_get();
	char generated[40], hash[WEB_HASH_SIZE];
	const char *password;
	enum db_status st;
	PGresult *res;
	bool empty;

	res = db_exec(db, STMT_WEB_ADMIN_COUNT, 0, NULL, NULL, NULL, &st);
	empty = st == DB_OK && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "0") == 0;
	PQclear(res);
	if (st != DB_OK)
		return -1;
	if (!empty)
		return 0;
	password = cfg != NULL ? cfg->admin_password : NULL;
	if (password != NULL && password_weakness(password, strlen(password)) != NULL) {
		log_error("web", "POSTERN_ADMIN_PASSWORD refused (%s): no admin created",
			  password_weakness(password, strlen(password)));
		return -1;
	}
	if (password == NULL) {
		web_random_text(generated, sizeof(generated), WEB_GENERATED_PASSWORD_BYTES);
		password = generated;
	}
	if (password_hash(password, strlen(password), hash, sizeof(hash)) < 0)
		return -1;
	{
		const char *params[2] = { "admin", hash };
		res = db_exec(db, STMT_WEB_ADMIN_INSERT, 2, params, NULL, NULL, &st);
		PQclear(res);
	}
	sodium_memzero(hash, sizeof(hash));
	if (st == DB_OK) {
		/* printed once, on purpose: the operator's only way to learn it */
		if (password == generated)
			fprintf(stderr, "admin panel: %s user admin password %s\n", url, generated);
		else
			fprintf(stderr, "admin panel: %s user admin (password from "
				"POSTERN_ADMIN_PASSWORD)\n", url);
	}
	sodium_memzero(generated, sizeof(generated));
	return st == DB_OK ? 0 : -1;
}

/* ---------- handlers ---------- */

static void web_audit(struct web_req *req, const char *action, const char *detail)
{
	const char *params[3] = { req->admin, action, detail };
	enum db_status st;

	PQclear(db_exec(req->db, STMT_AUDIT, 3, params, NULL, NULL, &st));
}

static void web_session_json(struct web_req *req, struct web_reply *rep)
{
	json_t *o = json_object();

	json_object_set_new(o, "username", json_string(req->admin));
	json_object_set_new(o, "csrf", json_string(req->csrf));
	json_object_set_new(o, "idle_timeout_s", json_integer(LIMIT_WEB_SESSION_IDLE_S));
	web_reply_json(rep, MHD_HTTP_OK, o);
}

void web_api_login(struct web_req *req, struct web_reply *rep)
{
	json_t *ju = json_object_get(req->body, "username");
	json_t *jp = json_object_get(req->body, "password");
	char ukey[LIMIT_WEB_USERNAME + 16], ikey[80], hash[WEB_HASH_SIZE], token[WEB_TOKEN_TEXT];
	char idtext[24] = "", idle[16], safe[80];
	unsigned char thash[crypto_hash_sha256_BYTES];
	const char *user, *pw, *stored = NULL;
	unsigned retry = 0;
	time_t now = time(NULL);
	enum db_status st;
	PGresult *res;
	bool ok;

	if (!json_is_string(ju) || json_string_length(ju) == 0) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "username", "enter your user name");
		return;
	}
	if (!json_is_string(jp) || json_string_length(jp) == 0) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "password", "enter your password");
		return;
	}
	user = json_string_value(ju);
	pw = json_string_value(jp);
	(void)str_fmt(ukey, sizeof(ukey), "user:%.*s", LIMIT_WEB_USERNAME, user);
	(void)str_fmt(ikey, sizeof(ikey), "ip:%s", req->ip);
	if (web_throttle_blocked(ukey, LIMIT_WEB_LOGIN_FAILS_USER, now, &retry) ||
	    web_throttle_blocked(ikey, LIMIT_WEB_LOGIN_FAILS_IP, now, &retry)) {
		rep->retry_after = retry;
		web_reply_error(rep, MHD_HTTP_TOO_MANY_REQUESTS, NULL,
				"too many failed logins; try again in %u minute%s",
				(retry + 59) / 60, (retry + 59) / 60 == 1 ? "" : "s");
		return;
	}
	hash[0] = '\0';
	if (json_string_length(ju) <= LIMIT_WEB_USERNAME && strlen(user) == json_string_length(ju)) {
		const char *params[1] = { user };
		res = db_exec(req->db, STMT_WEB_ADMIN_BY_NAME, 1, params, NULL, NULL, &st);
		if (st != DB_OK) {
			PQclear(res);
			web_reply_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
					"the database is unavailable; try again shortly");
			return;
		}
		if (PQntuples(res) == 1) {
			str_lcpy(idtext, PQgetvalue(res, 0, 0), sizeof(idtext));
			str_lcpy(hash, PQgetvalue(res, 0, 1), sizeof(hash));
			stored = hash;
		}
		PQclear(res);
	}
	if (stored == NULL) {
		pthread_once(&web_dummy_once, web_dummy_make);
		(void)password_verify(web_dummy_hash, pw, json_string_length(jp));
		ok = false;
	} else {
		ok = password_verify(stored, pw, json_string_length(jp));
	}
	sodium_memzero(hash, sizeof(hash));
	if (!ok) {
		web_throttle_fail(ukey, now);
		web_throttle_fail(ikey, now);
		log_warn("web", "failed admin login for \"%s\" from %s",
			 str_printable(safe, sizeof(safe), user, strlen(user)), req->ip);
		web_reply_error(rep, MHD_HTTP_UNAUTHORIZED, "password", "wrong user name or password");
		return;
	}
	{
		bool failed = false;
		if (web_totp_login(req, rep, idtext, &failed) < 0) {
			if (failed) {
				web_throttle_fail(ukey, now);
				web_throttle_fail(ikey, now);
				log_warn("web", "wrong TOTP code for \"%s\" from %s",
					 str_printable(safe, sizeof(safe), user, strlen(user)),
					 req->ip);
			}
			return;
		}
	}
	web_throttle_reset(ukey);
	web_throttle_reset(ikey);

	PQclear(db_exec(req->db, STMT_WEB_SESSION_PURGE, 0, NULL, NULL, NULL, &st));
	web_random_text(token, sizeof(token), WEB_TOKEN_BYTES);
	web_random_text(req->csrf, sizeof(req->csrf), WEB_TOKEN_BYTES);
	if (web_token_hash(token, thash) < 0)
		abort();	/* we made it: a broken invariant */
	(void)str_fmt(idle, sizeof(idle), "%d", LIMIT_WEB_SESSION_IDLE_S);
	{
		const char *params[4] = { (const char *)thash, idtext, req->csrf, idle };
		const int lengths[4] = { sizeof(thash), 0, 0, 0 };
		const int formats[4] = { 1, 0, 0, 0 };
		res = db_exec(req->db, STMT_WEB_SESSION_INSERT, 4, params, lengths, formats, &st);
		PQclear(res);
	}
	if (st != DB_OK) {
		sodium_memzero(token, sizeof(token));
		web_reply_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
				"the database is unavailable; try again shortly");
		return;
	}
	(void)str_fmt(rep->cookie, sizeof(rep->cookie),
		      WEB_COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", token,
		      LIMIT_WEB_SESSION_MAX_S, req->https ? "; Secure" : "");
	sodium_memzero(token, sizeof(token));
	str_lcpy(req->admin, user, sizeof(req->admin));
	web_audit(req, "login", req->ip);
	log_info("web", "admin %s logged in from %s", str_printable(safe, sizeof(safe), user,
		 strlen(user)), req->ip);
	web_session_json(req, rep);
}

void web_api_logout(struct web_req *req, struct web_reply *rep)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	const char *params[1] = { (const char *)hash };
	const int lengths[1] = { sizeof(hash) };
	const int formats[1] = { 1 };
	enum db_status st;

	if (web_token_hash(MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, WEB_COOKIE_NAME),
			   hash) == 0)
		PQclear(db_exec(req->db, STMT_WEB_SESSION_DELETE, 1, params, lengths, formats, &st));
	web_audit(req, "logout", req->ip);
	str_lcpy(rep->cookie, WEB_COOKIE_NAME "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
		 sizeof(rep->cookie));
	web_reply_json(rep, MHD_HTTP_OK, json_object());
}

void web_api_me(struct web_req *req, struct web_reply *rep)
{
	web_session_json(req, rep);
}
