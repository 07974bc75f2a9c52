/* dkim.h - DKIM (RFC 6376) signing and verification of our own on OpenSSL:
 * rsa-sha256 and ed25519-sha256 (RFC 8463), relaxed/relaxed when signing,
 * every canonicalization when verifying. Keys live in dkim_keys (private
 * keys sealed with auth/seal.h); signing keys are cached per domain for
 * LIMIT_DKIM_KEY_CACHE_S. Everything here blocks (DB, DNS): worker threads
 * only, never the loop. */
#ifndef POSTERN_MAIL_DKIM_H
#define POSTERN_MAIL_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

enum dkim_alg {
	DKIM_ALG_RSA = 1,	/* rsa-sha256, 2048-bit keys generated */
	DKIM_ALG_ED25519,	/* ed25519-sha256 */
};

/* The entry point of the outbound queue runner. Signs msg (the whole
 * message, CRLF lines) with every active key of its From: domain.
 * Returns 0 with *headers_r = malloc'd "DKIM-Signature: ...\r\n" line(s)
 * to prepend, or *headers_r = NULL when the domain has no key (or the
 * message has no usable From:); -1 on error (DB, unsealing, OpenSSL).
 * Thread-safe; each caller passes its own db. */
int dkim_sign_message(struct db *db, const unsigned char *msg, size_t len, char **headers_r);

/* Signs with one PEM private key (rsa or ed25519) for domain/selector at
 * time t; appends one header line to *headers_r (malloc'd, grown).
 * 0 or -1 (bad key, no From:, OpenSSL failure). For posternctl's test aid
 * and dkim_sign_message. */
int dkim_sign_pem(const char *key_pem, const char *domain, const char *selector, int64_t t,
		  const unsigned char *msg, size_t len, char **headers_r);

/* A new key pair: *private_pem_r (PKCS#8 PEM) and *public_b64_r (the p=
 * value: SubjectPublicKeyInfo for RSA, the raw 32 octets for Ed25519,
 * base64), both malloc'd. 0 or -1. */
int dkim_keygen(enum dkim_alg alg, char **private_pem_r, char **public_b64_r);
/* "rsa" / "ed25519". */
const char *dkim_alg_keytype(enum dkim_alg alg);

/* Drops the cached keys (posternctl after dkim generate; tests). */
void dkim_cache_flush(void);

/* --- verification --- */

enum dkim_verdict {
	DKIM_NONE = 0,		/* no signature */
	DKIM_PASS,
	DKIM_FAIL,		/* signature or body hash does not match */
	DKIM_NEUTRAL,		/* a signature we cannot evaluate (unknown algorithm ...) */
	DKIM_TEMPERROR,		/* key lookup failed temporarily */
	DKIM_PERMERROR,		/* malformed signature or key record, no key */
};

struct dkim_sig_result {
	enum dkim_verdict verdict;
	char domain[254];	/* d=, lower case */
	char selector[64];	/* s= */
	char alg[16];		/* "rsa-sha256" ... */
	char why[96];		/* for the Authentication-Results comment and logs */
};

/* Verifies up to LIMIT_DKIM_VERIFY_SIGS DKIM-Signature fields of msg, fetching keys
 * through core/dns (or through lookup when not NULL: tests). Fills
 * results[0..*n_r-1]; returns the number of signatures evaluated. */
typedef int (*dkim_txt_lookup_fn)(const char *name, char **txt_r);	/* 0 found, 1 none, -1 temp */
size_t dkim_verify(const unsigned char *msg, size_t len, struct dkim_sig_result *results,
		   size_t max, dkim_txt_lookup_fn lookup);
const char *dkim_verdict_name(enum dkim_verdict v);

/* --- shared with the verifier and SPF/DMARC (dkim_canon.c) --- */

/* One header field of a message: [start, start+len) covers "Name: value"
 * with its folded continuation lines and its final line break. */
struct dkim_field {
	const unsigned char *start;
	size_t len;
	size_t name_len;	/* the name, without the colon or spaces before it */
};

/* Header fields of msg in order, at most max; stops at the empty line.
 * Returns the count and *body_off_r the offset of the body (len when none). */
size_t dkim_fields(const unsigned char *msg, size_t len, struct dkim_field *out, size_t max,
		   size_t *body_off_r);
bool dkim_field_is(const struct dkim_field *f, const char *name);
/* The value of a field (after the colon), unfolded, trimmed: malloc'd. */
char *dkim_field_value(const struct dkim_field *f);
/* The domain of the first address of a From: value, lower case, into out.
 * 0, or -1 when there is none. */
int dkim_from_domain(const char *from_value, char *out, size_t outsize);

#endif
