/* test_address.c - unit tests of core/mail/address.c: the RFC 5321 Path
 * grammar table-driven (dot-atom, quoted local parts, address literals,
 * source routes dropped, %-hack kept as a local part, "<>", "<Postmaster>"),
 * the limits at limit-1 / limit / limit+1 (local part 64, domain 255,
 * label 63), SMTPUTF8 only with the flag, malformed UTF-8, and every prefix
 * of every valid path refused without reading past it (ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mail/address.h"

struct ok_case {
	const char *in;
	unsigned flags;
	const char *local;
	const char *domain;
	const char *addr;
	size_t used;	/* 0 = strlen(in) */
};

static const struct ok_case ok_cases[] = {
	{ "<user@example.com>", 0, "user", "example.com", "user@example.com", 0 },
	{ "<User.Name+tag@Example.COM>", 0, "User.Name+tag", "example.com",
	  "User.Name+tag@example.com", 0 },
	{ "<a!#$%&'*+-/=?^_`{|}~b@x.y>", 0, "a!#$%&'*+-/=?^_`{|}~b", "x.y",
	  "a!#$%&'*+-/=?^_`{|}~b@x.y", 0 },
	/* source route: only the final mailbox counts */
	{ "<@a.example,@b.example:u@remote.example>", 0, "u", "remote.example",
	  "u@remote.example", 0 },
	{ "<@one:u@Two.Example>", 0, "u", "two.example", "u@two.example", 0 },
	/* %-hack and bang paths are plain local parts of the stated domain */
	{ "<u%remote.example@ours.example>", 0, "u%remote.example", "ours.example",
	  "u%remote.example@ours.example", 0 },
	{ "<remote!u@ours.example>", 0, "remote!u", "ours.example", "remote!u@ours.example", 0 },
	/* quoted local parts: quotes dropped when not needed */
	{ "<\"user\"@example.com>", 0, "user", "example.com", "user@example.com", 0 },
	{ "<\"john doe\"@example.com>", 0, "john doe", "example.com", "\"john doe\"@example.com", 0 },
	{ "<\"a>b\"@example.com>", 0, "a>b", "example.com", "\"a>b\"@example.com", 0 },
	{ "<\"u@remote.example\"@ours.example>", 0, "u@remote.example", "ours.example",
	  "\"u@remote.example\"@ours.example", 0 },
	{ "<\"a\\\"b\"@x.example>", 0, "a\"b", "x.example", "\"a\\\"b\"@x.example", 0 },
	{ "<\"\"@x.example>", 0, "", "x.example", "\"\"@x.example", 0 },
	/* address literals */
	{ "<u@[192.0.2.1]>", 0, "u", "[192.0.2.1]", "u@[192.0.2.1]", 0 },
	{ "<u@[IPv6:2001:db8::1]>", 0, "u", "[IPv6:2001:db8::1]", "u@[IPv6:2001:db8::1]", 0 },
	{ "<u@[x-tag:abc]>", 0, "u", "[x-tag:abc]", "u@[x-tag:abc]", 0 },
	/* trailing parameters are not part of the path */
	{ "<u@x.example> SIZE=10", 0, "u", "x.example", "u@x.example", 13 },
	/* SMTPUTF8 */
	{ "<j\xc3\xb6rg@b\xc3\xbc\x63her.example>", MAIL_ADDR_UTF8, "j\xc3\xb6rg",
	  "b\xc3\xbc\x63her.example", "j\xc3\xb6rg@b\xc3\xbc\x63her.example", 0 },
	{ "<\"\xe2\x82\xac x\"@EXAMPLE.com>", MAIL_ADDR_UTF8, "\xe2\x82\xac x", "example.com",
	  "\"\xe2\x82\xac x\"@example.com", 0 },
};

struct bad_case {
	const char *in;
	unsigned flags;
	enum mail_addr_error err;
};

static const struct bad_case bad_cases[] = {
	{ "", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "user@example.com", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<user@example.com", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<user>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<user@>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<@example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<.user@example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<user.@example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<us..er@example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<us er@example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<user@exa mple.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<user@-example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<user@example-.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<user@example..com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<user@example.com.>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<user@ex_ample.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<a@b@example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<\"unterminated@example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<\"tab\there\"@example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<\"x\"y@example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<u@[300.1.1.1]>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<u@[1.2.3]>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<u@[IPv6:2001:db8::zz]>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<u@[1.2.3.4>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<u@[]>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<@a,b:u@x.example>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<@a:>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<@a u@x.example>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<>", 0, MAIL_ADDR_ERR_NULL },
	{ "<Postmaster>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<\"postmaster\">", MAIL_ADDR_POSTMASTER, MAIL_ADDR_ERR_SYNTAX },
	/* UTF-8 only with SMTPUTF8, and only well-formed */
	{ "<j\xc3\xb6rg@example.com>", 0, MAIL_ADDR_ERR_UTF8 },
	{ "<u@b\xc3\xbc\x63her.example>", 0, MAIL_ADDR_ERR_UTF8 },
	{ "<\"\xc3\xb6\"@example.com>", 0, MAIL_ADDR_ERR_UTF8 },
	{ "<j\xc3rg@example.com>", MAIL_ADDR_UTF8, MAIL_ADDR_ERR_BAD_UTF8 },
	{ "<j\xc0\xafrg@example.com>", MAIL_ADDR_UTF8, MAIL_ADDR_ERR_BAD_UTF8 },
	{ "<j\xed\xa0\x80@example.com>", MAIL_ADDR_UTF8, MAIL_ADDR_ERR_BAD_UTF8 },
	{ "<u@[19\xc3\xb6.1.1.1]>", MAIL_ADDR_UTF8, MAIL_ADDR_ERR_SYNTAX },
	/* control characters and NUL */
	{ "<u\x01@example.com>", 0, MAIL_ADDR_ERR_SYNTAX },
	{ "<u@exa\rmple.com>", 0, MAIL_ADDR_ERR_SYNTAX },
};

static void test_ok_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
		const struct ok_case *t = &ok_cases[i];
		struct mail_address a;
		size_t used;
		enum mail_addr_error err;
		int r = mail_address_parse(t->in, strlen(t->in), t->flags, &a, &used, &err);
		if (r != 0)
			fail_msg("case %zu \"%s\" refused (%d)", i, t->in, (int)err);
		assert_int_equal(err, MAIL_ADDR_OK);
		assert_string_equal(a.local, t->local);
		assert_string_equal(a.domain, t->domain);
		assert_string_equal(a.addr, t->addr);
		assert_int_equal(used, t->used ? t->used : strlen(t->in));
	}
}

static void test_bad_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *t = &bad_cases[i];
		struct mail_address a;
		size_t used = 99;
		enum mail_addr_error err;
		int r = mail_address_parse(t->in, strlen(t->in), t->flags, &a, &used, &err);
		if (r != -1 || err != t->err)
			fail_msg("case %zu \"%s\": r=%d err=%d want %d", i, t->in, r, (int)err,
				 (int)t->err);
		assert_int_equal(used, 0);
	}
}

static void test_flags(void **state)
{
	(void)state;
	struct mail_address a;
	size_t used;
	enum mail_addr_error err;

	assert_int_equal(mail_address_parse("<>", 2, MAIL_ADDR_NULL_OK, &a, &used, &err), 0);
	assert_true(a.is_null);
	assert_string_equal(a.addr, "");
	assert_int_equal(used, 2);

	assert_int_equal(mail_address_parse("<PostMaster>", 12, MAIL_ADDR_POSTMASTER, &a, &used, &err), 0);
	assert_true(a.is_postmaster);
	assert_string_equal(a.domain, "");

	assert_int_equal(mail_address_parse("<u@[10.0.0.1]>", 14, 0, &a, &used, &err), 0);
	assert_true(a.is_literal);

	assert_int_equal(mail_address_parse("<\"q\"@x.example>", 15, 0, &a, &used, &err), 0);
	assert_true(a.quoted);
	assert_false(a.utf8);

	assert_int_equal(mail_address_parse("<\xc3\xa9@x.example>", 14, MAIL_ADDR_UTF8, &a, &used, &err), 0);
	assert_true(a.utf8);

	/* the buffer is not NUL-terminated where len says */
	assert_int_equal(mail_address_parse("<u@x.example>junk", 13, 0, &a, &used, &err), 0);
	assert_int_equal(used, 13);
	assert_int_equal(mail_address_parse("<u@x.example>", 12, 0, &a, &used, &err), -1);
}

/* "<" + local + "@" + domain + ">" */
static int parse_parts(const char *local, const char *domain, struct mail_address *a,
		       enum mail_addr_error *err)
{
	char buf[1024];
	size_t used;
	int n = snprintf(buf, sizeof buf, "<%s@%s>", local, domain);
	assert_true(n > 0 && (size_t)n < sizeof buf);
	return mail_address_parse(buf, (size_t)n, 0, a, &used, err);
}

static void fill(char *s, char ch, size_t n)
{
	memset(s, ch, n);
	s[n] = '\0';
}

static void test_local_limit(void **state)
{
	(void)state;
	char local[200];
	struct mail_address a;
	enum mail_addr_error err;

	fill(local, 'a', LIMIT_LOCAL_PART - 1);
	assert_int_equal(parse_parts(local, "x.example", &a, &err), 0);
	fill(local, 'a', LIMIT_LOCAL_PART);
	assert_int_equal(parse_parts(local, "x.example", &a, &err), 0);
	assert_int_equal(strlen(a.local), LIMIT_LOCAL_PART);
	fill(local, 'a', LIMIT_LOCAL_PART + 1);
	assert_int_equal(parse_parts(local, "x.example", &a, &err), -1);
	assert_int_equal(err, MAIL_ADDR_ERR_LOCAL_TOO_LONG);

	/* quoted: the limit counts the octets as written, quotes included */
	local[0] = '"';
	memset(local + 1, 'b', LIMIT_LOCAL_PART - 2);
	local[LIMIT_LOCAL_PART - 1] = '"';
	local[LIMIT_LOCAL_PART] = '\0';
	assert_int_equal(parse_parts(local, "x.example", &a, &err), 0);
	assert_int_equal(strlen(a.local), LIMIT_LOCAL_PART - 2);
	memset(local + 1, 'b', LIMIT_LOCAL_PART - 1);
	local[LIMIT_LOCAL_PART] = '"';
	local[LIMIT_LOCAL_PART + 1] = '\0';
	assert_int_equal(parse_parts(local, "x.example", &a, &err), -1);
	assert_int_equal(err, MAIL_ADDR_ERR_LOCAL_TOO_LONG);
}

/* A domain of exactly n octets made of 63-octet labels. */
static void make_domain(char *d, size_t n)
{
	size_t i = 0, inlabel = 0;
	while (i < n) {
		if (inlabel == 63 && i + 1 < n) {
			d[i++] = '.';
			inlabel = 0;
			continue;
		}
		d[i++] = 'd';
		inlabel++;
	}
	d[n] = '\0';
}

static void test_domain_limit(void **state)
{
	(void)state;
	char d[600];
	struct mail_address a;
	enum mail_addr_error err;

	make_domain(d, LIMIT_DOMAIN - 1);
	assert_int_equal(parse_parts("u", d, &a, &err), 0);
	make_domain(d, LIMIT_DOMAIN);
	assert_int_equal(parse_parts("u", d, &a, &err), 0);
	assert_int_equal(strlen(a.domain), LIMIT_DOMAIN);
	/* the longest address fits addr */
	char local[100];
	fill(local, 'l', LIMIT_LOCAL_PART);
	assert_int_equal(parse_parts(local, d, &a, &err), 0);
	assert_int_equal(strlen(a.addr), LIMIT_ADDRESS);
	make_domain(d, LIMIT_DOMAIN + 1);
	assert_int_equal(parse_parts("u", d, &a, &err), -1);
	assert_int_equal(err, MAIL_ADDR_ERR_DOMAIN_TOO_LONG);

	/* labels: 62, 63 ok; 64 refused */
	fill(d, 'e', 62);
	assert_int_equal(parse_parts("u", d, &a, &err), 0);
	fill(d, 'e', 63);
	assert_int_equal(parse_parts("u", d, &a, &err), 0);
	fill(d, 'e', 64);
	assert_int_equal(parse_parts("u", d, &a, &err), -1);
	assert_int_equal(err, MAIL_ADDR_ERR_DOMAIN_TOO_LONG);

	/* a route domain over the limit is refused too */
	char route[700];
	make_domain(d, LIMIT_DOMAIN + 1);
	snprintf(route, sizeof route, "<@%s:u@x.example>", d);
	size_t used;
	assert_int_equal(mail_address_parse(route, strlen(route), 0, &a, &used, &err), -1);
}

/* Every proper prefix of a valid path is refused, and never read past
 * (the copy is exactly the prefix's size: ASan would catch an over-read). */
static void test_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
		const struct ok_case *t = &ok_cases[i];
		size_t full = t->used ? t->used : strlen(t->in);
		for (size_t n = 0; n < full; n++) {
			char *copy = malloc(n ? n : 1);
			memcpy(copy, t->in, n);
			struct mail_address a;
			size_t used;
			enum mail_addr_error err;
			int r = mail_address_parse(copy, n, t->flags, &a, &used, &err);
			free(copy);
			if (r != -1)
				fail_msg("case %zu prefix %zu accepted", i, n);
		}
	}
}

static void test_utf8_valid(void **state)
{
	(void)state;
	assert_true(mail_utf8_valid((const unsigned char *)"plain", 5));
	assert_true(mail_utf8_valid((const unsigned char *)"\xc3\xa9", 2));
	assert_true(mail_utf8_valid((const unsigned char *)"\xe2\x82\xac", 3));
	assert_true(mail_utf8_valid((const unsigned char *)"\xf0\x9f\x98\x80", 4));
	assert_true(mail_utf8_valid((const unsigned char *)"\xf4\x8f\xbf\xbf", 4));
	assert_false(mail_utf8_valid((const unsigned char *)"\xc3", 1));
	assert_false(mail_utf8_valid((const unsigned char *)"\xc1\xbf", 2));	/* overlong */
	assert_false(mail_utf8_valid((const unsigned char *)"\xe0\x80\xaf", 3));	/* overlong */
	assert_false(mail_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));	/* surrogate */
	assert_false(mail_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	assert_false(mail_utf8_valid((const unsigned char *)"\x80", 1));
	assert_false(mail_utf8_valid((const unsigned char *)"\xff", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_table),
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_local_limit),
		cmocka_unit_test(test_domain_limit),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_utf8_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
