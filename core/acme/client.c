/* client.c - the ACME protocol (RFC 8555) over libcurl: GET directory
 * (7.1.1), HEAD newNonce (7.2), POST newAccount (7.3), newOrder (7.4),
 * POST-as-GET authorizations (7.5), respond to one challenge (7.5.1,
 * RFC 8737 for TLS-ALPN-01), poll, finalize with a CSR, download the chain
 * (7.4.2). Every request is a JWS (acme/jws.h); badNonce is retried with
 * the fresh nonce (6.5) LIMIT_ACME_NONCE_RETRIES times. Responses are
 * capped at LIMIT_ACME_RESPONSE_MAX, each request at
 * LIMIT_ACME_HTTP_TIMEOUT_S, polls at LIMIT_ACME_POLL_TRIES. HTTPS only. */
#include "acme/client.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme/jws.h"
#include "acme/responder.h"
#include "config/limits.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "net/tls.h"

#define ACME_NONCE_MAX 256
#define ACME_URL_MAX 2048
#define ACME_RETRY_AFTER_MAX_S 10	/* a longer Retry-After is cut (polls are bounded anyway) */

struct acme_client {
	const struct acme_settings *s;
	struct acme_account *acct;
	const atomic_bool *stop;
	CURL *curl;
	struct buf body;
	long status;
	char nonce[ACME_NONCE_MAX];
	char location[ACME_URL_MAX];
	char retry_after[16];	/* Retry-After of the last answer, "" when none */
	char problem[128];	/* type of the last problem document, "" when none */
	char *new_nonce, *new_account, *new_order;	/* from the directory */
	char *err;
	size_t errsize;
};

int acme_client_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int acme_fail(struct acme_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int acme_fail(struct acme_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(c->err, c->errsize, fmt, ap); /* truncation is fine for a message */
	va_end(ap);
	return -1;
}

/* --- HTTP --- */

static size_t acme_on_body(char *p, size_t size, size_t n, void *arg)
{
	struct acme_client *c = arg;
	return buf_append(&c->body, p, n) < 0 ? 0 : n; /* 0: curl aborts (too large) */
}

/* Copies a header's value (trimmed) when the line is "name: value". */
static void acme_header_value(const char *line, size_t len, const char *name, char *out,
			      size_t outsize)
{
	size_t nl = strlen(name);
	if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	const char *v = line + nl + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if ((size_t)(end - v) >= outsize)
		return; /* too long: ignored, the request fails later */
	memcpy(out, v, (size_t)(end - v));
	out[end - v] = '\0';
}

static size_t acme_on_header(char *p, size_t size, size_t n, void *arg)
{
	struct acme_client *c = arg;
	acme_header_value(p, n, "Replay-Nonce", c->nonce, sizeof(c->nonce));
	acme_header_value(p, n, "Location", c->location, sizeof(c->location));
	acme_header_value(p, n, "Retry-After", c->retry_after, sizeof(c->retry_after));
	return n;
}

static int acme_on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct acme_client *c = arg;
	return atomic_load(c->stop) ? 1 : 0;
}

/* One request: GET (post NULL), HEAD (head) or POST of a JWS. 0 when an
 * HTTP answer came (any status), -1 with c->err otherwise. */
static int acme_http(struct acme_client *c, const char *url, const char *post, bool head)
{
	struct curl_slist *hdrs = NULL;
	CURLcode rc;

	buf_reset(&c->body);
	c->location[0] = '\0';
	c->retry_after[0] = '\0';
	c->status = 0;
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, (long)LIMIT_ACME_HTTP_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "postern-acme/1");
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, acme_on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, acme_on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, acme_on_progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	if (c->s->ca_file != NULL)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->s->ca_file);
	if (head) {
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	} else if (post != NULL) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/jose+json");
		hdrs = curl_slist_append(hdrs, "Accept: application/pem-certificate-chain, "
					       "application/json");
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
	}
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		if (atomic_load(c->stop))
			return acme_fail(c, "stopped (posternd shutting down)");
		if (rc == CURLE_WRITE_ERROR)
			return acme_fail(c, "the CA's answer is larger than %d octets",
					 LIMIT_ACME_RESPONSE_MAX);
		return acme_fail(c, "cannot reach the CA at %.200s: %s", url,
				 curl_easy_strerror(rc));
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
	return 0;
}

/* The body as JSON (a NUL is appended), or NULL. */
static json_t *acme_json(struct acme_client *c)
{
	if (buf_len(&c->body) == 0)
		return NULL;
	return json_loadb((const char *)buf_data(&c->body), buf_len(&c->body), 0, NULL);
}

/* "what [type]: detail" of an RFC 7807 problem into c->err (the type
 * first: a reader sees it even when the detail is cut). */
static int acme_problem(struct acme_client *c, const char *what, json_t *prob)
{
	const char *type = json_string_value(json_object_get(prob, "type"));
	const char *detail = json_string_value(json_object_get(prob, "detail"));
	char safe[LIMIT_ACME_ERROR];

	if (type != NULL)
		str_lcpy(c->problem, type, sizeof(c->problem));
	if (detail == NULL)
		detail = "no detail";
	str_lcpy(safe, detail, sizeof(safe));
	for (char *p = safe; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' '; /* one line; UTF-8 kept, posternctl escapes for the terminal */
	return acme_fail(c, "%s [%s]: %s", what, type ? type : "no type", safe);
}

static int acme_fetch_nonce(struct acme_client *c)
{
	c->nonce[0] = '\0';
	if (acme_http(c, c->new_nonce, NULL, true) < 0)
		return -1;
	if (c->nonce[0] == '\0')
		return acme_fail(c, "the CA gave no Replay-Nonce (HTTP %ld)", c->status);
	return 0;
}

/* A signed POST (payload NULL = POST-as-GET); on success *json_r is the
 * parsed answer when json_r is not NULL. HTTP errors become c->err with the CA's
 * problem; badNonce is retried. */
static int acme_post(struct acme_client *c, const char *what, const char *url,
		     const char *payload, bool use_kid, json_t **json_r)
{
	for (int attempt = 0; attempt <= LIMIT_ACME_NONCE_RETRIES; attempt++) {
		if (c->nonce[0] == '\0' && acme_fetch_nonce(c) < 0)
			return -1;
		char *jws = acme_jws(c->acct->key, use_kid ? c->acct->url : NULL, c->nonce, url,
				     payload);
		if (jws == NULL)
			return acme_fail(c, "%s: cannot sign the request", what);
		c->nonce[0] = '\0'; /* used; the answer brings the next one */
		int rc = acme_http(c, url, jws, false);
		free(jws);
		if (rc < 0)
			return -1;
		if (c->status >= 200 && c->status < 300) {
			if (json_r != NULL) {
				*json_r = acme_json(c);
				if (*json_r == NULL)
					return acme_fail(c, "%s: the CA's answer is not JSON", what);
			}
			return 0;
		}
		json_t *prob = acme_json(c);
		const char *type = json_string_value(json_object_get(prob, "type"));
		if (type != NULL && strcmp(type, "urn:ietf:params:acme:error:badNonce") == 0 &&
		    attempt < LIMIT_ACME_NONCE_RETRIES) {
			json_decref(prob);
			continue;
		}
		if (prob != NULL)
			rc = acme_problem(c, what, prob);
		else
			rc = acme_fail(c, "%s: HTTP %ld from the CA", what, c->status);
		json_decref(prob);
		return rc;
	}
	return -1; /* not reached */
}

static const char *acme_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Waits before the next poll: the CA's Retry-After in seconds (RFC 8555
 * 7.4; an HTTP date is ignored) between LIMIT_ACME_POLL_MS and
 * ACME_RETRY_AFTER_MAX_S, else LIMIT_ACME_POLL_MS. */
static void acme_sleep_poll(const struct acme_client *c)
{
	uint64_t s = 0;
	long ms = LIMIT_ACME_POLL_MS;

	if (c->retry_after[0] != '\0' && strnum_parse(c->retry_after, UINT32_MAX, &s) == 0) {
		if (s > ACME_RETRY_AFTER_MAX_S)
			s = ACME_RETRY_AFTER_MAX_S;
		if ((long)s * 1000 > ms)
			ms = (long)s * 1000;
	}
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* --- steps --- */

static int acme_directory(struct acme_client *c)
{
	if (acme_http(c, c->s->directory, NULL, false) < 0)
		return -1;
	json_t *d = c->status == 200 ? acme_json(c) : NULL;
	const char *nn = acme_str(d, "newNonce"), *na = acme_str(d, "newAccount"),
		   *no = acme_str(d, "newOrder");
	if (nn == NULL || na == NULL || no == NULL) {
		json_decref(d);
		return acme_fail(c, "%.200s is not an ACME directory (HTTP %ld)", c->s->directory,
				 c->status);
	}
	c->new_nonce = xstrdup(nn);
	c->new_account = xstrdup(na);
	c->new_order = xstrdup(no);
	json_decref(d);
	return 0;
}

static int acme_register(struct acme_client *c)
{
	json_t *req = json_pack("{s:b}", "termsOfServiceAgreed", 1);
	json_t *ans = NULL;
	char *payload;
	int rc;

	if (c->s->email != NULL && c->s->email[0] != '\0') {
		char contact[320];
		if (str_fmt(contact, sizeof(contact), "mailto:%s", c->s->email) == 0)
			json_object_set_new(req, "contact", json_pack("[s]", contact));
	}
	payload = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	rc = acme_post(c, "new account", c->new_account, payload, false, &ans);
	free(payload);
	json_decref(ans);
	if (rc < 0)
		return -1;
	if (c->location[0] == '\0')
		return acme_fail(c, "new account: the CA gave no account URL");
	c->acct->url = xstrdup(c->location);
	return 0;
}

/* Token characters are base64url (8.1): they go into a URL path. */
static bool acme_token_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 256)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z') ||
		      (t[i] >= '0' && t[i] <= '9') || t[i] == '-' || t[i] == '_'))
			return false;
	return true;
}

/* Polls url (POST-as-GET) while its status is one of the waiting ones;
 * *json_r = the last answer. */
static int acme_poll(struct acme_client *c, const char *what, const char *url,
		     const char *const *waiting, json_t **json_r)
{
	for (int i = 0; i < LIMIT_ACME_POLL_TRIES; i++) {
		json_t *o = NULL;
		if (acme_post(c, what, url, NULL, true, &o) < 0)
			return -1;
		const char *st = acme_str(o, "status");
		bool wait = false;
		for (size_t k = 0; st != NULL && waiting[k] != NULL; k++)
			wait = wait || strcmp(st, waiting[k]) == 0;
		if (!wait) {
			*json_r = o;
			return 0;
		}
		json_decref(o);
		if (atomic_load(c->stop))
			return acme_fail(c, "stopped (posternd shutting down)");
		acme_sleep_poll(c);
	}
	return acme_fail(c, "%s: still pending after %d polls", what, LIMIT_ACME_POLL_TRIES);
}

static int acme_authorize(struct acme_client *c, const char *authz_url, const char *hostname,
			  const char *type, acme_progress_fn *progress, void *arg)
{
	static const char *const waiting[] = { "pending", "processing", NULL };
	json_t *authz = NULL, *final = NULL;
	struct acme_responder *resp = NULL;
	const char *rerr = NULL;
	char thumb[64], *keyauth = NULL;
	int rc = -1;

	if (acme_post(c, "authorization", authz_url, NULL, true, &authz) < 0)
		return -1;
	const char *st = acme_str(authz, "status");
	if (st != NULL && strcmp(st, "valid") == 0) {
		rc = 0; /* reused authorization (RFC 8555 7.1.4) */
		goto out;
	}
	json_t *chall = NULL, *ch;
	size_t i;
	json_array_foreach(json_object_get(authz, "challenges"), i, ch) {
		const char *t = acme_str(ch, "type");
		if (t != NULL && strcmp(t, type) == 0)
			chall = ch;
	}
	const char *token = acme_str(chall, "token"), *curl = acme_str(chall, "url");
	if (chall == NULL || token == NULL || curl == NULL || !acme_token_ok(token)) {
		acme_fail(c, "the CA offers no usable %s challenge for %s", type, hostname);
		goto out;
	}
	if (acme_jwk_thumbprint(c->acct->key, thumb, sizeof(thumb)) < 0) {
		acme_fail(c, "cannot compute the account key thumbprint");
		goto out;
	}
	size_t klen = strlen(token) + 1 + strlen(thumb) + 1;
	keyauth = xmalloc(klen);
	(void)str_fmt(keyauth, klen, "%s.%s", token, thumb); /* 8.1 */
	if (strcmp(type, "http-01") == 0)
		resp = acme_http01_start(c->s->listen_address, c->s->http_port, token, keyauth,
					 &rerr);
	else
		resp = acme_tlsalpn01_start(c->s->listen_address, c->s->tls_port, hostname,
					    keyauth, &rerr);
	if (resp == NULL) {
		acme_fail(c, "%s", rerr);
		goto out;
	}
	progress(arg, strcmp(type, "http-01") == 0 ? "validating (http-01)"
						   : "validating (tls-alpn-01)");
	json_t *ignored = NULL;
	if (acme_post(c, "challenge", curl, "{}", true, &ignored) < 0)
		goto out;
	json_decref(ignored);
	if (acme_poll(c, "authorization", authz_url, waiting, &final) < 0)
		goto out;
	if (strcmp(acme_str(final, "status") ? acme_str(final, "status") : "", "valid") != 0) {
		/* the failed challenge's error says why (8.3, 8.4) */
		json_t *prob = NULL;
		json_array_foreach(json_object_get(final, "challenges"), i, ch) {
			const char *t = acme_str(ch, "type");
			if (t != NULL && strcmp(t, type) == 0 && json_object_get(ch, "error"))
				prob = json_object_get(ch, "error");
		}
		char what[128];
		(void)str_fmt(what, sizeof(what), "%s challenge failed", type);
		if (prob != NULL)
			acme_problem(c, what, prob);
		else
			acme_fail(c, "%s: authorization %s", what,
				  acme_str(final, "status") ? acme_str(final, "status") : "?");
		goto out;
	}
	rc = 0;
out:
	acme_responder_stop(&resp);
	free(keyauth);
	json_decref(authz);
	json_decref(final);
	return rc;
}

/* A new P-256 key and a CSR for hostname (DER, base64url). */
static int acme_csr(EVP_PKEY **key_r, const char *hostname, char **csr64_r)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san = NULL;
	unsigned char *der = NULL;
	char sanv[300];
	int len, rc = -1;

	*csr64_r = NULL;
	if (key == NULL || req == NULL || exts == NULL ||
	    str_fmt(sanv, sizeof(sanv), "DNS:%s", hostname) < 0)
		goto out;
	if (X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_pubkey(req, key) != 1)
		goto out;
	if (strlen(hostname) <= 64 &&
	    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
				       (const unsigned char *)hostname, -1, -1, 0) != 1)
		goto out;
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sanv);
	if (san == NULL || sk_X509_EXTENSION_push(exts, san) == 0)
		goto out;
	san = NULL; /* owned by exts */
	if (X509_REQ_add_extensions(req, exts) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0)
		goto out;
	len = i2d_X509_REQ(req, &der);
	if (len <= 0)
		goto out;
	*csr64_r = xmalloc(ACME_B64URL_SIZE((size_t)len));
	acme_b64url(der, (size_t)len, *csr64_r);
	*key_r = key;
	key = NULL;
	rc = 0;
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

/* The chain's leaf must be for our key. */
static int acme_check_chain(struct acme_client *c, const char *pem, EVP_PKEY *key,
			    long long *not_after_r)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *leaf = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int ok = leaf != NULL && X509_check_private_key(leaf, key) == 1;

	X509_free(leaf);
	BIO_free(b);
	ERR_clear_error();
	if (!ok)
		return acme_fail(c, "the CA's certificate does not match our key");
	if (tls_cert_not_after(pem, not_after_r) < 0)
		return acme_fail(c, "the CA's certificate has no readable expiry date");
	return 0;
}

static int acme_finalize(struct acme_client *c, const char *order_url, json_t *order,
			 const char *hostname, struct acme_cert *cert_r)
{
	static const char *const waiting[] = { "pending", "ready", "processing", NULL };
	EVP_PKEY *key = NULL;
	char *csr = NULL, *payload = NULL;
	json_t *ans = NULL, *done = NULL;
	int rc = -1;

	const char *fin = acme_str(order, "finalize");
	if (fin == NULL)
		return acme_fail(c, "the order has no finalize URL");
	if (acme_csr(&key, hostname, &csr) < 0)
		return acme_fail(c, "cannot make the certificate request");
	json_t *req = json_pack("{s:s}", "csr", csr);
	payload = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (acme_post(c, "finalize", fin, payload, true, &ans) < 0)
		goto out;
	if (acme_poll(c, "order", order_url, waiting, &done) < 0)
		goto out;
	const char *st = acme_str(done, "status"), *curl = acme_str(done, "certificate");
	if (st == NULL || strcmp(st, "valid") != 0 || curl == NULL) {
		json_t *prob = json_object_get(done, "error");
		if (prob != NULL)
			acme_problem(c, "order", prob);
		else
			acme_fail(c, "order: %s", st ? st : "no status");
		goto out;
	}
	if (acme_post(c, "certificate", curl, NULL, true, NULL) < 0)
		goto out;
	if (buf_len(&c->body) == 0) {
		acme_fail(c, "certificate: empty answer");
		goto out;
	}
	if (buf_append(&c->body, "", 1) < 0) {
		acme_fail(c, "certificate: answer too large");
		goto out;
	}
	cert_r->chain_pem = xstrdup((const char *)buf_data(&c->body));
	if (acme_check_chain(c, cert_r->chain_pem, key, &cert_r->not_after) < 0 ||
	    (cert_r->key_pem = acme_key_pem(key)) == NULL) {
		acme_cert_clear(cert_r);
		goto out;
	}
	c->err[0] = '\0';
	rc = 0;
out:
	EVP_PKEY_free(key);
	free(csr);
	free(payload);
	json_decref(ans);
	json_decref(done);
	return rc;
}

int acme_issue(const struct acme_settings *s, struct acme_account *acct, const char *hostname,
	       const char *challenge, acme_progress_fn *progress, void *arg,
	       const atomic_bool *stop, struct acme_cert *cert_r, char *err, size_t errsize)
{
	struct acme_client c = { .s = s, .acct = acct, .stop = stop, .err = err,
				 .errsize = errsize };
	json_t *order = NULL;
	char *order_url = NULL;
	int rc = -1;

	memset(cert_r, 0, sizeof(*cert_r));
	err[0] = '\0';
	buf_init(&c.body, LIMIT_ACME_RESPONSE_MAX);
	c.curl = curl_easy_init();
	if (c.curl == NULL) {
		acme_fail(&c, "cannot initialise libcurl");
		goto out;
	}
	progress(arg, "reading the directory");
	if (acme_directory(&c) < 0)
		goto out;
	if (acct->url == NULL) {
		progress(arg, "registering the account");
		if (acme_register(&c) < 0)
			goto out;
	}
	progress(arg, "ordering");
	json_t *req = json_pack("{s:[{s:s, s:s}]}", "identifiers", "type", "dns", "value",
				hostname);
	char *payload = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	c.problem[0] = '\0';
	rc = acme_post(&c, "new order", c.new_order, payload, true, &order);
	if (rc < 0 && strcmp(c.problem, "urn:ietf:params:acme:error:accountDoesNotExist") == 0) {
		/* the CA forgot the account (a test CA restarted): register the key again */
		progress(arg, "registering the account again");
		xfree(acct->url);
		if (acme_register(&c) == 0)
			rc = acme_post(&c, "new order", c.new_order, payload, true, &order);
	}
	free(payload);
	if (rc < 0)
		goto out;
	rc = -1;
	if (c.location[0] == '\0') {
		acme_fail(&c, "new order: the CA gave no order URL");
		goto out;
	}
	order_url = xstrdup(c.location);
	json_t *authz;
	size_t i;
	json_array_foreach(json_object_get(order, "authorizations"), i, authz) {
		const char *u = json_string_value(authz);
		if (u == NULL) {
			acme_fail(&c, "new order: bad authorization list");
			goto out;
		}
		progress(arg, "authorizing");
		if (acme_authorize(&c, u, hostname, challenge, progress, arg) < 0)
			goto out;
	}
	progress(arg, "finalizing");
	rc = acme_finalize(&c, order_url, order, hostname, cert_r);
out:
	json_decref(order);
	free(order_url);
	free(c.new_nonce);
	free(c.new_account);
	free(c.new_order);
	if (c.curl != NULL)
		curl_easy_cleanup(c.curl);
	buf_free(&c.body);
	return rc;
}

void acme_cert_clear(struct acme_cert *cert)
{
	if (cert->key_pem != NULL)
		OPENSSL_cleanse(cert->key_pem, strlen(cert->key_pem));
	xfree(cert->key_pem);
	xfree(cert->chain_pem);
	cert->not_after = 0;
}
