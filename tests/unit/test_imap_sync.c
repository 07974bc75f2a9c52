/* test_imap_sync.c - the pure helpers of the IMAP sync extensions
 * (core/imap/cmd_sync.c, commands.c): MODSEQ number arguments (RFC 7162
 * 7: 63-bit, no sign, no leading junk) at and past their limits, and
 * mailbox names on the wire in modified UTF-7 or, after UTF8=ACCEPT
 * (RFC 6855 3), as UTF-8 quoted strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/session.h"

static struct imap_arg atom(const char *s)
{
	struct imap_arg a;

	memset(&a, 0, sizeof(a));
	a.type = IMAP_ARG_ATOM;
	a.str = s;
	a.len = strlen(s);
	return a;
}

static void test_arg_u64(void **state)
{
	static const struct {
		const char *in;
		uint64_t max;
		int rc;
		uint64_t out;
	} cases[] = {
		{ "0", INT64_MAX, 0, 0 },
		{ "1", INT64_MAX, 0, 1 },
		{ "9223372036854775807", INT64_MAX, 0, INT64_MAX },
		{ "9223372036854775808", INT64_MAX, -1, 0 },
		{ "4294967295", UINT32_MAX, 0, UINT32_MAX },
		{ "4294967296", UINT32_MAX, -1, 0 },
		{ "-1", INT64_MAX, -1, 0 },
		{ "+1", INT64_MAX, -1, 0 },
		{ "12a", INT64_MAX, -1, 0 },
		{ "", INT64_MAX, -1, 0 },
	};
	struct imap_arg s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_arg a = atom(cases[i].in);
		uint64_t v = 0;

		assert_int_equal(imap_arg_u64(&a, cases[i].max, &v), cases[i].rc);
		if (cases[i].rc == 0)
			assert_true(v == cases[i].out);
	}
	/* a quoted string is not a number */
	memset(&s, 0, sizeof(s));
	s.type = IMAP_ARG_STRING;
	s.str = "5";
	s.len = 1;
	{
		uint64_t v;

		assert_int_equal(imap_arg_u64(&s, INT64_MAX, &v), -1);
	}
}

static void check_out(bool utf8, const char *name, const char *want, int rc)
{
	struct imap_session s;
	struct buf b;

	memset(&s, 0, sizeof(s));
	s.utf8 = utf8;
	buf_init(&b, 4096);
	assert_int_equal(imap_mailbox_out(&s, &b, name), rc);
	if (rc == 0) {
		assert_int_equal(buf_len(&b), strlen(want));
		assert_memory_equal(buf_data(&b), want, strlen(want));
	}
	buf_free(&b);
}

static void test_mailbox_out(void **state)
{
	(void)state;
	check_out(false, "INBOX", "\"INBOX\"", 0);
	check_out(false, "\xc3\x89t\xc3\xa9", "\"&AMk-t&AOk-\"", 0);
	check_out(true, "\xc3\x89t\xc3\xa9", "\"\xc3\x89t\xc3\xa9\"", 0);
	check_out(true, "a\"b\\c", "\"a\\\"b\\\\c\"", 0);
	check_out(true, "Work/\xe5\xad\x90", "\"Work/\xe5\xad\x90\"", 0);
	/* not UTF-8: never written */
	check_out(true, "bad\xff", NULL, -1);
	check_out(false, "bad\xff", NULL, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arg_u64),
		cmocka_unit_test(test_mailbox_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
