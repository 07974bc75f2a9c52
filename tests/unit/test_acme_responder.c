/* test_acme_responder.c - unit tests of core/acme/responder.c on loopback:
 * the HTTP-01 responder serves the key authorization at exactly
 * /.well-known/acme-challenge/<token> and 404 elsewhere (RFC 8555 8.3); the
 * TLS-ALPN-01 responder completes a handshake only when the client offers
 * ALPN "acme-tls/1", with a certificate whose SAN is the hostname and whose
 * critical id-pe-acmeIdentifier holds the DER OCTET STRING of
 * SHA-256(key authorization) (RFC 8737 section 3), even while another
 * client holds a connection open; a second start on a busy port fails with
 * a sentence. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "acme/responder.h"

#define KEYAUTH "tok_en-1.thumbprint"

/* A free loopback port (bound to 0, read back, closed). */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* One HTTP/1.0 GET; the whole answer into out. */
static void http_get(int port, const char *path, char *out, size_t outsize)
{
	char req[256];
	size_t got = 0;
	ssize_t n;
	int fd = connect_to(port);
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: h.example\r\n\r\n", path);

	assert_int_equal(write(fd, req, (size_t)len), len);
	while (got < outsize - 1 && (n = read(fd, out + got, outsize - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
}

static void test_http01(void **state)
{
	int port = free_port();
	const char *err = NULL;
	char answer[2048];
	struct acme_responder *r =
		acme_http01_start("127.0.0.1", port, "tok_en-1", KEYAUTH, &err);

	assert_non_null(r);
	http_get(port, "/.well-known/acme-challenge/tok_en-1", answer, sizeof(answer));
	assert_non_null(strstr(answer, " 200 "));
	assert_non_null(strstr(answer, "\r\n\r\n" KEYAUTH));
	http_get(port, "/.well-known/acme-challenge/other", answer, sizeof(answer));
	assert_non_null(strstr(answer, " 404 "));
	assert_null(strstr(answer, KEYAUTH));
	http_get(port, "/.well-known/acme-challenge/tok_en-1/x", answer, sizeof(answer));
	assert_non_null(strstr(answer, " 404 "));

	struct acme_responder *busy =
		acme_http01_start("127.0.0.1", port, "tok_en-1", KEYAUTH, &err);
	assert_null(busy);
	assert_non_null(strstr(err, "cannot bind the HTTP-01 port"));
	acme_responder_stop(&r);
	assert_null(r);
}

/* A TLS handshake offering alpn (wire format); the peer certificate or NULL. */
static X509 *alpn_handshake(int port, const unsigned char *alpn, unsigned alpn_len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	int fd = connect_to(port);
	X509 *peer = NULL;

	SSL_set_tlsext_host_name(ssl, "mail.example.test");
	assert_int_equal(SSL_set_alpn_protos(ssl, alpn, alpn_len), 0);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) == 1) {
		const unsigned char *sel = NULL;
		unsigned sel_len = 0;
		SSL_get0_alpn_selected(ssl, &sel, &sel_len);
		assert_int_equal(sel_len, 10);
		assert_memory_equal(sel, "acme-tls/1", 10);
		peer = SSL_get1_peer_certificate(ssl);
	}
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return peer;
}

static void test_tlsalpn01(void **state)
{
	int port = free_port();
	const char *err = NULL;
	struct acme_responder *r =
		acme_tlsalpn01_start("127.0.0.1", port, "mail.example.test", KEYAUTH, &err);

	assert_non_null(r);
	/* without acme-tls/1: refused */
	assert_null(alpn_handshake(port, (const unsigned char *)"\x02h2\x08http/1.1", 12));

	/* a client that connects and says nothing does not hold up the CA */
	int idle = connect_to(port);
	time_t t0 = time(NULL);
	X509 *x = alpn_handshake(port, (const unsigned char *)"\x0a" "acme-tls/1", 11);
	assert_non_null(x);
	assert_true(time(NULL) - t0 < 5);
	close(idle);
	assert_int_equal(X509_check_host(x, "mail.example.test", 0, 0, NULL), 1);
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	int at = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(at >= 0);
	X509_EXTENSION *ext = X509_get_ext(x, at);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
	unsigned char want[34] = { 0x04, 0x20 };
	unsigned int mdlen = 0;
	assert_int_equal(EVP_Digest(KEYAUTH, strlen(KEYAUTH), want + 2, &mdlen, EVP_sha256(), NULL),
			 1);
	assert_int_equal(ASN1_STRING_length(v), 34);
	assert_memory_equal(ASN1_STRING_get0_data(v), want, 34);
	ASN1_OBJECT_free(oid);
	X509_free(x);

	struct acme_responder *busy =
		acme_tlsalpn01_start("127.0.0.1", port, "mail.example.test", KEYAUTH, &err);
	assert_null(busy);
	assert_non_null(strstr(err, "cannot bind the TLS-ALPN-01 port"));
	acme_responder_stop(&r);
	assert_null(r);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as posternd: a peer gone mid-handshake is not fatal */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http01),
		cmocka_unit_test(test_tlsalpn01),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
