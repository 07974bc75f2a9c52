/* test_acme_jws.c - unit tests of core/acme/jws.c: base64url without
 * padding against RFC 4648 section 10 (and the two URL-safe digits), the
 * canonical JWK and its RFC 7638 thumbprint for the P-256 key of RFC 7517
 * appendix A.1, and flattened JWS objects (RFC 7515, RFC 8555 6.2) whose
 * protected header carries alg/nonce/url and jwk or kid, with an ES256
 * signature (R || S) that OpenSSL verifies, for a payload and for
 * POST-as-GET (empty payload). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

#include "acme/jws.h"

static void test_b64url(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },		{ "f", "Zg" },		{ "fo", "Zm8" },
		{ "foo", "Zm9v" },	{ "foob", "Zm9vYg" },	{ "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" }, { "\xfb\xff", "-_8" }, { "\xff\xff\xfe", "___-" },
	};
	char out[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = acme_b64url((const unsigned char *)cases[i].in, strlen(cases[i].in), out);
		assert_string_equal(out, cases[i].out);
		assert_int_equal(n, strlen(cases[i].out));
	}
}

/* RFC 7517 appendix A.1: the public P-256 key (uncompressed point). */
static EVP_PKEY *rfc7517_key(void)
{
	static const unsigned char pub[] =
		"\x04\x30\xa0\x42\x4c\xd2\x1c\x29\x44\x83\x8a\x2d\x75\xc9\x2b\x37\xe7\x6e\xa2\x0d"
		"\x9f\x00\x89\x3a\x3b\x4e\xee\x8a\x3c\x0a\xaf\xec\x3e\xe0\x4b\x65\xe9\x24\x56\xd9"
		"\x88\x8b\x52\xb3\x79\xbd\xfb\xd5\x1e\xe8\x69\xef\x1f\x0f\xc6\x5b\x66\x59\x69\x5b"
		"\x6c\xce\x08\x17\x23";
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;

	assert_non_null(b);
	assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
							 "prime256v1", 0), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub,
							  sizeof(pub) - 1), 1);
	params = OSSL_PARAM_BLD_to_param(b);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static void test_jwk_thumbprint(void **state)
{
	EVP_PKEY *key = rfc7517_key();
	char *jwk = acme_jwk(key);
	char thumb[64];

	assert_string_equal(jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\","
				 "\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
				 "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\"}");
	assert_int_equal(acme_jwk_thumbprint(key, thumb, sizeof(thumb)), 0);
	assert_string_equal(thumb, "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s");
	assert_int_equal(acme_jwk_thumbprint(key, thumb, 43), -1); /* no room for the NUL */
	free(jwk);
	EVP_PKEY_free(key);
}

/* base64url (no padding) back to bytes; malloc'd, *n_r set. */
static unsigned char *unb64url(const char *s, size_t *n_r)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t len = strlen(s);
	unsigned char *out = malloc(len + 1);
	unsigned v = 0;
	int bits = 0;

	*n_r = 0;
	for (size_t i = 0; i < len; i++) {
		const char *p = strchr(a, s[i]);
		assert_non_null(p);
		v = (v << 6) | (unsigned)(p - a);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[(*n_r)++] = (unsigned char)(v >> bits);
		}
	}
	out[*n_r] = '\0';
	return out;
}

/* Checks one JWS: header fields, payload, ES256 signature. */
static void check_jws(EVP_PKEY *key, const char *jws, const char *kid, const char *payload)
{
	json_t *o = json_loads(jws, 0, NULL);
	const char *prot, *pay, *sig;
	unsigned char *hdr_text, *pay_text, *rs;
	size_t n;

	assert_non_null(o);
	assert_int_equal(json_unpack(o, "{s:s,s:s,s:s}", "protected", &prot, "payload", &pay,
				     "signature", &sig), 0);
	hdr_text = unb64url(prot, &n);
	json_t *hdr = json_loads((const char *)hdr_text, 0, NULL);
	assert_non_null(hdr);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(hdr, "nonce")), "n\"once");
	assert_string_equal(json_string_value(json_object_get(hdr, "url")),
			    "https://ca.example/acme/new-order");
	if (kid != NULL) {
		assert_string_equal(json_string_value(json_object_get(hdr, "kid")), kid);
		assert_null(json_object_get(hdr, "jwk"));
	} else {
		assert_null(json_object_get(hdr, "kid"));
		assert_string_equal(json_string_value(json_object_get(json_object_get(hdr, "jwk"),
								      "kty")), "EC");
	}
	pay_text = unb64url(pay, &n);
	assert_string_equal((const char *)pay_text, payload ? payload : "");

	/* R || S -> DER -> verify over "protected.payload" */
	rs = unb64url(sig, &n);
	assert_int_equal(n, 64);
	ECDSA_SIG *es = ECDSA_SIG_new();
	assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)),
			 1);
	unsigned char *der = NULL;
	int derlen = i2d_ECDSA_SIG(es, &der);
	char input[4096];
	int inlen = snprintf(input, sizeof(input), "%s.%s", prot, pay);
	assert_true(inlen > 0 && (size_t)inlen < sizeof(input));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(md, der, (size_t)derlen, (unsigned char *)input,
					  (size_t)inlen), 1);
	input[0] ^= 1; /* and a changed header does not verify */
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_not_equal(EVP_DigestVerify(md, der, (size_t)derlen, (unsigned char *)input,
					      (size_t)inlen), 1);
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	free(rs);
	free(pay_text);
	free(hdr_text);
	json_decref(hdr);
	json_decref(o);
}

static void test_jws(void **state)
{
	EVP_PKEY *key = acme_key_new();
	char *pem = acme_key_pem(key);
	EVP_PKEY *again = acme_key_from_pem(pem);
	const char *url = "https://ca.example/acme/new-order";

	assert_non_null(again);
	assert_int_equal(EVP_PKEY_eq(key, again), 1);
	for (int i = 0; i < 20; i++) { /* R or S with leading zero octets come up too */
		char *a = acme_jws(again, NULL, "n\"once", url, "{\"identifiers\":[]}");
		char *b = acme_jws(again, "https://ca.example/acct/1", "n\"once", url, NULL);
		check_jws(key, a, NULL, "{\"identifiers\":[]}");
		check_jws(key, b, "https://ca.example/acct/1", NULL);
		free(a);
		free(b);
	}
	assert_null(acme_key_from_pem("-----BEGIN PRIVATE KEY-----\nnot a key\n"));
	free(pem);
	EVP_PKEY_free(again);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_jwk_thumbprint),
		cmocka_unit_test(test_jws),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
