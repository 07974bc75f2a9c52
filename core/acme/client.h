/* client.h - one ACME order from start to certificate (RFC 8555 section
 * 7): directory, nonce, account, order, authorizations with HTTP-01 or
 * TLS-ALPN-01, finalization with a CSR, download of the chain. Blocking
 * (libcurl): the ACME thread only, never the loop. */
#ifndef POSTERN_ACME_CLIENT_H
#define POSTERN_ACME_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

struct acme_settings {
	const char *directory;		/* directory URL (https) */
	const char *ca_file;		/* CA bundle for the directory's HTTPS, NULL = system */
	const char *email;		/* account contact, or NULL */
	const char *listen_address;	/* where the responders bind */
	int http_port;			/* HTTP-01 responder */
	int tls_port;			/* TLS-ALPN-01 responder */
};

struct acme_account {
	EVP_PKEY *key;		/* ES256 account key (owned by the caller) */
	char *url;		/* account URL ("kid"), malloc'd; NULL = register */
};

struct acme_cert {
	char *chain_pem;	/* leaf first, malloc'd */
	char *key_pem;		/* the certificate's private key, malloc'd (wipe it) */
	long long not_after;	/* unix time */
};

/* Called at each step with a short text ("authorizing", ...). */
typedef void acme_progress_fn(void *arg, const char *step);

/* One-time libcurl set-up, before any thread uses it. 0 or -1. */
int acme_client_init(void);

/* Issues a certificate for hostname with challenge "http-01" or
 * "tls-alpn-01". Registers the account first when acct->url is NULL (and
 * sets it). Stops early when *stop becomes true. 0 and *cert_r filled, or
 * -1 with the reason (the CA's problem detail when it gave one) in err. */
int acme_issue(const struct acme_settings *s, struct acme_account *acct, const char *hostname,
	       const char *challenge, acme_progress_fn *progress, void *arg,
	       const atomic_bool *stop, struct acme_cert *cert_r, char *err, size_t errsize);
void acme_cert_clear(struct acme_cert *cert);

#endif
