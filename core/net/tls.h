/* tls.h - OpenSSL server contexts: TLS 1.2+ with Mozilla "intermediate"
 * ciphers, one SSL_CTX per certificate, the one to use chosen by SNI.
 * Certificates come from the certificates table; the set is replaced as a
 * whole on reload (connections keep the context they started with). */
#ifndef POSTERN_NET_TLS_H
#define POSTERN_NET_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct tls_cert_pem {
	char **hostnames;	/* names this certificate serves (may contain "*.example.com") */
	size_t n_hostnames;
	char *cert_pem;		/* leaf first, then chain */
	char *key_pem;		/* unsealed private key */
};

int tls_init(void);
/* Replaces the loaded set. The first entry is the default (no SNI or no
 * match). Returns 0, or -1 with *error_r when none could be loaded (the old
 * set is kept). */
int tls_load(const struct tls_cert_pem *certs, size_t n, const char **error_r);
/* The SSL_CTX to start a server connection with (SNI switches it later), or
 * NULL when no certificate is loaded. The caller does SSL_new() on it. */
SSL_CTX *tls_server_ctx(void);
/* Generates a self-signed certificate (RSA 2048... or EC P-256) for hostname,
 * valid days days. Returns malloc'd PEM strings. 0 or -1. */
int tls_generate_selfsigned(const char *hostname, int days, char **cert_pem_r, char **key_pem_r);
/* Reads notAfter of the first certificate in a PEM string (unix time). */
int tls_cert_not_after(const char *cert_pem, long long *not_after_r);

#endif
