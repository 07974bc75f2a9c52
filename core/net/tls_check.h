/* tls_check.h - checks an uploaded certificate chain and private key before
 * they are stored (the panel and posternctl): PEM syntax, chain order,
 * dates, key match, the names the certificate covers. Pure OpenSSL work on
 * memory: thread-safe, no loop, no database. */
#ifndef POSTERN_NET_TLS_CHECK_H
#define POSTERN_NET_TLS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define TLS_CHECK_NAMES 64	/* DNS names kept from one certificate */
#define TLS_CHECK_NAME 256	/* one name, NUL included */

struct tls_check_info {
	char names[TLS_CHECK_NAMES][TLS_CHECK_NAME];	/* subjectAltName DNS names, lower-case */
	size_t n_names;
	char subject[256];	/* one-line RFC 2253 text */
	char issuer[256];
	long long not_before, not_after;	/* unix time */
	size_t chain_len;	/* certificates in the PEM, leaf included */
	bool self_signed;
};

/* Reads the leaf (first certificate) of cert_pem into info; no checks
 * beyond parsing. 0, or -1 with a sentence in msg. */
int tls_check_info(const char *cert_pem, struct tls_check_info *info, char *msg, size_t msgsize);

/* Checks an upload: at most LIMIT_CERT_PEM / LIMIT_CERT_KEY_PEM octets, one
 * to LIMIT_CERT_CHAIN certificates with the server certificate first and
 * each next one its issuer, every one valid at now, an unencrypted private
 * key matching the leaf, at least one DNS name. 0 with info filled, or -1
 * with *field_r ("cert_pem" or "key_pem") and a sentence in msg. */
int tls_check_pair(const char *cert_pem, const char *key_pem, time_t now,
		   struct tls_check_info *info, const char **field_r, char *msg, size_t msgsize);

/* True when the certificate's names cover host (exactly, or by a one-label
 * "*." wildcard, RFC 6125 6.4.3). */
bool tls_check_covers(const struct tls_check_info *info, const char *host);

/* Checks a hostname to serve (LDH labels, optional leading "*." label) and
 * writes it lower-cased into out (TLS_CHECK_NAME bytes). */
bool tls_check_hostname(const char *host, char *out);

#endif
