/* test_totp.c - RFC 6238 appendix B test vectors (SHA-1 key
 * "12345678901234567890", 8 digits), RFC 4226 appendix D HOTP values (6
 * digits), the verification window (previous, current, next step; not two
 * steps away), replay refusal through last_step, malformed codes, and base32
 * round trips (RFC 4648 section 10 vectors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/totp.h"

static const unsigned char key[] = "12345678901234567890";

static void test_rfc6238_vectors(void **state)
{
	static const struct {
		uint64_t t;
		uint32_t code;
	} v[] = { { 59, 94287082 }, { 1111111109, 7081804 }, { 1111111111, 14050471 },
		  { 1234567890, 89005924 }, { 2000000000, 69279037 }, { 20000000000ULL, 65353130 } };
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint32_t c;
		assert_int_equal(totp_hotp(key, 20, v[i].t / 30, 8, &c), 0);
		assert_int_equal(c, v[i].code);
	}
}

static void test_rfc4226_hotp(void **state)
{
	static const uint32_t want[] = { 755224, 287082, 359152, 969429, 338314,
					 254676, 287922, 162583, 399871, 520489 };
	(void)state;
	for (uint64_t i = 0; i < 10; i++) {
		uint32_t c;
		assert_int_equal(totp_hotp(key, 20, i, 6, &c), 0);
		assert_int_equal(c, want[i]);
	}
	uint32_t c;
	assert_int_equal(totp_hotp(key, 20, 0, 5, &c), -1);
	assert_int_equal(totp_hotp(key, 20, 0, 9, &c), -1);
}

static void code_at(uint64_t step, char out[7])
{
	uint32_t c;
	assert_int_equal(totp_hotp(key, 20, step, 6, &c), 0);
	snprintf(out, 7, "%06u", (unsigned)c);
}

static void test_window_and_replay(void **state)
{
	time_t now = 1111111111;
	int64_t step = now / 30;
	char c[7];
	(void)state;
	code_at((uint64_t)step, c);
	assert_int_equal(totp_verify(key, 20, c, now, 0), step);
	assert_int_equal(totp_verify(key, 20, c, now, step), -1);	/* used once */
	code_at((uint64_t)step - 1, c);
	assert_int_equal(totp_verify(key, 20, c, now, 0), step - 1);
	code_at((uint64_t)step + 1, c);
	assert_int_equal(totp_verify(key, 20, c, now, 0), step + 1);
	code_at((uint64_t)step - 2, c);
	assert_int_equal(totp_verify(key, 20, c, now, 0), -1);
	code_at((uint64_t)step + 2, c);
	assert_int_equal(totp_verify(key, 20, c, now, 0), -1);
	assert_int_equal(totp_verify(key, 20, "12345", now, 0), -1);
	assert_int_equal(totp_verify(key, 20, "1234567", now, 0), -1);
	assert_int_equal(totp_verify(key, 20, "12a456", now, 0), -1);
	assert_int_equal(totp_verify(key, 20, "", now, 0), -1);
}

static void test_base32(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = { { "", "" }, { "f", "MY" }, { "fo", "MZXQ" }, { "foo", "MZXW6" },
		  { "foob", "MZXW6YQ" }, { "fooba", "MZXW6YTB" }, { "foobar", "MZXW6YTBOI" } };
	char out[64];
	unsigned char back[64];
	size_t n;
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		totp_base32((const unsigned char *)v[i].in, strlen(v[i].in), out);
		assert_string_equal(out, v[i].out);
		assert_int_equal(totp_base32_decode(out, back, sizeof(back), &n), 0);
		assert_int_equal(n, strlen(v[i].in));
		assert_memory_equal(back, v[i].in, n);
	}
	assert_int_equal(totp_base32_decode("mzxw6", back, sizeof(back), &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(totp_base32_decode("MZ1W", back, sizeof(back), &n), -1);
	assert_int_equal(totp_base32_decode("MZXW6YTBOI", back, 3, &n), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_rfc4226_hotp),
		cmocka_unit_test(test_window_and_replay),
		cmocka_unit_test(test_base32),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
