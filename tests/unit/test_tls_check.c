/* test_tls_check.c - the pure parts of core/net/tls_check.c: hostname
 * syntax (labels of 1..63 LDH characters, no leading/trailing hyphen, one
 * leading "*." label at most, 253 octets), lower-casing, and coverage by a
 * certificate's names (exact, one-label wildcard, never two labels, never
 * the bare parent); plus a PEM with no certificate and a damaged one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/tls_check.h"

static void test_hostname_syntax(void **state)
{
	char out[TLS_CHECK_NAME], big[300];
	(void)state;
	assert_true(tls_check_hostname("Mail.Example.COM", out));
	assert_string_equal(out, "mail.example.com");
	assert_true(tls_check_hostname("*.example.com", out));
	assert_true(tls_check_hostname("a-b.c", out));
	assert_true(tls_check_hostname("localhost", out));
	assert_false(tls_check_hostname("", out));
	assert_false(tls_check_hostname("-a.example", out));
	assert_false(tls_check_hostname("a-.example", out));
	assert_false(tls_check_hostname("a..example", out));
	assert_false(tls_check_hostname("a.example.", out));
	assert_false(tls_check_hostname("*", out));
	assert_false(tls_check_hostname("*.", out));
	assert_false(tls_check_hostname("a.*.example", out));
	assert_false(tls_check_hostname("**.example", out));
	assert_false(tls_check_hostname("bad name", out));
	assert_false(tls_check_hostname("b\xc3\xa4" "d.example", out));
	memset(big, 'a', 63);
	big[63] = '\0';
	assert_true(tls_check_hostname(big, out));	/* a 63-octet label */
	memset(big, 'a', 64);
	big[64] = '\0';
	assert_false(tls_check_hostname(big, out));	/* 64 */
	for (int i = 0; i < 254; i++)
		big[i] = i % 2 ? '.' : 'a';
	big[253] = '\0';
	assert_true(tls_check_hostname(big, out));	/* 253 octets */
	big[253] = 'a';
	big[254] = '\0';
	assert_false(tls_check_hostname(big, out));	/* 254 */
}

static void test_covers(void **state)
{
	struct tls_check_info info = { .n_names = 2 };
	(void)state;
	strcpy(info.names[0], "mail.example.com");
	strcpy(info.names[1], "*.example.org");
	assert_true(tls_check_covers(&info, "mail.example.com"));
	assert_true(tls_check_covers(&info, "MAIL.example.com"));
	assert_false(tls_check_covers(&info, "example.com"));
	assert_true(tls_check_covers(&info, "imap.example.org"));
	assert_true(tls_check_covers(&info, "*.example.org"));
	assert_false(tls_check_covers(&info, "a.b.example.org"));
	assert_false(tls_check_covers(&info, "example.org"));
	assert_false(tls_check_covers(&info, "*.example.com"));
}

static void test_pair_refusals(void **state)
{
	struct tls_check_info info;
	const char *field = NULL;
	char msg[256];
	(void)state;
	assert_int_equal(tls_check_pair("hello", "x", 0, &info, &field, msg, sizeof(msg)), -1);
	assert_string_equal(field, "cert_pem");
	assert_non_null(strstr(msg, "no certificate found"));
	assert_int_equal(tls_check_pair("-----BEGIN CERTIFICATE-----\nnot base64!\n"
					"-----END CERTIFICATE-----\n", "x", 0, &info, &field, msg,
					sizeof(msg)), -1);
	assert_string_equal(field, "cert_pem");
	assert_non_null(strstr(msg, "damaged"));
	assert_int_equal(tls_check_pair("-----BEGIN PRIVATE KEY-----\n", "x", 0, &info, &field, msg,
					sizeof(msg)), -1);
	assert_non_null(strstr(msg, "private key"));
	assert_int_equal(tls_check_info("nothing", &info, msg, sizeof(msg)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostname_syntax),
		cmocka_unit_test(test_covers),
		cmocka_unit_test(test_pair_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
