/* server.c - the admin panel's HTTP server: libmicrohttpd with one thread
 * per connection (LIMIT_WEB_CONNECTIONS, _PER_IP, _CONN_MEMORY, _TIMEOUT_S),
 * request bodies buffered up to LIMIT_WEB_BODY (a larger Content-Length is
 * answered 413 before the body is read; a chunked body that grows past it
 * is discarded and answered 413), a pool of LIMIT_WEB_DB_CONNS database
 * connections guarded by a mutex, argon2id work limited to LIMIT_WEB_HASHERS
 * at once, security headers on every response, and the static UI served
 * from a fixed table loaded at start-up: no request path ever reaches the
 * file system. HTTPS is a second libmicrohttpd daemon on
 * POSTERN_ADMIN_TLS_LISTEN (GnuTLS; certificates from web/tls.c through a
 * callback, so a new certificate applies to the next handshake). */
#include "web/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <microhttpd.h>

#include "config/config.h"
#include "db/store.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "web/tls.h"
#include "web/web.h"

/* Every response carries these (no inline script anywhere in static/). */
static const struct {
	const char *name, *value;
} web_security_headers[] = {
	{ "Content-Security-Policy",
	  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'" },
	{ "X-Frame-Options", "DENY" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Cross-Origin-Opener-Policy", "same-origin" },
};

/* The static UI: the only files ever served. */
static struct web_file {
	const char *url;
	const char *file;
	const char *type;
	char *data;
	size_t len;
} web_files[] = {
	{ "/", "index.html", "text/html; charset=utf-8", NULL, 0 },
	{ "/index.html", "index.html", "text/html; charset=utf-8", NULL, 0 },
	{ "/app.css", "app.css", "text/css; charset=utf-8", NULL, 0 },
	{ "/app.js", "app.js", "text/javascript; charset=utf-8", NULL, 0 },
};
#define WEB_NFILES (sizeof(web_files) / sizeof(web_files[0]))

/* One request's upload state (libmicrohttpd's *con_cls). */
struct web_ctx {
	struct buf body;
	bool too_big;
	bool answered;		/* a reply was queued before the body */
	size_t discarded;
};

static struct MHD_Daemon *web_daemon;
static struct MHD_Daemon *web_tls_daemon;	/* HTTPS; NULL when off */
static struct sockaddr_storage web_addr, web_tls_addr;

static pthread_mutex_t web_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t web_pool_cv;
static struct db *web_pool_db[LIMIT_WEB_DB_CONNS];
static bool web_pool_busy[LIMIT_WEB_DB_CONNS];
static char *web_conninfo;
static sem_t web_hashers;
static bool web_inited;

/* ---------- database pool ---------- */

/* Takes a free connection (waiting up to LIMIT_WEB_DB_WAIT_MS), opened or
 * reopened as needed. The slot index, or -1. */
static int web_pool_get(struct db **db_r)
{
	struct timespec deadline;
	int slot = -1;
	const char *err = NULL;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += LIMIT_WEB_DB_WAIT_MS / 1000;
	deadline.tv_nsec += (long)(LIMIT_WEB_DB_WAIT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&web_pool_mu);
	for (;;) {
		for (int i = 0; i < LIMIT_WEB_DB_CONNS && slot < 0; i++)
			if (!web_pool_busy[i])
				slot = i;
		if (slot >= 0)
			break;
		if (pthread_cond_timedwait(&web_pool_cv, &web_pool_mu, &deadline) == ETIMEDOUT)
			break;
	}
	if (slot >= 0)
		web_pool_busy[slot] = true;
	pthread_mutex_unlock(&web_pool_mu);
	if (slot < 0) {
		log_warn("web", "no database connection free after %d ms", LIMIT_WEB_DB_WAIT_MS);
		return -1;
	}
	if (web_pool_db[slot] != NULL && !db_ok(web_pool_db[slot]))
		db_close(&web_pool_db[slot]);
	if (web_pool_db[slot] == NULL) {
		web_pool_db[slot] = db_open(web_conninfo, &err);
		if (web_pool_db[slot] == NULL) {
			log_warn("web", "cannot connect to the database: %s", err ? err : "error");
			pthread_mutex_lock(&web_pool_mu);
			web_pool_busy[slot] = false;
			pthread_cond_signal(&web_pool_cv);
			pthread_mutex_unlock(&web_pool_mu);
			return -1;
		}
	}
	*db_r = web_pool_db[slot];
	return slot;
}

static void web_pool_put(int slot)
{
	if (web_pool_db[slot] != NULL && !db_ok(web_pool_db[slot]))
		db_close(&web_pool_db[slot]);
	pthread_mutex_lock(&web_pool_mu);
	web_pool_busy[slot] = false;
	pthread_cond_signal(&web_pool_cv);
	pthread_mutex_unlock(&web_pool_mu);
}

void web_pool_use(int *busy_r, int *size_r)
{
	int busy = 0;

	pthread_mutex_lock(&web_pool_mu);
	for (int i = 0; i < LIMIT_WEB_DB_CONNS; i++)
		busy += web_pool_busy[i] ? 1 : 0;
	pthread_mutex_unlock(&web_pool_mu);
	*busy_r = busy;
	*size_r = LIMIT_WEB_DB_CONNS;
}

/* ---------- replies ---------- */

void web_reply_json(struct web_reply *rep, unsigned status, json_t *json)
{
	rep->status = status;
	json_decref(rep->json);
	rep->json = json;
}

void web_reply_error(struct web_reply *rep, unsigned status, const char *field, const char *fmt,
		     ...)
{
	char msg[320], safe[320];
	va_list ap;
	json_t *o = json_object();

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		str_lcpy(msg, "the request failed", sizeof(msg));
	va_end(ap);
	/* jansson refuses invalid UTF-8: fall back to an escaped copy */
	json_t *s = json_string(msg);
	if (s == NULL)
		s = json_string(str_printable(safe, sizeof(safe), msg, strlen(msg)));
	json_object_set_new(o, "error", s != NULL ? s : json_string("the request failed"));
	json_object_set_new(o, "field", json_string(field != NULL ? field : ""));
	web_reply_json(rep, status, o);
}

void web_reply_raw(struct web_reply *rep, unsigned status, const char *type, char *data,
		   size_t len)
{
	rep->status = status;
	free(rep->raw);
	rep->raw = data;
	rep->raw_len = len;
	rep->raw_type = type;
}

const char *web_req_arg(struct web_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *web_req_header(struct web_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static void web_add_headers(struct MHD_Response *r, const char *type)
{
	for (size_t i = 0; i < sizeof(web_security_headers) / sizeof(web_security_headers[0]); i++)
		MHD_add_response_header(r, web_security_headers[i].name, web_security_headers[i].value);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
}

/* Queues rep (consumed) on c. */
static enum MHD_Result web_queue(struct MHD_Connection *c, struct web_reply *rep)
{
	char *text;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (rep->raw != NULL) {
		json_decref(rep->json);
		rep->json = NULL;
		r = MHD_create_response_from_buffer(rep->raw_len, rep->raw, MHD_RESPMEM_MUST_FREE);
		if (r == NULL) {
			free(rep->raw);
			return MHD_NO;
		}
		rep->raw = NULL;
		web_add_headers(r, rep->raw_type);
		if (rep->attachment[0] != '\0') {
			char cd[160];
			if (str_fmt(cd, sizeof(cd), "attachment; filename=\"%s\"", rep->attachment) >= 0)
				MHD_add_response_header(r, "Content-Disposition", cd);
		}
	} else {
		if (rep->json == NULL)
			rep->json = json_object();
		text = json_dumps(rep->json, JSON_COMPACT);
		json_decref(rep->json);
		rep->json = NULL;
		if (text == NULL)
			abort();	/* out of memory */
		r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
		if (r == NULL) {
			free(text);
			return MHD_NO;
		}
		web_add_headers(r, "application/json; charset=utf-8");
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (rep->cookie[0] != '\0')
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, rep->cookie);
	if (rep->retry_after > 0) {
		char s[16];
		(void)str_fmt(s, sizeof(s), "%u", rep->retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, s);
	}
	ret = MHD_queue_response(c, rep->status != 0 ? rep->status : 500, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---------- static files ---------- */

static void web_static_load(const char *dir)
{
	for (size_t i = 0; i < WEB_NFILES; i++) {
		char path[4096];
		struct stat sb;
		int fd;

		if (str_fmt(path, sizeof(path), "%s/%s", dir, web_files[i].file) < 0)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    sb.st_size > LIMIT_WEB_STATIC_FILE) {
			log_warn("web", "static file %s not served: %s", path,
				 fd < 0 ? strerror(errno) : "not a regular file or too large");
			if (fd >= 0)
				close(fd);
			continue;
		}
		web_files[i].data = xmalloc((size_t)sb.st_size + 1);
		size_t got = 0;
		while (got < (size_t)sb.st_size) {
			ssize_t n = read(fd, web_files[i].data + got, (size_t)sb.st_size - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		close(fd);
		web_files[i].len = got;
	}
}

static void web_static_free(void)
{
	for (size_t i = 0; i < WEB_NFILES; i++) {
		xfree(web_files[i].data);
		web_files[i].len = 0;
	}
}

static enum MHD_Result web_static(struct MHD_Connection *c, const char *url, const char *method)
{
	struct web_reply rep = { 0 };
	struct MHD_Response *r;
	enum MHD_Result ret;

	for (size_t i = 0; i < WEB_NFILES; i++) {
		if (strcmp(web_files[i].url, url) != 0 || web_files[i].data == NULL)
			continue;
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
			web_reply_error(&rep, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "method not allowed");
			return web_queue(c, &rep);
		}
		r = MHD_create_response_from_buffer(web_files[i].len, web_files[i].data,
						    MHD_RESPMEM_PERSISTENT);
		if (r == NULL)
			return MHD_NO;
		web_add_headers(r, web_files[i].type);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
		ret = MHD_queue_response(c, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		return ret;
	}
	web_reply_error(&rep, MHD_HTTP_NOT_FOUND, NULL, "not found");
	return web_queue(c, &rep);
}

/* ---------- the API ---------- */

static void web_client_ip(struct MHD_Connection *c, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

	str_lcpy(out, "unknown", size);
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			  (socklen_t)size);
}

static bool web_method_has_body(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 ||
	       strcmp(method, "PUT") == 0;
}

/* Parses the body into req->body: 0, or -1 with rep set (400/415). */
static int web_parse_body(struct web_req *req, struct web_ctx *ctx, struct web_reply *rep)
{
	const char *ct;
	json_error_t je;
	char safe[160];

	if (!web_method_has_body(req->method) || buf_len(&ctx->body) == 0) {
		req->body = json_object();
		return 0;
	}
	/* a cross-site form cannot send application/json without a preflight */
	ct = web_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct == NULL || !str_casestarts(ct, strlen(ct), "application/json")) {
		web_reply_error(rep, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
				"the request body must be JSON (Content-Type: application/json)");
		return -1;
	}
	req->body = json_loadb((const char *)buf_data(&ctx->body), buf_len(&ctx->body),
			       JSON_REJECT_DUPLICATES, &je);
	if (req->body == NULL) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, NULL,
				"malformed JSON: %s (line %d, column %d)",
				str_printable(safe, sizeof(safe), je.text, strlen(je.text)), je.line,
				je.column);
		return -1;
	}
	if (!json_is_object(req->body)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, NULL, "the request body must be a JSON object");
		return -1;
	}
	return 0;
}

static void web_api(struct MHD_Connection *c, const char *url, const char *method,
		    struct web_ctx *ctx, struct web_reply *rep)
{
	struct web_req req = { .conn = c, .method = method, .path = url };
	const union MHD_ConnectionInfo *di = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
	const struct web_route *route;
	bool known;
	int slot;

	req.https = di != NULL && web_tls_daemon != NULL && di->daemon == web_tls_daemon;

	web_client_ip(c, req.ip, sizeof(req.ip));
	route = web_route_find(method, url, &req.param, &known);
	if (route == NULL) {
		if (known)
			web_reply_error(rep, MHD_HTTP_METHOD_NOT_ALLOWED, NULL,
					"method %s is not allowed here", method);
		else
			web_reply_error(rep, MHD_HTTP_NOT_FOUND, NULL, "no such API endpoint");
		return;
	}
	if (ctx->too_big) {
		web_reply_error(rep, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
				"the request body is larger than %d bytes", LIMIT_WEB_BODY);
		return;
	}
	if (route->flags & WEB_RAW_BODY) {
		req.body = json_object();
		req.raw_body = buf_data(&ctx->body);
		req.raw_len = buf_len(&ctx->body);
	} else if (web_parse_body(&req, ctx, rep) < 0) {
		goto out;
	}
	slot = web_pool_get(&req.db);
	if (slot < 0) {
		web_reply_error(rep, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
				"the database is unavailable; try again shortly");
		goto out;
	}
	if (!(route->flags & WEB_AUTH) || web_session_check(&req, rep) == 0) {
		if (route->flags & WEB_HASH)
			while (sem_wait(&web_hashers) < 0 && errno == EINTR)
				;
		route->fn(&req, rep);
		if (route->flags & WEB_HASH)
			sem_post(&web_hashers);
	}
	web_pool_put(slot);
out:
	json_decref(req.body);
}

/* ---------- libmicrohttpd callbacks ---------- */

static enum MHD_Result web_access(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct web_ctx *ctx = *con_cls;
	struct web_reply rep = { 0 };

	if (ctx == NULL) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		uint64_t n;

		ctx = xcalloc(1, sizeof(*ctx));
		buf_init(&ctx->body, LIMIT_WEB_BODY);
		*con_cls = ctx;
		/* checked before reserving anything (STYLE rule 3) */
		if (cl != NULL && (strnum_parse(cl, UINT64_MAX, &n) < 0 || n > LIMIT_WEB_BODY)) {
			ctx->answered = true;
			web_reply_error(&rep, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
					"the request body is larger than %d bytes", LIMIT_WEB_BODY);
			return web_queue(c, &rep);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!ctx->answered && !ctx->too_big &&
		    buf_append(&ctx->body, upload_data, *upload_data_size) < 0) {
			ctx->too_big = true;
			buf_free(&ctx->body);
		}
		if (ctx->too_big) {
			ctx->discarded += *upload_data_size;
			if (ctx->discarded > 4 * (size_t)LIMIT_WEB_BODY)
				return MHD_NO;	/* close: it is not stopping */
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (ctx->answered)
		return MHD_YES;
	if (strcmp(url, "/api") != 0 && strncmp(url, "/api/", 5) != 0) {
		const char *param;
		bool known;
		/* the public routes outside /api (autoconfiguration, metrics) */
		if (web_route_find(method, url, &param, &known) == NULL && !known)
			return web_static(c, url, method);
	}
	web_api(c, url, method, ctx, &rep);
	return web_queue(c, &rep);
}

static void web_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct web_ctx *ctx = *con_cls;

	if (ctx == NULL)
		return;
	buf_free(&ctx->body);
	free(ctx);
	*con_cls = NULL;
}

static void web_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void web_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	msg[strcspn(msg, "\r\n")] = '\0';
	log_warn("web", "libmicrohttpd: %s", msg);
}

/* Percent-decoding of the path and the query arguments: a decoded NUL
 * would silently cut the text ("/index.html%00.js"), so such a value
 * becomes empty instead (no route, no file, no argument). */
static size_t web_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	size_t n = MHD_http_unescape(s);

	if (strlen(s) != n) {
		s[0] = '\0';
		return 0;
	}
	return n;
}

/* ---------- start and stop ---------- */

/* "host:port" or "[v6]:port" into *addr. */
static int web_parse_listen(const char *listen, struct sockaddr_storage *addr,
			    const char **error_r)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	const char *h = listen;
	size_t hlen;
	uint64_t port;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;

	*error_r = "POSTERN_ADMIN_LISTEN must be address:port, e.g. 127.0.0.1:8080 or [::1]:8080";
	if (colon == NULL || strnum_parse(colon + 1, 65535, &port) < 0 || port == 0)
		return -1;
	hlen = (size_t)(colon - listen);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL)
		return -1;
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

void web_server_certs(const struct tls_cert_pem *certs, size_t n)
{
	if (web_tls_daemon != NULL && web_tls_update(certs, n) < 0)
		log_warn("web", "HTTPS: no certificate could be loaded; the old ones stay");
}

/* The HTTPS daemon: the same handler and limits as HTTP. Its failure is
 * logged, never fatal (HTTP keeps working). */
static void web_https_start(const char *listen, const char *hostname)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_TLS;
	struct tls_cert_pem *certs = NULL;
	const char *err = NULL;
	struct db *db = NULL;
	size_t n = 0;
	int slot;

	if (web_parse_listen(listen, &web_tls_addr, &err) < 0) {
		log_warn("web", "HTTPS not started: POSTERN_ADMIN_TLS_LISTEN must be address:port");
		return;
	}
	if (web_tls_addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	slot = web_pool_get(&db);
	if (slot >= 0) {
		if (db_certs_load(db, hostname, &certs, &n) == DB_OK && n > 0)
			(void)web_tls_update(certs, n);
		db_certs_free(certs, n);
		web_pool_put(slot);
	}
	if (!web_tls_ready()) {
		log_warn("web", "HTTPS not started: no certificate could be loaded");
		return;
	}
	web_tls_daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, web_access, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, web_mhd_log, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, web_unescape, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&web_tls_addr,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)LIMIT_WEB_CONNECTIONS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)LIMIT_WEB_CONNECTIONS_PER_IP,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LIMIT_WEB_CONN_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LIMIT_WEB_TIMEOUT_S,
		MHD_OPTION_NOTIFY_COMPLETED, web_completed, NULL,
		MHD_OPTION_HTTPS_CERT_CALLBACK, web_tls_cert_cb,
		MHD_OPTION_HTTPS_PRIORITIES, "SECURE:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
		MHD_OPTION_END);
	if (web_tls_daemon == NULL) {
		log_warn("web", "HTTPS not started: cannot bind %s (in use?)", listen);
		return;
	}
	log_info("web", "admin panel on https://%s/", listen);
}

int web_server_start(const char *listen, const char *conninfo, const char **error_r)
{
	const struct config *cfg = config_get();
	pthread_condattr_t ca;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	char url[320], dir[4096];
	struct db *db = NULL;
	int slot;

	if (web_daemon != NULL) {
		*error_r = "the admin panel is already running";
		return -1;
	}
	if (web_parse_listen(listen, &web_addr, error_r) < 0)
		return -1;
	if (web_addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&web_pool_cv, &ca);
	pthread_condattr_destroy(&ca);
	sem_init(&web_hashers, 0, LIMIT_WEB_HASHERS);
	web_conninfo = xstrdup(conninfo);
	web_inited = true;
	web_session_init();

	if (str_fmt(url, sizeof(url), "http://%s/", listen) < 0)
		str_lcpy(url, "http://127.0.0.1:8080/", sizeof(url));
	slot = web_pool_get(&db);
	if (slot < 0 || web_session_first_admin(db, url) < 0)
		log_warn("web", "could not check for a first admin account");
	if (slot >= 0)
		web_pool_put(slot);

	if (cfg != NULL && cfg->sql_dir != NULL &&
	    str_fmt(dir, sizeof(dir), "%s/../static", cfg->sql_dir) >= 0)
		web_static_load(dir);

	web_daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, web_access, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, web_mhd_log, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, web_unescape, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&web_addr,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)LIMIT_WEB_CONNECTIONS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)LIMIT_WEB_CONNECTIONS_PER_IP,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LIMIT_WEB_CONN_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LIMIT_WEB_TIMEOUT_S,
		MHD_OPTION_NOTIFY_COMPLETED, web_completed, NULL,
		MHD_OPTION_END);
	if (web_daemon == NULL) {
		*error_r = "cannot bind the admin panel's address (in use?)";
		web_server_stop();
		return -1;
	}
	log_info("web", "admin panel on %s", url);
	if (cfg != NULL && cfg->admin_tls_listen != NULL && strcmp(cfg->admin_tls_listen, "off") != 0)
		web_https_start(cfg->admin_tls_listen, cfg->hostname);
	return 0;
}

void web_server_stop(void)
{
	if (web_tls_daemon != NULL) {
		MHD_stop_daemon(web_tls_daemon);
		web_tls_daemon = NULL;
	}
	web_tls_free();
	if (web_daemon != NULL) {
		MHD_stop_daemon(web_daemon);
		web_daemon = NULL;
	}
	web_dns_check_drain();
	if (!web_inited)
		return;
	for (int i = 0; i < LIMIT_WEB_DB_CONNS; i++) {
		db_close(&web_pool_db[i]);
		web_pool_busy[i] = false;
	}
	web_static_free();
	sem_destroy(&web_hashers);
	pthread_cond_destroy(&web_pool_cv);
	xfree(web_conninfo);
	web_inited = false;
}
