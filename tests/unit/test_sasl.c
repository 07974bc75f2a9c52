/* test_sasl.c - unit tests of core/auth/sasl.c: PLAIN (RFC 4616) with and
 * without authzid, "=" as empty, malformed base64, missing NULs, empty user
 * or password, a foreign authzid, field limits at limit-1 / limit / limit+1
 * (LIMIT_ADDRESS, LIMIT_PASSWORD_MAX); LOGIN fields; wiping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/sasl.h"
#include "lib/base64.h"

/* base64 of raw[0..n) into a malloc'd string. */
static char *b64(const void *raw, size_t n)
{
	char *s = malloc(BASE64_ENCODED_SIZE(n));
	base64_encode(raw, n, s);
	return s;
}

static int plain(const void *raw, size_t n, struct sasl_creds *c)
{
	char *s = b64(raw, n);
	int r = sasl_plain_decode(s, strlen(s), c);
	free(s);
	return r;
}

static void test_plain_ok(void **state)
{
	(void)state;
	struct sasl_creds c;
	assert_int_equal(plain("\0user@example.com\0secret pw", 27, &c), 0);
	assert_string_equal(c.authzid, "");
	assert_string_equal(c.user, "user@example.com");
	assert_string_equal(c.pass, "secret pw");
	assert_int_equal(c.passlen, 9);

	/* authzid equal to the user (any case) is fine */
	assert_int_equal(plain("User@Example.com\0user@example.com\0pw", 36, &c), 0);
	assert_string_equal(c.user, "user@example.com");

	/* UTF-8 in user and password is passed through */
	assert_int_equal(plain("\0j\xc3\xb6rg\0p\xc3\xa4ss", 12, &c), 0);
	assert_string_equal(c.user, "j\xc3\xb6rg");
	assert_string_equal(c.pass, "p\xc3\xa4ss");

	sasl_creds_wipe(&c);
	assert_int_equal(c.passlen, 0);
	for (size_t i = 0; i < sizeof c.pass; i++)
		assert_int_equal(c.pass[i], 0);
}

static void test_plain_bad(void **state)
{
	(void)state;
	struct sasl_creds c;
	assert_int_equal(sasl_plain_decode("=", 1, &c), -1);
	assert_int_equal(sasl_plain_decode("", 0, &c), -1);
	assert_int_equal(sasl_plain_decode("AGFAYg", 6, &c), -1);		/* no padding */
	assert_int_equal(sasl_plain_decode("AGF AYg==", 9, &c), -1);		/* space */
	assert_int_equal(sasl_plain_decode("!!!!", 4, &c), -1);
	assert_int_equal(plain("user\0pass", 9, &c), -1);		/* one NUL */
	assert_int_equal(plain("userpass", 8, &c), -1);			/* none */
	assert_int_equal(plain("\0\0pass", 6, &c), -1);			/* empty user */
	assert_int_equal(plain("\0user\0", 6, &c), 0);			/* empty password: login fails later */
	assert_int_equal(c.passlen, 0);
	assert_int_equal(plain("\0user\0pa\0ss", 11, &c), -1);		/* NUL in password */
	assert_int_equal(plain("admin\0user\0pass", 15, &c), -1);	/* act as another */
	/* a failed decode leaves nothing behind */
	assert_int_equal(c.passlen, 0);
	assert_string_equal(c.user, "");
}

static void test_plain_limits(void **state)
{
	(void)state;
	struct sasl_creds c;
	char *raw = malloc(LIMIT_ADDRESS * 2 + LIMIT_PASSWORD_MAX + 16);
	for (int d = -1; d <= 1; d++) {
		/* user at the limit */
		size_t ul = (size_t)(LIMIT_ADDRESS + d);
		raw[0] = '\0';
		memset(raw + 1, 'u', ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, "pw", 2);
		assert_int_equal(plain(raw, ul + 4, &c), d <= 0 ? 0 : -1);
		if (d <= 0)
			assert_int_equal(strlen(c.user), ul);

		/* password at the limit */
		size_t pl = (size_t)(LIMIT_PASSWORD_MAX + d);
		memcpy(raw, "\0u\0", 3);
		memset(raw + 3, 'p', pl);
		assert_int_equal(plain(raw, pl + 3, &c), d <= 0 ? 0 : -1);
		if (d <= 0)
			assert_int_equal(c.passlen, pl);

		/* authzid at the limit (equal to the user) */
		size_t al = (size_t)(LIMIT_ADDRESS + d);
		memset(raw, 'a', al);
		raw[al] = '\0';
		memset(raw + al + 1, 'a', al);
		raw[2 * al + 1] = '\0';
		raw[2 * al + 2] = 'p';
		assert_int_equal(plain(raw, 2 * al + 3, &c), d <= 0 ? 0 : -1);
	}
	/* everything at its limit at once */
	size_t n = 0;
	memset(raw, 'z', LIMIT_ADDRESS);
	n += LIMIT_ADDRESS;
	raw[n++] = '\0';
	memset(raw + n, 'z', LIMIT_ADDRESS);
	n += LIMIT_ADDRESS;
	raw[n++] = '\0';
	memset(raw + n, 'p', LIMIT_PASSWORD_MAX);
	n += LIMIT_PASSWORD_MAX;
	assert_int_equal(plain(raw, n, &c), 0);
	assert_int_equal(c.passlen, LIMIT_PASSWORD_MAX);
	free(raw);
	sasl_creds_wipe(&c);
}

static void test_login_field(void **state)
{
	(void)state;
	char out[16];
	size_t n;
	assert_int_equal(sasl_b64_field("dXNlcg==", 8, out, sizeof out, &n), 0);	/* "user" */
	assert_string_equal(out, "user");
	assert_int_equal(n, 4);
	assert_int_equal(sasl_b64_field("=", 1, out, sizeof out, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	assert_int_equal(sasl_b64_field("", 0, out, sizeof out, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sasl_b64_field("dXNlcg", 6, out, sizeof out, &n), -1);
	assert_int_equal(sasl_b64_field("AA==", 4, out, sizeof out, &n), -1);	/* NUL */
	/* outsize-1 octets fit, outsize do not */
	char *s = b64("0123456789abcde", 15);
	assert_int_equal(sasl_b64_field(s, strlen(s), out, sizeof out, &n), 0);
	assert_int_equal(n, 15);
	free(s);
	s = b64("0123456789abcdef", 16);
	assert_int_equal(sasl_b64_field(s, strlen(s), out, sizeof out, &n), -1);
	free(s);
	s = b64("0123456789abcd", 14);
	assert_int_equal(sasl_b64_field(s, strlen(s), out, sizeof out, &n), 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_ok),
		cmocka_unit_test(test_plain_bad),
		cmocka_unit_test(test_plain_limits),
		cmocka_unit_test(test_login_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
