/* test_imap_session.c - the pure helpers of the IMAP session (core/imap/):
 * flag lists to bits and keyword arrays, UID arrays, sequence lookup,
 * strings and mailbox names on the wire (modified UTF-7), LIST wildcards,
 * APPEND date-times, and the metadata computed once per message
 * (db/imap_store.c imap_store_meta_compute) against mime.h's renderers;
 * MODSEQ number arguments (RFC 7162 7: 63-bit) at and past their limits and
 * mailbox names after UTF8=ACCEPT (RFC 6855 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/imap_store.h"
#include "imap/session.h"
#include "mail/mime.h"

static struct imap_arg atom(const char *s)
{
	struct imap_arg a;

	memset(&a, 0, sizeof(a));
	a.type = IMAP_ARG_ATOM;
	a.str = s;
	a.len = strlen(s);
	return a;
}

static void test_flags_parse(void **state)
{
	struct imap_arg items[4], list;
	const char *err = NULL;
	char *kw = NULL;
	int flags = 0;

	(void)state;
	items[0] = atom("\\Seen");
	items[1] = atom("$Work");
	items[2] = atom("\\DELETED");
	memset(&items[3], 0, sizeof(items[3]));
	memset(&list, 0, sizeof(list));
	list.type = IMAP_ARG_LIST;
	list.list = items;
	list.list_count = 3;
	assert_int_equal(imap_flags_parse(&list, &flags, &kw, &err), 0);
	assert_int_equal(flags, IMAP_FLAG_SEEN | IMAP_FLAG_DELETED);
	assert_string_equal(kw, "{\"$Work\"}");
	free(kw);

	/* a single flag, \Recent ignored */
	items[0] = atom("\\Recent");
	assert_int_equal(imap_flags_parse(&items[0], &flags, &kw, &err), 0);
	assert_int_equal(flags, 0);
	assert_string_equal(kw, "{}");
	free(kw);

	items[0] = atom("\\Bogus");
	assert_int_equal(imap_flags_parse(&items[0], &flags, &kw, &err), -1);
	assert_null(kw);
	items[0] = atom("bad*kw");
	assert_int_equal(imap_flags_parse(&items[0], &flags, &kw, &err), -1);
	items[0].type = IMAP_ARG_STRING;
	assert_int_equal(imap_flags_parse(&items[0], &flags, &kw, &err), -1);
}

static void test_uids(void **state)
{
	uint32_t uids[] = { 3, 7, 9, 4000000000u };
	char *s;

	(void)state;
	s = db_array_u32(uids, 4);
	assert_string_equal(s, "{3,7,9,4000000000}");
	free(s);
	s = db_array_u32(NULL, 0);
	assert_string_equal(s, "{}");
	free(s);
	assert_int_equal(imap_view_seq(uids, 4, 3), 1);
	assert_int_equal(imap_view_seq(uids, 4, 9), 3);
	assert_int_equal(imap_view_seq(uids, 4, 4000000000u), 4);
	assert_int_equal(imap_view_seq(uids, 4, 5), 0);
	assert_int_equal(imap_view_seq(uids, 0, 3), 0);
}

static const char *wire(const char *name, bool mailbox)
{
	static char out[256];
	struct buf b;

	buf_init(&b, sizeof(out) - 1);
	if (mailbox)
		assert_int_equal(imap_mailbox_write(&b, name), 0);
	else
		imap_astring_write(&b, name, strlen(name));
	memcpy(out, buf_data(&b), buf_len(&b));
	out[buf_len(&b)] = '\0';
	buf_free(&b);
	return out;
}

static void test_strings(void **state)
{
	(void)state;
	assert_string_equal(wire("INBOX", true), "\"INBOX\"");
	assert_string_equal(wire("Gr\xc3\xb6sse/a&b", true), "\"Gr&APY-sse/a&-b\"");
	assert_string_equal(wire("say \"hi\"\\", false), "\"say \\\"hi\\\"\\\\\"");
	assert_string_equal(wire("two\r\nlines", false), "{10}\r\ntwo\r\nlines");
	assert_string_equal(wire("caf\xc3\xa9", false), "{5}\r\ncaf\xc3\xa9");
}

static void test_list_match(void **state)
{
	(void)state;
	assert_true(imap_list_match("*", "a/b/c"));
	assert_true(imap_list_match("%", "INBOX"));
	assert_false(imap_list_match("%", "a/b"));
	assert_true(imap_list_match("a/%", "a/b"));
	assert_false(imap_list_match("a/%", "a/b/c"));
	assert_true(imap_list_match("a/*", "a/b/c"));
	assert_true(imap_list_match("*c", "a/b/c"));
	assert_true(imap_list_match("INBOX", "INBOX"));
	assert_false(imap_list_match("INBOX", "INBOX/x"));
	assert_true(imap_list_match("%/%", "a/b"));
	assert_false(imap_list_match("", "a"));
}

static void test_date_time(void **state)
{
	int64_t t = 0;
	const char *s;

	(void)state;
	s = "21-Nov-2026 23:54:21 +0000";
	assert_int_equal(imap_date_time_parse(s, strlen(s), &t), 0);
	assert_int_equal(t, 1795305261);
	s = " 1-Jan-2000 01:00:00 +0100";
	assert_int_equal(imap_date_time_parse(s, strlen(s), &t), 0);
	assert_int_equal(t, 946684800);
	s = "01-Jan-2000 00:00:00 -0130";
	assert_int_equal(imap_date_time_parse(s, strlen(s), &t), 0);
	assert_int_equal(t, 946684800 + 5400);
	s = "01-Foo-2000 00:00:00 +0000";
	assert_int_equal(imap_date_time_parse(s, strlen(s), &t), -1);
	s = "01-Jan-2000 00:00:00";
	assert_int_equal(imap_date_time_parse(s, strlen(s), &t), -1);
	s = "01-Jan-2000 25:00:00 +0000";
	assert_int_equal(imap_date_time_parse(s, strlen(s), &t), -1);
}

static void test_meta(void **state)
{
	static const char msg[] = "From: a@b.test\r\nSubject: hi\r\n"
				  "Content-Type: multipart/mixed; boundary=x\r\n\r\n"
				  "--x\r\nContent-Type: text/plain\r\n\r\none\r\n--x--\r\n";
	const unsigned char *m = (const unsigned char *)msg;
	struct imap_store_meta meta;
	struct mime_tree *t = mime_parse(m, sizeof(msg) - 1);
	struct buf b;

	(void)state;
	assert_int_equal(imap_store_meta_compute(m, sizeof(msg) - 1, &meta), 0);
	buf_init(&b, 1 << 20);
	mime_render_envelope(t, m, 0, &b);
	assert_int_equal(strlen(meta.envelope), buf_len(&b));
	assert_memory_equal(meta.envelope, buf_data(&b), buf_len(&b));
	buf_reset(&b);
	mime_render_bodystructure(t, m, 0, true, &b);
	assert_memory_equal(meta.bodystructure, buf_data(&b), buf_len(&b));
	buf_reset(&b);
	mime_render_bodystructure(t, m, 0, false, &b);
	assert_memory_equal(meta.body, buf_data(&b), buf_len(&b));
	buf_free(&b);
	mime_tree_free(&t);
	{
		const char *err = NULL;
		struct mime_tree *back = mime_deserialize(meta.parts, strlen(meta.parts),
							  sizeof(msg) - 1, &err);

		assert_non_null(back);
		assert_int_equal(back->count, 2);
		mime_tree_free(&back);
	}
	imap_store_meta_free(&meta);
	assert_null(meta.envelope);
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
		cmocka_unit_test(test_flags_parse), cmocka_unit_test(test_uids),
		cmocka_unit_test(test_strings),	    cmocka_unit_test(test_list_match),
		cmocka_unit_test(test_date_time),   cmocka_unit_test(test_meta),
		cmocka_unit_test(test_arg_u64),	    cmocka_unit_test(test_mailbox_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
