/* test_ops_import.c - unit tests of the pure parts of posternctl import:
 * the IMAP response tokenizer of ops/imapc.c (atoms, quoted strings with
 * escapes, literals checked against what is left, lists skipped whole,
 * every prefix of a response tokenized without reading past it under ASan),
 * flags and keywords into a text[] literal, and source folder names mapped
 * to Postern mailbox names (separator, INBOX case, invalid names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ops/imapc.h"
#include "ops/import.h"

static struct imapc_tok next(struct imapc_cursor *c)
{
	return imapc_next(c);
}

static void test_tokens(void **state)
{
	static const char r[] = "* 3 FETCH (UID 17 FLAGS (\\Seen $Work) INTERNALDATE "
				"\"04-Mar-2021 05:06:07 +0000\" BODY[] {5}\r\nab\"c) X \"q\\\"x\")";
	struct imapc_cursor c = { r, r + sizeof(r) - 1 };
	struct imapc_tok t;
	char out[64];

	(void)state;
	assert_int_equal(next(&c).type, IMAPC_ATOM);		/* * */
	t = next(&c);
	assert_int_equal(t.type, IMAPC_ATOM);
	assert_int_equal(t.len, 1);
	assert_int_equal(next(&c).type, IMAPC_ATOM);		/* FETCH */
	assert_int_equal(next(&c).type, IMAPC_LPAREN);
	assert_int_equal(next(&c).type, IMAPC_ATOM);		/* UID */
	t = next(&c);
	assert_int_equal(imapc_tok_copy(&t, out, sizeof(out)), 0);
	assert_string_equal(out, "17");
	assert_int_equal(next(&c).type, IMAPC_ATOM);		/* FLAGS */
	t = next(&c);
	assert_int_equal(t.type, IMAPC_LPAREN);
	imapc_skip(&c, t);
	assert_int_equal(next(&c).type, IMAPC_ATOM);		/* INTERNALDATE */
	t = next(&c);
	assert_int_equal(t.type, IMAPC_STRING);
	assert_int_equal(imapc_tok_copy(&t, out, sizeof(out)), 0);
	assert_string_equal(out, "04-Mar-2021 05:06:07 +0000");
	t = next(&c);
	assert_int_equal(t.len, 6);				/* BODY[] */
	t = next(&c);
	assert_int_equal(t.type, IMAPC_LITERAL);
	assert_int_equal(t.len, 5);
	assert_memory_equal(t.p, "ab\"c)", 5);
	assert_int_equal(next(&c).type, IMAPC_ATOM);		/* X */
	t = next(&c);
	assert_int_equal(imapc_tok_copy(&t, out, sizeof(out)), 0);
	assert_string_equal(out, "q\"x");
	assert_int_equal(next(&c).type, IMAPC_RPAREN);
	assert_int_equal(next(&c).type, IMAPC_END);
	/* a copy that does not fit */
	assert_int_equal(imapc_tok_copy(&t, out, 3), -1);
}

static void test_bad_literals(void **state)
{
	static const char *const bad[] = { "{5}\r\nabc", "{x}\r\nabc", "{3}abc", "\"open",
					   "{99999999999999999999}\r\n" };
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imapc_cursor c = { bad[i], bad[i] + strlen(bad[i]) };
		assert_int_equal(next(&c).type, IMAPC_BAD);
	}
}

/* Every prefix, in its own heap block: nothing is read past its end. */
static void test_prefixes(void **state)
{
	static const char r[] = "* LIST (\\HasNoChildren) \".\" {12}\r\nWork.Reports";
	(void)state;
	for (size_t n = 0; n <= sizeof(r) - 1; n++) {
		char *p = malloc(n + 1);
		struct imapc_cursor c = { p, p + n };
		struct imapc_tok t;
		memcpy(p, r, n);
		do {
			t = next(&c);
			if (t.type == IMAPC_LPAREN)
				imapc_skip(&c, t);
		} while (t.type != IMAPC_END && t.type != IMAPC_BAD);
		free(p);
	}
}

static void test_keywords(void **state)
{
	struct import_keywords k;
	int flags = 0;

	(void)state;
	import_keywords_init(&k);
	assert_string_equal(k.lit, "{}");
	import_flag_parse("\\Seen", 5, &flags, &k);
	import_flag_parse("\\flagged", 8, &flags, &k);
	import_flag_parse("\\Recent", 7, &flags, &k);
	import_flag_parse("$Work", 5, &flags, &k);
	import_flag_parse("bad\"kw", 6, &flags, &k);	/* not an atom: dropped */
	import_flag_parse("project-x", 9, &flags, &k);
	assert_int_equal(flags, IMPORT_SEEN | IMPORT_FLAGGED);
	assert_string_equal(k.lit, "{\"$Work\",\"project-x\"}");
	/* past the literal's room keywords are dropped, the literal stays valid */
	for (int i = 0; i < 200; i++)
		import_keywords_add(&k, "a-rather-long-keyword-name", 26);
	assert_true(k.len < sizeof(k.lit));
	assert_int_equal(k.lit[k.len], '}');
}

static void test_target_names(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(import_target_name("Work.Reports", '.', out, sizeof(out)), 0);
	assert_string_equal(out, "Work/Reports");
	assert_int_equal(import_target_name("inbox", '/', out, sizeof(out)), 0);
	assert_string_equal(out, "INBOX");
	assert_int_equal(import_target_name("Inbox.Sub", '.', out, sizeof(out)), 0);
	assert_string_equal(out, "INBOX/Sub");
	assert_int_equal(import_target_name("Inboxes", '.', out, sizeof(out)), 0);
	assert_string_equal(out, "Inboxes");
	assert_int_equal(import_target_name("Entw\xc3\xbcrfe", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "Entw\xc3\xbcrfe");
	assert_int_equal(import_target_name("a..b", '.', out, sizeof(out)), -1);
	assert_int_equal(import_target_name(".a", '.', out, sizeof(out)), -1);
	assert_int_equal(import_target_name("", '.', out, sizeof(out)), -1);
	assert_int_equal(import_target_name("\xff", 0, out, sizeof(out)), -1);
	assert_int_equal(import_target_name("0123456789", 0, out, 10), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_bad_literals),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_target_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
