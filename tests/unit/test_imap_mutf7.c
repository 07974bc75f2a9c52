/* test_imap_mutf7.c - modified UTF-7 (core/imap/mutf7.c): the RFC 3501
 * 5.1.3 example both ways, round trips through every UTF-16 shape
 * (surrogate pairs, runs of 1-3 units), and strict refusals: unterminated,
 * shifted ASCII, bad padding, lone surrogates, 8-bit, invalid UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/mutf7.h"

static char out[512];

static const char *enc(const char *s)
{
	struct buf b;

	buf_init(&b, sizeof(out) - 1);
	if (imap_mutf7_encode(s, strlen(s), &b) < 0) {
		assert_int_equal(buf_len(&b), 0);
		buf_free(&b);
		return "ERR";
	}
	memcpy(out, buf_data(&b), buf_len(&b));
	out[buf_len(&b)] = '\0';
	buf_free(&b);
	return out;
}

static const char *dec(const char *s)
{
	struct buf b;

	buf_init(&b, sizeof(out) - 1);
	if (imap_mutf7_decode(s, strlen(s), &b) < 0) {
		assert_int_equal(buf_len(&b), 0);
		assert_false(imap_mutf7_valid(s, strlen(s)));
		buf_free(&b);
		return "ERR";
	}
	assert_true(imap_mutf7_valid(s, strlen(s)));
	memcpy(out, buf_data(&b), buf_len(&b));
	out[buf_len(&b)] = '\0';
	buf_free(&b);
	return out;
}

static void test_rfc3501(void **state)
{
	/* "~peter/mail/台北/日本語" */
	const char *utf8 = "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";

	(void)state;
	assert_string_equal(enc(utf8), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	assert_string_equal(dec("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), utf8);
	assert_string_equal(enc("&Jjo!"), "&-Jjo!");
	assert_string_equal(dec("&-Jjo!"), "&Jjo!");
	assert_string_equal(enc("INBOX"), "INBOX");
	assert_string_equal(enc(""), "");
	assert_string_equal(dec(""), "");
	assert_string_equal(enc("Entw\xc3\xbcrfe"), "Entw&APw-rfe");	/* Entwürfe */
	assert_string_equal(dec("Entw&APw-rfe"), "Entw\xc3\xbcrfe");
	assert_string_equal(enc("\xe2\x98\xba!"), "&Jjo-!");		/* ☺! */
	assert_string_equal(dec("&Jjo-!"), "\xe2\x98\xba!");
	assert_string_equal(enc("\xf0\x9f\x93\xa7"), "&2D3c5w-");	/* U+1F4E7 */
	assert_string_equal(dec("&2D3c5w-"), "\xf0\x9f\x93\xa7");
	assert_string_equal(enc("a\tb"), "a&AAk-b");			/* control: shifted */
	assert_string_equal(dec("a&AAk-b"), "a\tb");
}

static void test_round_trip(void **state)
{
	static const char *names[] = {
		"\xc3\xa9", "\xc3\xa9\xc3\xa9", "\xc3\xa9\xc3\xa9\xc3\xa9", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
		"a\xc3\xa9" "b\xe4\xb8\xad" "c", "\xf0\x9f\x98\x80\xc3\xa9\xf0\x9f\x98\x80",
		"&&\xc3\xa9&", "\x7f", "\xef\xbf\xbf",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char e[128];

		snprintf(e, sizeof(e), "%s", enc(names[i]));
		assert_string_not_equal(e, "ERR");
		assert_string_equal(dec(e), names[i]);
	}
}

static void test_invalid(void **state)
{
	(void)state;
	assert_string_equal(dec("&Jjo"), "ERR");		/* unterminated */
	assert_string_equal(dec("&"), "ERR");
	assert_string_equal(dec("&AGE-"), "ERR");		/* "a" shifted */
	assert_string_equal(dec("&ACY-"), "ERR");		/* "&" shifted */
	assert_string_equal(dec("&Jjp-"), "ERR");		/* padding bits not zero */
	assert_string_equal(dec("&JjoA-"), "ERR");		/* a whole extra sextet */
	assert_string_equal(dec("&Jj-"), "ERR");		/* 12 bits: half a unit */
	assert_string_equal(dec("&Jjo=-"), "ERR");		/* "=" is not modified BASE64 */
	assert_string_equal(dec("&Jj/-"), "ERR");		/* "/" neither */
	assert_string_equal(dec("&2D0-"), "ERR");		/* lone high surrogate */
	assert_string_equal(dec("&3OcAIQ-"), "ERR");		/* lone low surrogate */
	assert_string_equal(dec("&2D0AIQ-"), "ERR");		/* high then non-surrogate */
	assert_string_equal(dec("&AAA-"), "ERR");		/* U+0000 */
	assert_string_equal(dec("&Jjo-&Jjo-"), "ERR");		/* two runs back to back */
	assert_string_equal(dec("&Jjo-&-"), "\xe2\x98\xba&");	/* "&-" after a run is fine */
	assert_string_equal(dec("caf\xc3\xa9"), "ERR");		/* 8-bit */
	assert_string_equal(dec("a\tb"), "ERR");		/* control */
	assert_string_equal(enc("\xc3"), "ERR");		/* truncated UTF-8 */
	assert_string_equal(enc("\xc0\xaf"), "ERR");		/* overlong */
	assert_string_equal(enc("\xed\xa0\x80"), "ERR");	/* surrogate */
	assert_string_equal(enc("\xf4\x90\x80\x80"), "ERR");	/* > U+10FFFF */
	assert_string_equal(enc("\xff"), "ERR");
	assert_false(imap_mutf7_utf8_valid((const unsigned char *)"\xe2\x98", 2));
	assert_true(imap_mutf7_utf8_valid((const unsigned char *)"\xe2\x98\xba", 3));
}

static void test_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 5);
	assert_int_equal(imap_mutf7_encode("\xe2\x98\xba", 3, &b), 0);	/* "&Jjo-" */
	buf_reset(&b);
	assert_int_equal(imap_mutf7_encode("\xe2\x98\xba!", 4, &b), -1);
	assert_int_equal(buf_len(&b), 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3501),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
