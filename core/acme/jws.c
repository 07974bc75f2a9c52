/* jws.c - ES256 JSON Web Signatures for ACME (RFC 8555 6.2, RFC 7515,
 * RFC 7518 3.4: the signature is R || S, 32 octets each, not OpenSSL's
 * DER ECDSA-Sig-Value), JWK thumbprints (RFC 7638) and base64url
 * (RFC 4648 section 5, no padding). The protected header is built with
 * jansson, so URLs and nonces from the CA are escaped properly. */
#include "acme/jws.h"

#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "lib/mem.h"
#include "lib/str.h"

#define ACME_EC_COORD 32	/* P-256 field size in octets */

size_t acme_b64url(const unsigned char *in, size_t n, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

/* malloc'd base64url of n bytes. */
static char *acme_b64url_dup(const unsigned char *in, size_t n)
{
	char *out = xmalloc(ACME_B64URL_SIZE(n));
	acme_b64url(in, n, out);
	return out;
}

EVP_PKEY *acme_key_new(void)
{
	return EVP_EC_gen("P-256");
}

char *acme_key_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *pem = NULL;
	long len;

	if (b == NULL)
		return NULL;
	if (PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (len = BIO_get_mem_data(b, &data)) > 0) {
		pem = xstrndup(data, (size_t)len);
		OPENSSL_cleanse(data, (size_t)len);
	}
	BIO_free(b);
	return pem;
}

EVP_PKEY *acme_key_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (key != NULL && !EVP_PKEY_is_a(key, "EC")) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	ERR_clear_error();
	return key;
}

/* x and y of the public point, base64url. 0 or -1. */
static int acme_key_xy(EVP_PKEY *key, char x_r[64], char y_r[64])
{
	BIGNUM *x = NULL, *y = NULL;
	unsigned char bx[ACME_EC_COORD], by[ACME_EC_COORD];
	int rc = -1;

	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
	    BN_bn2binpad(x, bx, sizeof(bx)) == ACME_EC_COORD &&
	    BN_bn2binpad(y, by, sizeof(by)) == ACME_EC_COORD) {
		acme_b64url(bx, sizeof(bx), x_r);
		acme_b64url(by, sizeof(by), y_r);
		rc = 0;
	}
	BN_free(x);
	BN_free(y);
	ERR_clear_error();
	return rc;
}

char *acme_jwk(EVP_PKEY *key)
{
	char x[64], y[64], out[200];

	if (acme_key_xy(key, x, y) < 0 ||
	    str_fmt(out, sizeof(out), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		    x, y) < 0)
		return NULL;
	return xstrdup(out);
}

int acme_jwk_thumbprint(EVP_PKEY *key, char *out, size_t outsize)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *jwk = acme_jwk(key);
	int rc = -1;

	if (jwk != NULL && outsize >= ACME_B64URL_SIZE(sizeof(md)) &&
	    EVP_Digest(jwk, strlen(jwk), md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32) {
		acme_b64url(md, mdlen, out);
		rc = 0;
	}
	free(jwk);
	return rc;
}

/* ES256 over data: R || S (64 octets). 0 or -1. */
static int acme_sign(EVP_PKEY *key, const char *data, size_t len, unsigned char sig_r[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	size_t derlen = sizeof(der);
	const unsigned char *p = der;
	ECDSA_SIG *sig = NULL;
	int rc = -1;

	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)data, len) != 1)
		goto out;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	if (sig == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(sig), sig_r, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), sig_r + 32, 32) != 32)
		goto out;
	rc = 0;
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return rc;
}

char *acme_jws(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
	       const char *payload)
{
	json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce, "url", url);
	json_t *out = NULL;
	char *hdr_text = NULL, *hdr64 = NULL, *pay64 = NULL, *input = NULL, *result = NULL;
	unsigned char sig[64];
	char sig64[ACME_B64URL_SIZE(64)];

	if (hdr == NULL)
		return NULL;
	if (kid != NULL) {
		json_object_set_new(hdr, "kid", json_string(kid));
	} else {
		char *jwk = acme_jwk(key);
		json_t *j = jwk ? json_loads(jwk, 0, NULL) : NULL;
		free(jwk);
		if (j == NULL)
			goto out;
		json_object_set_new(hdr, "jwk", j);
	}
	hdr_text = json_dumps(hdr, JSON_COMPACT);
	if (hdr_text == NULL)
		goto out;
	hdr64 = acme_b64url_dup((const unsigned char *)hdr_text, strlen(hdr_text));
	pay64 = payload ? acme_b64url_dup((const unsigned char *)payload, strlen(payload))
			: xstrdup("");
	size_t inlen = strlen(hdr64) + 1 + strlen(pay64);
	input = xmalloc(inlen + 1);
	if (str_fmt(input, inlen + 1, "%s.%s", hdr64, pay64) < 0 ||
	    acme_sign(key, input, inlen, sig) < 0)
		goto out;
	acme_b64url(sig, sizeof(sig), sig64);
	out = json_pack("{s:s, s:s, s:s}", "protected", hdr64, "payload", pay64, "signature", sig64);
	if (out != NULL)
		result = json_dumps(out, JSON_COMPACT);
out:
	json_decref(hdr);
	json_decref(out);
	free(hdr_text);
	free(hdr64);
	free(pay64);
	free(input);
	return result;
}
