/* test_lib.c - unit tests of core/lib: buf caps (max-1, max, max+1),
 * consume/reserve/shrink; strnum edges (empty, overflow, max boundary,
 * non-digits); base64 round trips and strict decoding; str_printable
 * escaping and truncation; log lines (text and JSON) captured from stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"

/* --- buf --- */

static void test_buf_cap(void **state)
{
	struct buf b;
	char big[100];
	memset(big, 'a', sizeof(big));

	buf_init(&b, 10);
	assert_null(b.base);
	assert_int_equal(buf_append(&b, big, 9), 0);	/* max-1 */
	assert_int_equal(buf_len(&b), 9);
	assert_int_equal(buf_room(&b), 1);
	assert_int_equal(buf_append(&b, big, 1), 0);	/* exactly max */
	assert_int_equal(buf_len(&b), 10);
	assert_int_equal(buf_append(&b, big, 1), -1);	/* max+1 */
	assert_int_equal(buf_len(&b), 10);
	buf_free(&b);

	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, big, 11), -1);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_append(&b, big, 10), 0);
	buf_free(&b);
	assert_null(b.base);
}

static void test_buf_printf(void **state)
{
	struct buf b;

	buf_init(&b, 8);
	assert_int_equal(buf_printf(&b, "%s", "1234567"), 0);	/* max-1 */
	assert_int_equal(buf_printf(&b, "%d", 8), 0);		/* max */
	assert_memory_equal(buf_data(&b), "12345678", 8);
	assert_int_equal(buf_printf(&b, "x"), -1);		/* max+1 */
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%s", "123456789"), -1);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_append_str(&b, "ab"), 0);
	assert_int_equal(buf_printf(&b, "%s-%d", "c", 5), 0);
	assert_memory_equal(buf_data(&b), "abc-5", 5);
	buf_free(&b);

	/* Room allocated past max (a large buffer, consumed from the front):
	 * the fast path must still refuse what passes max, leaving len alone. */
	buf_init(&b, 64);
	for (int i = 0; i < 60; i++)
		assert_int_equal(buf_append(&b, "x", 1), 0);
	buf_consume(&b, 50);
	assert_int_equal(buf_printf(&b, "%s", "0123456789012345678901234567890123456789012345678901234"),
			 -1);	/* 10 + 55 = 65: max+1 */
	assert_int_equal(buf_len(&b), 10);
	assert_int_equal(buf_printf(&b, "%s", "012345678901234567890123456789012345678901234567890123"),
			 0);	/* 10 + 54 = 64: max */
	assert_int_equal(buf_len(&b), 64);
	assert_memory_equal(buf_data(&b) + 10, "0123456789", 10);
	buf_free(&b);
}

static void test_buf_consume_reserve(void **state)
{
	struct buf b;
	buf_init(&b, 1024);

	assert_int_equal(buf_append_str(&b, "hello\r\nworld"), 0);
	assert_int_equal(buf_find_lf(&b), 6);
	buf_consume(&b, 7);
	assert_int_equal(buf_len(&b), 5);
	assert_memory_equal(buf_data(&b), "world", 5);
	assert_int_equal(buf_find_lf(&b), -1);

	unsigned char *p = buf_reserve(&b, 3);
	assert_non_null(p);
	memcpy(p, "\r\nX", 3);
	buf_commit(&b, 2);
	assert_int_equal(buf_len(&b), 7);
	assert_memory_equal(buf_data(&b), "world\r\n", 7);

	/* Reserving everything left works; one byte more does not. */
	assert_null(buf_reserve(&b, 1024 - 7 + 1));
	p = buf_reserve(&b, 1024 - 7);
	assert_non_null(p);
	memset(p, 'z', 1024 - 7);
	buf_commit(&b, 1024 - 7);
	assert_int_equal(buf_len(&b), 1024);
	assert_int_equal(buf_room(&b), 0);
	assert_memory_equal(buf_data(&b), "world\r\nzz", 9);

	/* Consuming from the front then appending moves the data down. */
	buf_consume(&b, 1000);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(buf_len(&b), 34);
	assert_memory_equal(buf_data(&b) + 24, "0123456789", 10);

	/* shrink keeps a non-empty buffer, frees an empty one. */
	buf_shrink(&b);
	assert_non_null(b.base);
	buf_consume(&b, buf_len(&b));
	assert_int_equal(b.off, 0);
	buf_shrink(&b);
	assert_null(b.base);
	assert_int_equal(b.cap, 0);
	assert_int_equal(buf_find_lf(&b), -1);
	assert_int_equal(buf_append_str(&b, "again\n"), 0);
	assert_int_equal(buf_find_lf(&b), 5);
	buf_free(&b);
}

static void test_buf_grow_bounded(void **state)
{
	struct buf b;
	buf_init(&b, 300);
	for (int i = 0; i < 300; i++)
		assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_true(b.cap <= 301);
	buf_free(&b);
}

/* --- strnum --- */

static void test_strnum(void **state)
{
	uint64_t v = 77;

	assert_int_equal(strnum_u64("", 0, 100, &v), -1);
	assert_int_equal(strnum_parse("", 100, &v), -1);
	assert_int_equal(v, 77);
	assert_int_equal(strnum_parse("0", 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(strnum_parse("007", 100, &v), 0);
	assert_int_equal(v, 7);
	/* max boundary */
	assert_int_equal(strnum_parse("99", 100, &v), 0);
	assert_int_equal(strnum_parse("100", 100, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(strnum_parse("101", 100, &v), -1);
	assert_int_equal(strnum_parse("1", 0, &v), -1);
	/* overflow of uint64 */
	assert_int_equal(strnum_parse("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(strnum_parse("18446744073709551616", UINT64_MAX, &v), -1);
	assert_int_equal(strnum_parse("99999999999999999999999", UINT64_MAX, &v), -1);
	assert_int_equal(strnum_parse("18446744073709551614", UINT64_MAX - 1, &v), 0);
	assert_int_equal(strnum_parse("18446744073709551615", UINT64_MAX - 1, &v), -1);
	/* non-digits, signs, spaces */
	assert_int_equal(strnum_parse("12a", 1000, &v), -1);
	assert_int_equal(strnum_parse("+1", 1000, &v), -1);
	assert_int_equal(strnum_parse("-1", 1000, &v), -1);
	assert_int_equal(strnum_parse(" 1", 1000, &v), -1);
	assert_int_equal(strnum_parse("1 ", 1000, &v), -1);
	assert_int_equal(strnum_parse("0x10", 1000, &v), -1);
	/* exactly len bytes */
	assert_int_equal(strnum_u64("12345", 3, 1000, &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(strnum_u64("12\0", 3, 1000, &v), -1);
}

/* --- base64 --- */

static void test_base64_roundtrip(void **state)
{
	static const struct {
		const char *plain, *enc;
	} vec[] = { /* RFC 4648 section 10 */
		{ "", "" },	     { "f", "Zg==" },	      { "fo", "Zm8=" },
		{ "foo", "Zm9v" },   { "foob", "Zm9vYg==" },  { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	char enc[64];
	unsigned char dec[64];
	size_t n;

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t pl = strlen(vec[i].plain);
		assert_int_equal(base64_encode((const unsigned char *)vec[i].plain, pl, enc),
				 strlen(vec[i].enc));
		assert_string_equal(enc, vec[i].enc);
		assert_int_equal(base64_decode(enc, strlen(enc), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, pl);
		assert_memory_equal(dec, vec[i].plain, pl);
	}
	/* all byte values, all lengths up to 256 */
	unsigned char all[256], back[256];
	char e[BASE64_ENCODED_SIZE(256)];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)(255 - i);
	for (size_t len = 0; len <= 256; len++) {
		size_t el = base64_encode(all, len, e);
		assert_int_equal(el + 1, BASE64_ENCODED_SIZE(len));
		assert_int_equal(base64_decode(e, el, back, len, &n), 0);	/* exact outcap */
		assert_int_equal(n, len);
		assert_memory_equal(back, all, len);
	}
	/* SASL PLAIN example */
	assert_int_equal(base64_decode("AHRlc3QAdGVzdA==", 16, dec, sizeof(dec), &n), 0);
	assert_int_equal(n, 10);
	assert_memory_equal(dec, "\0test\0test", 10);
}

static void test_base64_bad(void **state)
{
	unsigned char dec[64];
	size_t n;
	static const char *bad[] = {
		"Zg=",	    /* length not a multiple of 4 */
		"Zg",	    /* padding missing */
		"Z===",	    /* too much padding */
		"====",
		"Zg==Zg==", /* padding in the middle */
		"Z=g=",
		"Zm9v\n",
		"Zm 9",	    /* space */
		"Zm9\x80",
		"Zm9-",	    /* URL alphabet not accepted */
		"Zm9_",
		"Zh==",	    /* non-zero unused bits */
		"Zm9=",
		"Zm8*",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(base64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n), -1);
	/* NUL inside */
	assert_int_equal(base64_decode("Zm\0v", 4, dec, sizeof(dec), &n), -1);
	/* outcap too small by one, then exact */
	assert_int_equal(base64_decode("Zm9vYmFy", 8, dec, 5, &n), -1);
	assert_int_equal(base64_decode("Zm9vYmFy", 8, dec, 6, &n), 0);
	assert_int_equal(base64_decode("Zm9vYg==", 8, dec, 3, &n), -1);
	assert_int_equal(base64_decode("Zm9vYg==", 8, dec, 4, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(base64_decode("", 0, NULL, 0, &n), 0);
	assert_int_equal(n, 0);
}

/* --- str --- */

static void test_str_printable(void **state)
{
	char out[64];

	assert_string_equal(str_printable(out, sizeof(out), "hello", 5), "hello");
	assert_string_equal(str_printable(out, sizeof(out), "a\"b\\c", 5), "a\\\"b\\\\c");
	assert_string_equal(str_printable(out, sizeof(out), "x\r\n\x00\x7f\xff", 6),
			    "x\\x0d\\x0a\\x00\\x7f\\xff");
	assert_string_equal(str_printable(out, sizeof(out), "", 0), "");

	/* fits exactly: dstsize-1 bytes of output, no cut marker */
	assert_string_equal(str_printable(out, 6, "abcde", 5), "abcde");
	/* one more: cut, with "..." within dstsize-1 */
	assert_string_equal(str_printable(out, 6, "abcdef", 6), "ab...");
	assert_string_equal(str_printable(out, 10, "0123456789abc", 13), "012345...");
	/* an escape is never split */
	assert_string_equal(str_printable(out, 10, "abcde\x01zz", 8), "abcde...");
	assert_string_equal(str_printable(out, 10, "abcd\x01", 5), "abcd\\x01");
	/* tiny buffers */
	assert_string_equal(str_printable(out, 1, "abc", 3), "");
	assert_string_equal(str_printable(out, 3, "abc", 3), "..");
	assert_string_equal(str_printable(out, 4, "abc", 3), "abc");
	assert_string_equal(str_printable(out, 4, "abcd", 4), "...");
	out[0] = 'q';
	str_printable(out, 0, "abc", 3);
	assert_int_equal(out[0], 'q');
}

static void test_str_misc(void **state)
{
	char out[8];

	assert_int_equal(str_lcpy(out, "abc", sizeof(out)), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(str_lcpy(out, "0123456789", sizeof(out)), 10);
	assert_string_equal(out, "0123456");
	assert_true(str_casestarts("EHLO x", 6, "ehlo"));
	assert_false(str_casestarts("EHL", 3, "ehlo"));
	assert_false(str_casestarts("HELO", 4, "ehlo"));
	assert_true(str_caseeq("PoP3", "pop3"));
	assert_false(str_caseeq("pop", "pop3"));
	char s[] = "MiXeD@Example.COM";
	str_lower(s);
	assert_string_equal(s, "mixed@example.com");
	assert_int_equal(str_fmt(out, sizeof(out), "%s", "1234567"), 7);
	assert_int_equal(str_fmt(out, sizeof(out), "%s", "12345678"), -1);
	char *d = xstrndup("abcdef", 3);
	assert_string_equal(d, "abc");
	xfree(d);
	assert_null(d);
}

/* --- log --- */

/* Runs fn with stderr redirected to a pipe; returns what was written. */
static char *capture_stderr(void (*fn)(void))
{
	int fds[2];
	static char out[16384];
	assert_int_equal(pipe(fds), 0);
	int saved = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	close(fds[1]);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	ssize_t n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static void log_some_text(void)
{
	log_init("text", "info");
	log_debug("smtp", "hidden %d", 1);
	log_info("smtp", "hello %s", "world\n");
}

static void log_some_json(void)
{
	log_init("json", "debug");
	log_debug("db", "quote \" back \\ tab\t \xc3\xa9 bad \xff end");
}

static void log_long(void)
{
	static char big[10000];
	memset(big, 'a', sizeof(big) - 1);
	log_init("json", "warn");
	log_info("x", "not shown");
	log_warn("x", "%s", big);
}

static void test_log(void **state)
{
	char *s = capture_stderr(log_some_text);
	/* 2026-11-21T22:43:00.123Z info smtp: hello world\x0a */
	assert_int_equal(strlen(s), 24 + strlen(" info smtp: hello world\\x0a\n"));
	assert_int_equal(s[4], '-');
	assert_int_equal(s[10], 'T');
	assert_int_equal(s[19], '.');
	assert_int_equal(s[23], 'Z');
	assert_string_equal(s + 24, " info smtp: hello world\\x0a\n");

	s = capture_stderr(log_some_json);
	assert_memory_equal(s, "{\"ts\":\"", 7);
	char *rest = strstr(s, "\",\"level\"");
	assert_non_null(rest);
	assert_string_equal(rest, "\",\"level\":\"debug\",\"mod\":\"db\",\"msg\":\"quote \\\" back "
				  "\\\\ tab\\u0009 \xc3\xa9 bad \\ufffd end\"}\n");

	s = capture_stderr(log_long);
	assert_true(strlen(s) <= 4096);
	size_t l = strlen(s);
	assert_string_equal(s + l - 6, "...\"}\n");
	assert_null(strstr(s, "not shown"));
	log_init(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_consume_reserve),
		cmocka_unit_test(test_buf_grow_bounded),
		cmocka_unit_test(test_strnum),
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_base64_bad),
		cmocka_unit_test(test_str_printable),
		cmocka_unit_test(test_str_misc),
		cmocka_unit_test(test_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
