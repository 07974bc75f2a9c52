/* jws.h - the JSON Web Signatures ACME requests are made of (RFC 8555
 * section 6.2, RFC 7515 flattened JSON serialization) with an ES256
 * account key (P-256, RFC 7518 3.4), the key's JWK thumbprint (RFC 7638)
 * and base64url without padding (RFC 4648 section 5). Pure: no network. */
#ifndef POSTERN_ACME_JWS_H
#define POSTERN_ACME_JWS_H

#include <stddef.h>

#include <openssl/evp.h>

/* Bytes needed to base64url-encode n bytes, NUL included. */
#define ACME_B64URL_SIZE(n) ((((n) + 2) / 3) * 4 + 1)
/* Encodes without padding; out holds ACME_B64URL_SIZE(n). Returns the length. */
size_t acme_b64url(const unsigned char *in, size_t n, char *out);

/* A new P-256 key, or NULL. */
EVP_PKEY *acme_key_new(void);
/* PEM (PKCS#8) of a private key, malloc'd, or NULL; and back. */
char *acme_key_pem(EVP_PKEY *key);
EVP_PKEY *acme_key_from_pem(const char *pem);

/* The public JWK {"crv","kty","x","y"} in RFC 7638's canonical order (no
 * spaces), malloc'd, or NULL. */
char *acme_jwk(EVP_PKEY *key);
/* base64url(SHA-256(canonical JWK)) into out (at least 44 bytes). 0 or -1. */
int acme_jwk_thumbprint(EVP_PKEY *key, char *out, size_t outsize);

/* The flattened JWS of payload (NULL = "" for POST-as-GET) for url with
 * nonce; kid (the account URL) or, when NULL, the JWK in the header.
 * malloc'd JSON, or NULL. */
char *acme_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
	       const char *payload);

#endif
