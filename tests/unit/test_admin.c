/* test_admin.c - unit tests of the database-free parts of the store:
 * admin_domain_check / admin_address_check (LDH labels, label 63/64,
 * domain LIMIT_DOMAIN/+1, local part LIMIT_LOCAL_PART/+1, dot rules,
 * catch-all), password_weakness edges (LIMIT_PASSWORD_MIN-1/MIN,
 * MAX/MAX+1, NUL, one repeated character), password hash/verify, and the
 * seal key file + seal_text/seal_open round trip and tamper detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/password.h"
#include "auth/seal.h"
#include "config/limits.h"
#include "db/admin.h"
#include "lib/log.h"

static bool dom_ok(const char *in, const char *want)
{
	char out[LIMIT_DOMAIN + 1];
	struct admin_err err;

	if (!admin_domain_check(in, out, sizeof(out), &err))
		return false;
	return want == NULL || strcmp(out, want) == 0;
}

static void test_domain_check(void **state)
{
	char label63[64], label64[65], longname[LIMIT_DOMAIN + 2];
	struct admin_err err;
	char out[LIMIT_DOMAIN + 1];

	(void)state;
	assert_true(dom_ok("Example.COM", "example.com"));
	assert_true(dom_ok("xn--bcher-kva.example", "xn--bcher-kva.example"));
	assert_true(dom_ok("a-b.c0", NULL));
	assert_true(dom_ok("localhost", NULL));
	assert_false(dom_ok("", NULL));
	assert_false(dom_ok(".example.com", NULL));
	assert_false(dom_ok("example.com.", NULL));
	assert_false(dom_ok("exa..mple", NULL));
	assert_false(dom_ok("-a.com", NULL));
	assert_false(dom_ok("a-.com", NULL));
	assert_false(dom_ok("a_b.com", NULL));
	assert_false(dom_ok("a b.com", NULL));
	assert_false(dom_ok("b\xc3\xbc" "cher.de", NULL));
	assert_false(dom_ok("10.0.0.1", NULL));

	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';
	assert_true(dom_ok(label63, NULL));
	assert_false(dom_ok(label64, NULL));

	/* LIMIT_DOMAIN octets made of 63-octet labels and dots */
	memset(longname, 'a', sizeof(longname));
	for (size_t i = 63; i < sizeof(longname); i += 64)
		longname[i] = '.';
	longname[LIMIT_DOMAIN] = '\0';
	if (longname[LIMIT_DOMAIN - 1] == '.')
		longname[LIMIT_DOMAIN - 1] = 'a';
	assert_true(dom_ok(longname, NULL));
	longname[LIMIT_DOMAIN] = 'a';
	longname[LIMIT_DOMAIN + 1] = '\0';
	assert_false(admin_domain_check(longname, out, sizeof(out), &err));
	assert_non_null(strstr(err.msg, "longer than"));
}

static bool addr_ok(const char *in, bool catchall, const char *want_local, const char *want_dom)
{
	char local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1];
	struct admin_err err;

	memset(err.msg, 0, sizeof(err.msg));
	if (!admin_address_check(in, catchall, local, domain, &err)) {
		assert_true(strlen(err.msg) > 0);
		assert_null(strchr(err.msg, '\n'));
		return false;
	}
	return (want_local == NULL || strcmp(local, want_local) == 0) &&
	       (want_dom == NULL || strcmp(domain, want_dom) == 0);
}

static void test_address_check(void **state)
{
	char lp[LIMIT_LOCAL_PART + 32];

	(void)state;
	assert_true(addr_ok("Alice@Example.com", false, "Alice", "example.com"));
	assert_true(addr_ok("a.b+tag@example.com", false, "a.b+tag", NULL));
	assert_true(addr_ok("o'neil@example.com", false, NULL, NULL));
	assert_true(addr_ok("j\xc3\xb6rg@example.com", false, NULL, NULL));	/* RFC 6531 */
	assert_false(addr_ok("noat", false, NULL, NULL));
	assert_false(addr_ok("a@b@c.com", false, NULL, NULL));
	assert_false(addr_ok("@example.com", false, NULL, NULL));
	assert_true(addr_ok("@example.com", true, "", "example.com"));
	assert_false(addr_ok(".a@example.com", false, NULL, NULL));
	assert_false(addr_ok("a.@example.com", false, NULL, NULL));
	assert_false(addr_ok("a..b@example.com", false, NULL, NULL));
	assert_false(addr_ok("a b@example.com", false, NULL, NULL));
	assert_false(addr_ok("\"ab\"@example.com", false, NULL, NULL));
	assert_false(addr_ok("a\tb@example.com", false, NULL, NULL));
	assert_false(addr_ok("a@", false, NULL, NULL));
	assert_false(addr_ok("a@bad..dom", false, NULL, NULL));

	memset(lp, 'x', LIMIT_LOCAL_PART);
	snprintf(lp + LIMIT_LOCAL_PART, 32, "@example.com");
	assert_true(addr_ok(lp, false, NULL, NULL));		/* limit */
	memset(lp, 'x', LIMIT_LOCAL_PART + 1);
	snprintf(lp + LIMIT_LOCAL_PART + 1, 31, "@example.com");
	assert_false(addr_ok(lp, false, NULL, NULL));		/* limit + 1 */
}

static void test_password_weakness(void **state)
{
	static char pw[LIMIT_PASSWORD_MAX + 2];

	(void)state;
	assert_non_null(password_weakness("", 0));
	assert_non_null(password_weakness(NULL, 0));
	memset(pw, 'a', sizeof(pw));
	pw[1] = 'b';
	assert_non_null(password_weakness(pw, LIMIT_PASSWORD_MIN - 1));
	assert_null(password_weakness(pw, LIMIT_PASSWORD_MIN));
	assert_null(password_weakness(pw, LIMIT_PASSWORD_MAX));
	assert_non_null(password_weakness(pw, LIMIT_PASSWORD_MAX + 1));
	assert_non_null(password_weakness("aaaaaaaaaaaa", 12));
	assert_non_null(password_weakness("abcd\0efghij", 11));
	assert_null(password_weakness("correct horse", 13));
}

static void test_password_hash(void **state)
{
	char hash[256];

	(void)state;
	assert_int_equal(password_hash("correct horse", 13, hash, sizeof(hash)), 0);
	assert_memory_equal(hash, "$argon2id$", 10);
	assert_true(password_verify(hash, "correct horse", 13));
	assert_false(password_verify(hash, "correct horsE", 13));
	assert_false(password_verify(hash, "correct hors", 12));
	assert_false(password_verify("", "x", 1));
	assert_int_equal(password_hash("x", 1, hash, 16), -1);	/* buffer too small */
}

static void test_seal(void **state)
{
	char dir[] = "/tmp/postern-test-seal-XXXXXX";
	char path[128];
	const char *error = NULL;
	struct stat sb;
	char *s1, *s2, *o;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_null(seal_text("x"));	/* no key yet */
	assert_int_equal(seal_init(dir, &error), 0);
	snprintf(path, sizeof(path), "%s/seal.key", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 32);
	assert_int_equal(sb.st_mode & 0777, 0600);

	s1 = seal_text("-----BEGIN PRIVATE KEY-----\nsecret\n");
	s2 = seal_text("-----BEGIN PRIVATE KEY-----\nsecret\n");
	assert_non_null(s1);
	assert_string_not_equal(s1, s2);	/* fresh nonce each time */
	o = seal_open(s1);
	assert_string_equal(o, "-----BEGIN PRIVATE KEY-----\nsecret\n");
	free(o);
	o = seal_text("");
	free(s2);
	s2 = seal_open(o);
	assert_string_equal(s2, "");
	free(o);
	free(s2);
	s1[10] = s1[10] == 'A' ? 'B' : 'A';	/* tampered */
	assert_null(seal_open(s1));
	assert_null(seal_open("short"));
	assert_null(seal_open(""));
	free(s1);

	/* the same key is read back */
	assert_int_equal(seal_init(dir, &error), 0);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_check),
		cmocka_unit_test(test_address_check),
		cmocka_unit_test(test_password_weakness),
		cmocka_unit_test(test_password_hash),
		cmocka_unit_test(test_seal),
	};
	log_init(NULL, "error");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
