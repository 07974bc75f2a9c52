/* test_dkim.c - unit tests of core/mail/dkim*.c and authres_strip: RFC 6376
 * 3.4.5's canonicalization example and more cases (header and body, simple
 * and relaxed, l=, empty bodies), header field splitting, tag lists, the
 * From: domain, a sign/verify round trip with both key types through a
 * lookup callback (pass, changed body, changed header, no key, DNS
 * failure, revoked key), every prefix of a signed message verified without
 * reading past it (ASan), and the removal of forged Authentication-Results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/authres.h"
#include "mail/dkim.h"
#include "mail/dkim_private.h"

static void hash_of(const void *p, size_t n, unsigned char out[32])
{
	assert_int_equal(EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL), 1);
}

static void body_is(const char *body, bool relaxed, uint64_t limit, const char *expect)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char got[32], want[32];

	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_int_equal(dkim_canon_body(md, (const unsigned char *)body, strlen(body), relaxed,
					 limit), 0);
	assert_int_equal(EVP_DigestFinal_ex(md, got, NULL), 1);
	EVP_MD_CTX_free(md);
	hash_of(expect, strlen(expect), want);
	if (memcmp(got, want, 32) != 0)
		fail_msg("body %s (relaxed=%d) is not canonicalized to %s", body, relaxed, expect);
}

static void test_canon_body(void **state)
{
	(void)state;
	/* RFC 6376 3.4.5 */
	body_is(" C \r\nD \t E\r\n\r\n\r\n", true, UINT64_MAX, " C\r\nD E\r\n");
	body_is(" C \r\nD \t E\r\n\r\n\r\n", false, UINT64_MAX, " C \r\nD \t E\r\n");
	body_is("", true, UINT64_MAX, "");
	body_is("", false, UINT64_MAX, "\r\n");
	body_is("\r\n\r\n", false, UINT64_MAX, "\r\n");
	body_is("\r\n\r\n", true, UINT64_MAX, "");
	body_is("no final line break", true, UINT64_MAX, "no final line break\r\n");
	body_is("a\r\n\r\nb\r\n \r\n", true, UINT64_MAX, "a\r\n\r\nb\r\n");
	body_is("bare\nLF\n", false, UINT64_MAX, "bare\r\nLF\r\n");
	body_is("abc\r\ndef\r\n", true, 4, "abc\r");
	body_is("abc\r\n", true, 0, "");
}

static void header_is(const char *field, bool relaxed, const char *expect)
{
	struct buf b;

	buf_init(&b, 4096);
	assert_int_equal(dkim_canon_header(&b, (const unsigned char *)field, strlen(field),
					   relaxed), 0);
	assert_int_equal(buf_len(&b), strlen(expect));
	assert_memory_equal(buf_data(&b), expect, strlen(expect));
	buf_free(&b);
}

static void test_canon_header(void **state)
{
	(void)state;
	header_is("A: X\r\n", true, "a:X\r\n");
	header_is("B : Y\t\r\n\tZ  \r\n", true, "b:Y Z\r\n");
	header_is("B : Y\t\r\n\tZ  \r\n", false, "B : Y\t\r\n\tZ  \r\n");
	header_is("Subject:\r\n", true, "subject:\r\n");
	header_is("X-Many:   a   b\t\tc  \r\n", true, "x-many:a b c\r\n");
}

static void test_fields(void **state)
{
	static const char msg[] = "From: a@b.c\r\nSubject: one\r\n two\r\nNoColon\r\n"
				  "X:\r\n\r\nbody: not a field\r\n";
	struct dkim_field f[8];
	size_t body, n;

	(void)state;
	n = dkim_fields((const unsigned char *)msg, strlen(msg), f, 8, &body);
	assert_int_equal(n, 4);
	assert_true(dkim_field_is(&f[0], "FROM"));
	assert_int_equal(f[1].len, strlen("Subject: one\r\n two\r\n"));
	assert_int_equal(f[2].name_len, 0);
	assert_true(dkim_field_is(&f[3], "x"));
	assert_string_equal(msg + body, "body: not a field\r\n");
	char *v = dkim_field_value(&f[1]);
	assert_string_equal(v, "one two");
	free(v);
	/* the array bound is honoured */
	assert_int_equal(dkim_fields((const unsigned char *)msg, strlen(msg), f, 2, &body), 2);
	/* no empty line: everything is header */
	n = dkim_fields((const unsigned char *)"A: b", 4, f, 8, &body);
	assert_int_equal(n, 1);
	assert_int_equal(body, 4);
}

static void test_from_domain(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "Alice <alice@Example.COM>", "example.com" },
		{ "alice@example.com", "example.com" },
		{ "\"a@fake.test\" <u@real.test>", "real.test" },
		{ "(x@comment.test) u@real.test", "real.test" },
		{ "a@first.test, b@second.test", "first.test" },
		{ "<u@dot.test.>", "dot.test" },
		{ "no address here", NULL },
		{ "u@", NULL },
		{ "<>", NULL },
	};
	char out[254];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = dkim_from_domain(cases[i].in, out, sizeof(out));
		if (cases[i].out == NULL) {
			assert_int_equal(r, -1);
		} else {
			assert_int_equal(r, 0);
			assert_string_equal(out, cases[i].out);
		}
	}
}

static void test_tags(void **state)
{
	char ok[] = " v = 1 ; a=rsa-sha256;b= abc\r\n\tdef ;";
	char dup[] = "v=1; v=2";
	char bare[] = "v=1; junk";
	char empty[] = "";
	struct dkim_tags t;

	(void)state;
	assert_int_equal(dkim_tags_parse(ok, &t), 0);
	assert_int_equal(t.n, 3);
	assert_string_equal(dkim_tag(&t, "v"), "1");
	assert_string_equal(dkim_tag(&t, "b"), "abc\r\n\tdef");
	assert_null(dkim_tag(&t, "x"));
	assert_int_equal(dkim_tags_parse(dup, &t), -1);
	assert_int_equal(dkim_tags_parse(bare, &t), -1);
	assert_int_equal(dkim_tags_parse(empty, &t), 0);
	assert_int_equal(t.n, 0);
}

/* --- sign / verify round trip --- */

static char *lookup_record;	/* what the fake DNS answers; NULL = no record */
static int lookup_result;	/* -1 = temporary failure */

static int fake_lookup(const char *name, char **txt_r)
{
	(void)name;
	if (lookup_result < 0)
		return -1;
	if (lookup_record == NULL)
		return 1;
	*txt_r = xstrdup(lookup_record);
	return 0;
}

static const char message[] = "From: Test <t@example.test>\r\nTo: r@remote.test\r\n"
			      "Subject: round  trip\r\nDate: Sun, 22 Nov 2026 01:00:00 +0000\r\n"
			      "\r\nbody  line\r\n\r\nlast line\r\n";

static enum dkim_verdict verify(const char *msg, size_t len)
{
	struct dkim_sig_result r[LIMIT_DKIM_VERIFY_SIGS];
	size_t n = dkim_verify((const unsigned char *)msg, len, r, LIMIT_DKIM_VERIFY_SIGS,
			       fake_lookup);
	return n == 0 ? DKIM_NONE : r[0].verdict;
}

static char *signed_with(enum dkim_alg alg, char **record_r)
{
	char *pem, *pub, *hdr = NULL, *out;
	size_t hl;

	assert_int_equal(dkim_keygen(alg, &pem, &pub), 0);
	assert_int_equal(dkim_sign_pem(pem, "example.test", "sel", 1700000000,
				       (const unsigned char *)message, strlen(message), &hdr), 0);
	hl = strlen(hdr);
	out = xmalloc(hl + sizeof(message));
	memcpy(out, hdr, hl);
	memcpy(out + hl, message, sizeof(message));
	*record_r = xmalloc(strlen(pub) + 64);
	snprintf(*record_r, strlen(pub) + 64, "v=DKIM1; k=%s; p=%s", dkim_alg_keytype(alg), pub);
	free(pem);
	free(pub);
	free(hdr);
	return out;
}

static void round_trip(enum dkim_alg alg)
{
	char *rec, *msg = signed_with(alg, &rec), *copy;
	size_t len = strlen(msg);

	lookup_record = rec;
	lookup_result = 0;
	assert_int_equal(verify(msg, len), DKIM_PASS);
	copy = xstrdup(msg);
	*strstr(copy, "body  line") = 'B';
	assert_int_equal(verify(copy, len), DKIM_FAIL);
	free(copy);
	copy = xstrdup(msg);
	*strstr(copy, "round  trip") = 'R';
	assert_int_equal(verify(copy, len), DKIM_FAIL);
	free(copy);
	/* every prefix: no crash, no read past the end, never a pass (but
	 * without its final CRLF the body canonicalizes the same) */
	for (size_t i = 0; i < len; i++) {
		char *p = xmalloc(i + 1);
		memcpy(p, msg, i);
		if (i < len - 2)
			assert_int_not_equal(verify(p, i), DKIM_PASS);
		else
			assert_int_equal(verify(p, i), DKIM_PASS);
		free(p);
	}
	lookup_record = NULL;
	assert_int_equal(verify(msg, len), DKIM_PERMERROR);
	lookup_result = -1;
	assert_int_equal(verify(msg, len), DKIM_TEMPERROR);
	lookup_result = 0;
	lookup_record = "v=DKIM1; p=";
	assert_int_equal(verify(msg, len), DKIM_PERMERROR);	/* revoked */
	lookup_record = NULL;
	free(rec);
	free(msg);
}

static void test_round_trip_rsa(void **state)
{
	(void)state;
	round_trip(DKIM_ALG_RSA);
}

static void test_round_trip_ed25519(void **state)
{
	(void)state;
	round_trip(DKIM_ALG_ED25519);
}

static void test_unsigned_and_bad_signature(void **state)
{
	static const char bad[] = "DKIM-Signature: v=1; a=rsa-sha1; d=x.test; s=s; h=from; "
				  "bh=AAAA; b=AAAA\r\nFrom: a@x.test\r\n\r\nhi\r\n";
	static const char nofrom[] = "DKIM-Signature: v=1; a=rsa-sha256; d=x.test; s=s; h=to; "
				     "bh=AAAA; b=AAAA\r\nFrom: a@x.test\r\n\r\nhi\r\n";

	(void)state;
	assert_int_equal(verify(message, strlen(message)), DKIM_NONE);
	assert_int_equal(verify(bad, strlen(bad)), DKIM_NEUTRAL);
	assert_int_equal(verify(nofrom, strlen(nofrom)), DKIM_PERMERROR);
}

static void test_authres_strip(void **state)
{
	static const char msg[] =
		"Received: x\r\nAuthentication-Results: MX.Ours.Test; spf=pass\r\n"
		"Authentication-Results: other.test; dkim=pass\r\n"
		"Authentication-Results: (comment) mx.ours.test;\r\n\tdkim=pass\r\n"
		"Subject: s\r\n\r\nAuthentication-Results: mx.ours.test; in the body\r\n";
	static const char want[] =
		"Received: x\r\nAuthentication-Results: other.test; dkim=pass\r\n"
		"Subject: s\r\n\r\nAuthentication-Results: mx.ours.test; in the body\r\n";
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(authres_strip((const unsigned char *)msg, strlen(msg), "mx.ours.test", &b),
			 2);
	assert_int_equal(buf_len(&b), strlen(want));
	assert_memory_equal(buf_data(&b), want, strlen(want));
	buf_reset(&b);
	assert_int_equal(authres_strip((const unsigned char *)want, strlen(want), "mx.ours.test",
				       &b), 0);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_body),
		cmocka_unit_test(test_canon_header),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_round_trip_rsa),
		cmocka_unit_test(test_round_trip_ed25519),
		cmocka_unit_test(test_unsigned_and_bad_signature),
		cmocka_unit_test(test_authres_strip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
