/* test_imap_sort.c - search text and SORT/THREAD logic: base64 / QP /
 * RFC 2047 decoding and charsets (core/mail/mime_decode.c), RFC 5322 dates,
 * case folding, the search text of a MIME message, RFC 5256 base subjects,
 * address keys, message-id lists, and THREAD=ORDEREDSUBJECT / REFERENCES
 * (core/imap/sort.c) on table-driven cases, including the RFC's own
 * examples, loops, duplicate ids and a chain deeper than
 * LIMIT_IMAP_THREAD_DEPTH. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/limits.h"
#include "imap/sort.h"
#include "mail/mime.h"
#include "mail/mime_decode.h"

static char out_s[8192];

static const char *str_of(struct buf *b)
{
	size_t n = buf_len(b) < sizeof(out_s) - 1 ? buf_len(b) : sizeof(out_s) - 1;

	memcpy(out_s, buf_data(b), n);
	out_s[n] = '\0';
	buf_free(b);
	return out_s;
}

static const char *hdr(const char *v)
{
	struct buf b;

	buf_init(&b, 4096);
	assert_int_equal(mime_decode_header((const unsigned char *)v, strlen(v), &b), 0);
	return str_of(&b);
}

static void test_header_decoding(void **state)
{
	(void)state;
	assert_string_equal(hdr("plain  text"), "plain text");
	assert_string_equal(hdr("=?UTF-8?Q?J=C3=B6rg?= <j@x>"), "Jörg <j@x>");
	assert_string_equal(hdr("=?utf-8?b?R3LDvMOfZQ==?="), "Grüße");
	assert_string_equal(hdr("=?ISO-8859-1?Q?caf=E9_au_lait?="), "café au lait");
	/* blanks between adjacent encoded words vanish, folding too */
	assert_string_equal(hdr("=?utf-8?q?a?= \r\n =?utf-8?q?b?= c"), "ab c");
	assert_string_equal(hdr("x =?utf-8?q?a?="), "x a");
	assert_string_equal(hdr("=?utf-8*de?q?x?="), "x");
	/* not encoded words: kept */
	assert_string_equal(hdr("=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
	assert_string_equal(hdr("=?utf-8?q?a b?="), "=?utf-8?q?a b?=");
	/* raw 8-bit: UTF-8 if valid, else Latin-1 */
	assert_string_equal(hdr("caf\xc3\xa9"), "café");
	assert_string_equal(hdr("caf\xe9"), "café");
	/* an unknown charset and a broken one never yield invalid UTF-8 */
	assert_string_equal(hdr("=?x-unknown?q?ok?="), "ok");
	assert_string_equal(hdr("=?utf-8?q?=FF?="), "\xef\xbf\xbd");
}

static void test_body_decoding(void **state)
{
	struct buf b;
	static const char qp[] = "a=3Db soft=\r\nbreak =XY end=\n";

	(void)state;
	buf_init(&b, 100);
	assert_int_equal(mime_decode_qp((const unsigned char *)qp, strlen(qp), false, &b), 0);
	assert_string_equal(str_of(&b), "a=b softbreak =XY end");
	buf_init(&b, 100);
	assert_int_equal(mime_decode_base64((const unsigned char *)"aGVs\r\nbG8=", 10, &b), 0);
	assert_string_equal(str_of(&b), "hello");
	/* the cap: -1 with what fitted */
	buf_init(&b, 3);
	assert_int_equal(mime_decode_base64((const unsigned char *)"aGVsbG8=", 8, &b), -1);
	assert_string_equal(str_of(&b), "hel");
	buf_init(&b, 100);
	assert_int_equal(mime_charset_to_utf8("windows-1252", (const unsigned char *)"\x80 \0x", 4,
					      &b),
			 0);
	assert_string_equal(str_of(&b), "€  x");
}

static void test_dates_and_fold(void **state)
{
	int64_t t, d;
	char s[] = "ÄÖÜ ÀÉ Straße ĀŁŽ ΑΩ ДЯЁ ABC";
	static const struct {
		const char *in;
		int64_t unix_time, day;
	} dates[] = {
		{ "Mon, 05 Jan 2026 23:30:00 -0500", 1767673800, 20458 },
		{ "5 Jan 2026 23:30 -0500", 1767673800, 20458 },
		{ "Mon, 5 Jan 26 23:30:00 EST (comment)", 1767655800, 20458 },
		{ "Thu, 01 Jan 1970 00:00:00 +0000", 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		assert_int_equal(mime_date_parse((const unsigned char *)dates[i].in,
						 strlen(dates[i].in), &t, &d),
				 0);
		assert_int_equal(t, dates[i].unix_time);
		assert_int_equal(d, dates[i].day);
	}
	assert_int_equal(mime_date_parse((const unsigned char *)"garbage", 7, &t, &d), -1);
	assert_int_equal(mime_date_parse((const unsigned char *)"32 Jan 2026", 11, &t, &d), -1);
	mime_utf8_fold(s, strlen(s));
	assert_string_equal(s, "äöü àé straße āłž αω дяё abc");
}

static void test_search_text(void **state)
{
	static const char msg[] =
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
		"Content-Type: multipart/mixed; boundary=B\r\n"
		"\r\n"
		"--B\r\n"
		"Content-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"caf=E9\r\n"
		"--B\r\n"
		"Content-Type: image/png\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"aGlkZGVu\r\n"
		"--B--\r\n";
	struct mime_tree *t = mime_parse((const unsigned char *)msg, strlen(msg));
	struct buf h, b;
	char hs[512];

	(void)state;
	buf_init(&h, 4096);
	buf_init(&b, 4096);
	mime_search_text(t, (const unsigned char *)msg, strlen(msg), &h, &b);
	snprintf(hs, sizeof(hs), "%.*s", (int)buf_len(&h), (const char *)buf_data(&h));
	assert_non_null(strstr(hs, "Subject: Grüße\n"));
	assert_string_equal(str_of(&b), "café");
	buf_free(&h);
	/* a small cap truncates */
	buf_init(&h, 10);
	buf_init(&b, 3);
	mime_search_text(t, (const unsigned char *)msg, strlen(msg), &h, &b);
	assert_true(buf_len(&h) <= 10);
	assert_string_equal(str_of(&b), "caf");
	buf_free(&h);
	mime_tree_free(&t);
}

static void test_html_text(void **state)
{
	static const char html[] = "<html><style>p { x: 1 }</style><p>Hello &amp; <b>w&#246;rld</b>"
				   "&#x263A;&bogus; &lt;tag&gt;<script>var a = '<b>';</script>end";
	struct buf b;
	const char *t;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(mime_html_text((const unsigned char *)html, strlen(html), &b), 0);
	t = str_of(&b);
	assert_non_null(strstr(t, "Hello & "));
	assert_non_null(strstr(t, "wörld ☺&bogus; <tag>"));
	assert_non_null(strstr(t, "end"));
	assert_null(strstr(t, "x: 1"));
	assert_null(strstr(t, "var"));
	/* the cap never cuts a UTF-8 sequence */
	buf_init(&b, 6);
	assert_int_equal(mime_html_text((const unsigned char *)"abcdeö", 7, &b), -1);
	assert_string_equal(str_of(&b), "abcde");
}

static const char *base(const char *s, bool *reply)
{
	struct buf b;

	buf_init(&b, 4096);
	imap_sort_base_subject(s, &b, reply);
	return str_of(&b);
}

static void test_base_subject(void **state)
{
	static const struct {
		const char *in, *out;
		bool reply;
	} t[] = {
		{ "Hello", "hello", false },
		{ "Re: hello", "hello", true },
		{ "RE:  Re: Fwd: hello  ", "hello", true },
		{ "Fw: hello (fwd) (FWD)", "hello", true },
		{ "[list] Re: hello", "hello", true },
		{ "Re [2]: hello", "hello", true },
		{ "[fwd: hello]", "hello", true },
		{ "[Fwd: Re: [list] hello]", "hello", true },
		{ "[list] hello", "hello", false },
		{ "[only a blob]", "[only a blob]", false },
		{ "re:", "", true },
		{ "", "", false },
		{ "Reply about things", "reply about things", false },
		{ "hello\t\r\n  world", "hello world", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bool reply;

		assert_string_equal(base(t[i].in, &reply), t[i].out);
		assert_int_equal(reply, t[i].reply);
	}
}

static void test_addr_keys(void **state)
{
	static const struct {
		const char *in, *mailbox, *display;
	} t[] = {
		{ "Jörg Müller <Joerg@Remote.test>", "joerg", "jörg müller" },
		{ "\"Doe, John\" <jd@x.test>, other@x.test", "jd", "doe, john" },
		{ "plain@x.test", "plain", "plain@x.test" },
		{ "plain@x.test (Comment, here)", "plain", "plain@x.test" },
		{ "undisclosed-recipients:;", "", "" },
		{ "Team: a@x.test, b@x.test;", "a", "a@x.test" },
		{ "", "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct buf mb, d;

		buf_init(&mb, 256);
		buf_init(&d, 256);
		imap_sort_addr_keys(t[i].in, &mb, &d);
		assert_string_equal(str_of(&mb), t[i].mailbox);
		assert_string_equal(str_of(&d), t[i].display);
	}
}

static void test_msgids(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	imap_sort_msgids("<a@x> \r\n <b@x>junk<c@\r\n x>", 10, &b);
	assert_string_equal(str_of(&b), "<a@x> <b@x> <c@x>");
	buf_init(&b, 256);
	imap_sort_msgids("<a@x> <b@x> <c@x>", 2, &b);
	assert_string_equal(str_of(&b), "<b@x> <c@x>");
	buf_init(&b, 256);
	imap_sort_msgids("no ids <here", 2, &b);
	assert_string_equal(str_of(&b), "");
}

#define M(id, date, subj, reply, mid, refs) { id, date, subj, reply, mid, refs }

static const char *thread(bool refs, const struct imap_thread_msg *m, size_t n)
{
	struct buf b;

	buf_init(&b, sizeof(out_s) - 1);
	assert_int_equal(refs ? imap_thread_references(m, n, &b)
			      : imap_thread_orderedsubject(m, n, &b),
			 0);
	return str_of(&b);
}

static void test_orderedsubject(void **state)
{
	static const struct imap_thread_msg m[] = {
		M(1, 50, "b", false, "", ""), M(2, 10, "a", false, "", ""),
		M(3, 30, "a", true, "", ""),  M(4, 20, "a", true, "", ""),
		M(5, 40, "c", false, "", ""), M(6, 60, "b", true, "", ""),
	};

	(void)state;
	assert_string_equal(thread(false, m, 6), "(2 (4)(3))(5)(1 6)");
	assert_string_equal(thread(false, m, 0), "");
	assert_string_equal(thread(false, m, 1), "(1)");
}

static void test_references(void **state)
{
	/* a chain through a missing message (<x>): 1 <- (x) <- 2; 3 replies
	 * to 2; 4 replies to 1 too; 5 has a loop in its references; 6 and 7
	 * share a base subject, 7 being a reply; 8 duplicates 1's id. */
	static const struct imap_thread_msg m[] = {
		M(1, 10, "one", false, "<1>", ""),
		M(2, 30, "one", true, "<2>", "<1> <x>"),
		M(3, 40, "one", true, "<3>", "<1> <x> <2>"),
		M(4, 20, "one", true, "<4>", "<1>"),
		M(5, 50, "five", false, "<5>", "<5> <5>"),
		M(6, 60, "six", false, "<6>", ""),
		M(7, 70, "six", true, "<7>", "<gone>"),
		M(8, 80, "eight", false, "<1>", ""),
	};
	/* two roots with one subject and neither a reply: a dummy parent */
	static const struct imap_thread_msg d[] = {
		M(1, 10, "same", false, "<a>", ""),
		M(2, 20, "same", false, "<b>", ""),
		M(3, 5, "other", false, "<c>", ""),
	};
	/* RFC 5256 style: siblings sorted by date */
	static const struct imap_thread_msg s[] = {
		M(1, 10, "t", false, "<r>", ""),
		M(2, 40, "t", true, "<s2>", "<r>"),
		M(3, 30, "t", true, "<s3>", "<r>"),
		M(4, 50, "t", true, "<s4>", "<r> <s3>"),
	};

	(void)state;
	assert_string_equal(thread(true, m, 8), "(1 (4)(2 3))(5)(6 7)(8)");
	assert_string_equal(thread(true, d, 3), "(3)((1)(2))");
	assert_string_equal(thread(true, s, 4), "(1 (3 4)(2))");
}

static void test_deep_chain(void **state)
{
	size_t n = LIMIT_IMAP_THREAD_DEPTH * 4;
	struct imap_thread_msg *m = calloc(n, sizeof(*m));
	char (*ids)[16] = calloc(n, 16);
	char (*refs)[16] = calloc(n, 16);
	struct buf b;

	(void)state;
	/* each message has two replies, one of which continues: deep branching */
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], 16, "<%zu>", i);
		snprintf(refs[i], 16, "<%zu>", i >= 2 ? (i - 1) / 2 * 2 : 0);
		m[i].id = (uint32_t)i + 1;
		m[i].date = (int64_t)i;
		m[i].subject = "s";
		m[i].message_id = ids[i];
		m[i].refs = i == 0 ? "" : refs[i];
	}
	buf_init(&b, 1024 * 1024);
	assert_int_equal(imap_thread_references(m, n, &b), 0);
	assert_true(buf_len(&b) > n);
	buf_free(&b);
	/* the cap: -1 */
	buf_init(&b, 10);
	assert_int_equal(imap_thread_references(m, n, &b), -1);
	buf_free(&b);
	free(m);
	free(ids);
	free(refs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_decoding), cmocka_unit_test(test_body_decoding),
		cmocka_unit_test(test_dates_and_fold),	cmocka_unit_test(test_search_text),
		cmocka_unit_test(test_base_subject),	cmocka_unit_test(test_addr_keys),
		cmocka_unit_test(test_msgids),		cmocka_unit_test(test_orderedsubject),
		cmocka_unit_test(test_references),	cmocka_unit_test(test_deep_chain),
		cmocka_unit_test(test_html_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
