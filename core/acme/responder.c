/* responder.c - HTTP-01 (RFC 8555 8.3) and TLS-ALPN-01 (RFC 8737)
 * challenge responders. HTTP-01 is a libmicrohttpd daemon with its own
 * polling thread (LIMIT_ACME_RESPONDER_CONNS connections, a short
 * timeout) that answers one path. TLS-ALPN-01 is a small blocking accept
 * thread: each handshake must offer ALPN "acme-tls/1" (RFC 8737 section 4)
 * and gets the validation certificate, then the connection is closed
 * without application data (SIGPIPE is ignored process-wide by posternd).
 * Both stop within ACME_ACCEPT_POLL_MS.
 * XXX: they bind their own port; TLS-ALPN-01 cannot share a port that a
 * mail or panel listener already holds (run the panel off 443). */
#include "acme/responder.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

#define ACME_ACCEPT_POLL_MS 200		/* stop flag checked this often */
#define ACME_HANDSHAKE_TIMEOUT_S 10	/* one validation handshake */
#define ACME_CHALLENGE_PATH "/.well-known/acme-challenge/"

struct acme_responder {
	struct MHD_Daemon *mhd;		/* HTTP-01 */
	char *path;			/* "/.well-known/acme-challenge/<token>" */
	char *body;			/* key authorization */
	int fd;				/* TLS-ALPN-01 listening socket, or -1 */
	SSL_CTX *ctx;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	atomic_int active;		/* TLS-ALPN-01 handshakes under way */
};

/* address ("0.0.0.0", "::", "127.0.0.1") and port into ss. 0 or -1. */
static int acme_sockaddr(const char *address, int port, struct sockaddr_storage *ss,
			 socklen_t *len_r)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(address, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len_r = sizeof(*s6);
		return inet_pton(AF_INET6, address, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len_r = sizeof(*s4);
	return inet_pton(AF_INET, address, &s4->sin_addr) == 1 ? 0 : -1;
}

/* --- HTTP-01 --- */

static enum MHD_Result acme_http01_access(void *cls, struct MHD_Connection *c, const char *url,
					  const char *method, const char *version,
					  const char *upload_data, size_t *upload_data_size,
					  void **con_cls)
{
	struct acme_responder *r = cls;
	bool hit = strcmp(url, r->path) == 0 &&
		   (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
	const char *body = hit ? r->body : "not found\n";
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain");
	ret = MHD_queue_response(c, hit ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND, resp);
	MHD_destroy_response(resp);
	if (hit)
		log_info("acme", "HTTP-01 challenge fetched");
	return ret;
}

struct acme_responder *acme_http01_start(const char *address, int port, const char *token,
					 const char *key_authorization, const char **error_r)
{
	struct acme_responder *r = xcalloc(1, sizeof(*r));
	struct sockaddr_storage ss;
	socklen_t sslen;
	size_t plen = strlen(ACME_CHALLENGE_PATH) + strlen(token) + 1;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

	r->fd = -1;
	r->path = xmalloc(plen);
	(void)str_fmt(r->path, plen, "%s%s", ACME_CHALLENGE_PATH, token);
	r->body = xstrdup(key_authorization);
	if (acme_sockaddr(address, port, &ss, &sslen) < 0) {
		*error_r = "bad listen address for the HTTP-01 responder";
		acme_responder_stop(&r);
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	r->mhd = MHD_start_daemon(flags, 0, NULL, NULL, acme_http01_access, r,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)LIMIT_ACME_RESPONDER_CONNS,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ACME_HANDSHAKE_TIMEOUT_S,
				  MHD_OPTION_END);
	if (r->mhd == NULL) {
		*error_r = "cannot bind the HTTP-01 port (in use, or no permission for port 80?)";
		acme_responder_stop(&r);
		return NULL;
	}
	log_info("acme", "HTTP-01 responder on port %d", port);
	return r;
}

/* --- TLS-ALPN-01 --- */

static int acme_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char proto[] = "\x0a" "acme-tls/1";
	unsigned char *sel = NULL;

	if (SSL_select_next_proto(&sel, outlen, proto, sizeof(proto) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 8737 section 4 */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* The validation certificate (RFC 8737 section 3): self-signed, SAN
 * dNSName hostname, critical id-pe-acmeIdentifier holding the DER OCTET
 * STRING of SHA-256(key authorization). */
static int acme_alpn_cert(SSL_CTX *ctx, const char *hostname, const char *keyauth)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	ASN1_OCTET_STRING *digest = ASN1_OCTET_STRING_new(), *wrapped = ASN1_OCTET_STRING_new();
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	X509_EXTENSION *ext = NULL, *san = NULL;
	unsigned char md[32], *der = NULL;
	unsigned int mdlen = 0;
	char sanv[300];
	int derlen, rc = -1;
	X509V3_CTX v3;

	if (key == NULL || x == NULL || digest == NULL || wrapped == NULL || oid == NULL)
		goto out;
	if (EVP_Digest(keyauth, strlen(keyauth), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    ASN1_OCTET_STRING_set(digest, md, (int)mdlen) != 1)
		goto out;
	derlen = i2d_ASN1_OCTET_STRING(digest, &der);
	if (derlen <= 0 || ASN1_OCTET_STRING_set(wrapped, der, derlen) != 1)
		goto out;
	ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, wrapped);
	if (ext == NULL || str_fmt(sanv, sizeof(sanv), "DNS:%s", hostname) < 0)
		goto out;
	if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400L) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, sanv);
	if (san == NULL || X509_add_ext(x, san, -1) != 1 || X509_add_ext(x, ext, -1) != 1 ||
	    X509_sign(x, key, EVP_sha256()) <= 0)
		goto out;
	if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
		goto out;
	rc = 0;
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	X509_EXTENSION_free(san);
	ASN1_OBJECT_free(oid);
	ASN1_OCTET_STRING_free(digest);
	ASN1_OCTET_STRING_free(wrapped);
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}

static void acme_alpn_serve(struct acme_responder *r, int fd)
{
	struct timeval tv = { ACME_HANDSHAKE_TIMEOUT_S, 0 };
	SSL *ssl = SSL_new(r->ctx);

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (ssl != NULL && SSL_set_fd(ssl, fd) == 1) {
		if (SSL_accept(ssl) == 1) {
			log_info("acme", "TLS-ALPN-01 validation handshake completed");
			(void)SSL_shutdown(ssl);
		} else {
			log_debug("acme", "TLS-ALPN-01: a handshake failed (no acme-tls/1?)");
		}
	}
	SSL_free(ssl);
	ERR_clear_error();
	close(fd);
}

struct acme_alpn_conn {
	struct acme_responder *r;
	int fd;
};

static void *acme_alpn_conn_thread(void *arg)
{
	struct acme_alpn_conn *c = arg;
	struct acme_responder *r = c->r;

	acme_alpn_serve(r, c->fd);
	free(c);
	atomic_fetch_sub(&r->active, 1);
	return NULL;
}

/* Accepts; each handshake on its own detached thread (the CA validates
 * from several places at once, and a slow client must not hold the
 * others up), at most LIMIT_ACME_RESPONDER_CONNS at a time. */
static void *acme_alpn_thread(void *arg)
{
	struct acme_responder *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		if (poll(&p, 1, ACME_ACCEPT_POLL_MS) <= 0)
			continue;
		int fd = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (atomic_load(&r->active) >= LIMIT_ACME_RESPONDER_CONNS) {
			close(fd);
			continue;
		}
		struct acme_alpn_conn *c = xmalloc(sizeof(*c));
		pthread_attr_t attr;
		pthread_t t;
		c->r = r;
		c->fd = fd;
		atomic_fetch_add(&r->active, 1);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, acme_alpn_conn_thread, c) != 0) {
			atomic_fetch_sub(&r->active, 1);
			close(fd);
			free(c);
		}
		pthread_attr_destroy(&attr);
	}
	/* handshakes end within ACME_HANDSHAKE_TIMEOUT_S; they use r->ctx */
	while (atomic_load(&r->active) > 0) {
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

struct acme_responder *acme_tlsalpn01_start(const char *address, int port, const char *hostname,
					    const char *key_authorization, const char **error_r)
{
	struct acme_responder *r = xcalloc(1, sizeof(*r));
	struct sockaddr_storage ss;
	socklen_t sslen;
	int one = 1;

	r->fd = -1;
	r->ctx = SSL_CTX_new(TLS_server_method());
	if (r->ctx == NULL || SSL_CTX_set_min_proto_version(r->ctx, TLS1_2_VERSION) != 1 ||
	    acme_alpn_cert(r->ctx, hostname, key_authorization) < 0) {
		*error_r = "cannot make the TLS-ALPN-01 certificate";
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(r->ctx, acme_alpn_select, NULL);
	if (acme_sockaddr(address, port, &ss, &sslen) < 0) {
		*error_r = "bad listen address for the TLS-ALPN-01 responder";
		goto fail;
	}
	r->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(r->fd, (struct sockaddr *)&ss, sslen) < 0 || listen(r->fd, 16) < 0) {
		*error_r = "cannot bind the TLS-ALPN-01 port (in use, or no permission for 443?)";
		goto fail;
	}
	if (pthread_create(&r->thread, NULL, acme_alpn_thread, r) != 0) {
		*error_r = "cannot start the TLS-ALPN-01 thread";
		goto fail;
	}
	r->thread_started = true;
	log_info("acme", "TLS-ALPN-01 responder on port %d", port);
	return r;
fail:
	acme_responder_stop(&r);
	return NULL;
}

void acme_responder_stop(struct acme_responder **rp)
{
	struct acme_responder *r = *rp;

	if (r == NULL)
		return;
	if (r->mhd != NULL)
		MHD_stop_daemon(r->mhd);
	if (r->thread_started) {
		atomic_store(&r->stop, true);
		pthread_join(r->thread, NULL);
	}
	if (r->fd >= 0)
		close(r->fd);
	SSL_CTX_free(r->ctx);
	free(r->path);
	free(r->body);
	free(r);
	*rp = NULL;
}
