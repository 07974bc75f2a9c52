/* test_smtp_parser.c - unit tests of core/smtp/parser.c: line framing fed
 * whole and one byte at a time, the line cap at limit-1 / limit / limit+1
 * (octets including CRLF), the larger cap for "AUTH " lines, skipping an
 * overlong line and resynchronising on the next, NUL bytes, bare LF,
 * pipelined lines; verbs; MAIL/RCPT prefixes and esmtp-params; BDAT and
 * AUTH arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/limits.h"
#include "smtp/parser.h"

#define MAXL 64
#define AUTHL 128

struct got {
	char line[LIMIT_SMTP_AUTH_LINE + 8];
	size_t len;
	enum smtp_line_error error;
};

/* Feeds in (step octets per call, 0 = all at once) and collects lines. */
static size_t feed(struct smtp_parser *p, const char *in, size_t len, size_t step,
		   struct got *out, size_t max)
{
	size_t off = 0, n = 0;
	while (off < len) {
		size_t chunk = step == 0 || len - off < step ? len - off : step;
		size_t pos = 0;
		while (pos < chunk) {
			struct smtp_line l;
			size_t used = 99999;
			int r = smtp_parser_line(p, (const unsigned char *)in + off + pos, chunk - pos,
						 &used, &l);
			assert_true(used <= chunk - pos);
			pos += used;
			if (r == 1) {
				assert_true(n < max);
				assert_true(l.len < sizeof out[n].line);
				memcpy(out[n].line, l.s, l.len);
				out[n].line[l.len] = '\0';
				assert_int_equal(l.s[l.len], '\0');
				out[n].len = l.len;
				out[n].error = l.error;
				n++;
			} else {
				assert_int_equal(r, 0);
				assert_int_equal(pos, chunk);
			}
		}
		off += chunk;
	}
	return n;
}

static void test_lines_basic(void **state)
{
	(void)state;
	static const char in[] = "EHLO x\r\nMAIL FROM:<a@b>\r\nbare lf\n\r\nNOOP\r\n";
	for (size_t step = 0; step <= 3; step++) {
		struct smtp_parser p;
		struct got g[8];
		smtp_parser_init(&p, MAXL, AUTHL);
		size_t n = feed(&p, in, sizeof in - 1, step, g, 8);
		assert_int_equal(n, 5);
		assert_string_equal(g[0].line, "EHLO x");
		assert_string_equal(g[1].line, "MAIL FROM:<a@b>");
		assert_string_equal(g[2].line, "bare lf");
		assert_string_equal(g[3].line, "");
		assert_string_equal(g[4].line, "NOOP");
		for (size_t i = 0; i < n; i++)
			assert_int_equal(g[i].error, SMTP_LINE_OK);
		smtp_parser_free(&p);
	}
}

static void test_line_stops_at_lf(void **state)
{
	(void)state;
	/* Nothing after the first line is consumed (STARTTLS, pipelining). */
	struct smtp_parser p;
	struct smtp_line l;
	size_t used;
	static const char in[] = "STARTTLS\r\nMAIL FROM:<x@y>\r\n";
	smtp_parser_init(&p, MAXL, AUTHL);
	assert_int_equal(smtp_parser_line(&p, (const unsigned char *)in, sizeof in - 1, &used, &l), 1);
	assert_int_equal(used, 10);
	assert_string_equal(l.s, "STARTTLS");
	/* a partial line is kept inside and consumed */
	assert_int_equal(smtp_parser_line(&p, (const unsigned char *)"NO", 2, &used, &l), 0);
	assert_int_equal(used, 2);
	smtp_parser_reset(&p);
	assert_int_equal(smtp_parser_line(&p, (const unsigned char *)"OP\r\n", 4, &used, &l), 1);
	assert_string_equal(l.s, "OP");
	/* idle: the buffer is released; a partial line is kept */
	smtp_parser_shrink(&p);
	assert_null(p.line.base);
	assert_int_equal(smtp_parser_line(&p, (const unsigned char *)"NO", 2, &used, &l), 0);
	smtp_parser_shrink(&p);
	assert_non_null(p.line.base);
	assert_int_equal(smtp_parser_line(&p, (const unsigned char *)"OP\n", 3, &used, &l), 1);
	assert_string_equal(l.s, "NOOP");
	smtp_parser_free(&p);
}

/* A line of total octets (CRLF included). */
static char *make_line(const char *prefix, size_t total)
{
	char *s = malloc(total + 1);
	size_t pl = strlen(prefix);
	assert_true(total >= pl + 2);
	memcpy(s, prefix, pl);
	memset(s + pl, 'x', total - pl - 2);
	s[total - 2] = '\r';
	s[total - 1] = '\n';
	s[total] = '\0';
	return s;
}

static void check_limit(const char *prefix, size_t limit, size_t step)
{
	for (int d = -1; d <= 1; d++) {
		struct smtp_parser p;
		struct got *g = calloc(4, sizeof *g);
		size_t total = (size_t)((long)limit + d);
		char *line = make_line(prefix, total);
		char buf[LIMIT_SMTP_AUTH_LINE * 2 + 64];
		/* the overlong line, then a normal one: resynchronised */
		int n = snprintf(buf, sizeof buf, "%sNOOP\r\n", line);
		assert_true(n > 0 && (size_t)n < sizeof buf);
		smtp_parser_init(&p, MAXL, AUTHL);
		size_t got = feed(&p, buf, (size_t)n, step, g, 4);
		assert_int_equal(got, 2);
		if (d <= 0) {
			assert_int_equal(g[0].error, SMTP_LINE_OK);
			assert_int_equal(g[0].len, total - 2);
		} else {
			assert_int_equal(g[0].error, SMTP_LINE_TOO_LONG);
			assert_int_equal(g[0].len, 0);
		}
		assert_int_equal(g[1].error, SMTP_LINE_OK);
		assert_string_equal(g[1].line, "NOOP");
		smtp_parser_free(&p);
		free(line);
		free(g);
	}
}

static void test_line_limit(void **state)
{
	(void)state;
	for (size_t step = 0; step <= 2; step++) {
		check_limit("NOOP ", MAXL, step);
		check_limit("AUTH ", AUTHL, step);
		check_limit("auth ", AUTHL, step);
		check_limit("AUTHX", MAXL, step);
	}
	/* a short prefix counts: "AUT" + LF is just a short line */
	struct smtp_parser p;
	struct got g[2];
	smtp_parser_init(&p, MAXL, AUTHL);
	assert_int_equal(feed(&p, "AUT\n", 4, 1, g, 2), 1);
	assert_string_equal(g[0].line, "AUT");
	smtp_parser_free(&p);
}

static void test_real_limits(void **state)
{
	(void)state;
	struct smtp_parser p;
	for (int d = -1; d <= 1; d++) {
		struct got *g = calloc(2, sizeof *g);
		char *line = make_line("MAIL ", (size_t)(LIMIT_SMTP_LINE + d));
		smtp_parser_init(&p, LIMIT_SMTP_LINE, LIMIT_SMTP_AUTH_LINE);
		assert_int_equal(feed(&p, line, strlen(line), 7, g, 2), 1);
		assert_int_equal(g[0].error, d <= 0 ? SMTP_LINE_OK : SMTP_LINE_TOO_LONG);
		smtp_parser_free(&p);
		free(line);
		line = make_line("AUTH ", (size_t)(LIMIT_SMTP_AUTH_LINE + d));
		smtp_parser_init(&p, LIMIT_SMTP_LINE, LIMIT_SMTP_AUTH_LINE);
		assert_int_equal(feed(&p, line, strlen(line), 0, g, 2), 1);
		assert_int_equal(g[0].error, d <= 0 ? SMTP_LINE_OK : SMTP_LINE_TOO_LONG);
		smtp_parser_free(&p);
		free(line);
		/* AUTH continuation lines: set_max raises the cap */
		line = make_line("", (size_t)(LIMIT_SMTP_AUTH_LINE + d));
		smtp_parser_init(&p, LIMIT_SMTP_LINE, LIMIT_SMTP_AUTH_LINE);
		smtp_parser_set_max(&p, LIMIT_SMTP_AUTH_LINE);
		assert_int_equal(feed(&p, line, strlen(line), 0, g, 2), 1);
		assert_int_equal(g[0].error, d <= 0 ? SMTP_LINE_OK : SMTP_LINE_TOO_LONG);
		smtp_parser_set_max(&p, LIMIT_SMTP_LINE);
		free(line);
		line = make_line("", (size_t)(LIMIT_SMTP_LINE + 1));
		assert_int_equal(feed(&p, line, strlen(line), 0, g, 2), 1);
		assert_int_equal(g[0].error, SMTP_LINE_TOO_LONG);
		smtp_parser_free(&p);
		free(line);
		free(g);
	}
}

static void test_overlong_no_lf_yet(void **state)
{
	(void)state;
	/* Megabytes without LF are consumed (not buffered) and give one error. */
	struct smtp_parser p;
	struct smtp_line l;
	size_t used;
	char junk[4096];
	memset(junk, 'j', sizeof junk);
	smtp_parser_init(&p, MAXL, AUTHL);
	for (int i = 0; i < 256; i++) {
		assert_int_equal(smtp_parser_line(&p, (const unsigned char *)junk, sizeof junk, &used, &l), 0);
		assert_int_equal(used, sizeof junk);
		assert_true(p.line.len <= AUTHL + 1);
	}
	assert_int_equal(smtp_parser_line(&p, (const unsigned char *)"\r\nQUIT\r\n", 8, &used, &l), 1);
	assert_int_equal(l.error, SMTP_LINE_TOO_LONG);
	assert_int_equal(used, 2);
	assert_int_equal(smtp_parser_line(&p, (const unsigned char *)"QUIT\r\n", 6, &used, &l), 1);
	assert_int_equal(l.error, SMTP_LINE_OK);
	assert_string_equal(l.s, "QUIT");
	smtp_parser_free(&p);
}

static void test_nul(void **state)
{
	(void)state;
	struct smtp_parser p;
	struct got g[2];
	static const char in[] = "MAIL FROM:<a\0b@c>\r\nNOOP\r\n";
	smtp_parser_init(&p, MAXL, AUTHL);
	assert_int_equal(feed(&p, in, sizeof in - 1, 1, g, 2), 2);
	assert_int_equal(g[0].error, SMTP_LINE_NUL);
	assert_int_equal(g[1].error, SMTP_LINE_OK);
	smtp_parser_free(&p);
}

static void test_verbs(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		enum smtp_verb verb;
		const char *args;
	} cases[] = {
		{ "EHLO client.example", SMTP_VERB_EHLO, "client.example" },
		{ "ehlo   client.example  ", SMTP_VERB_EHLO, "client.example" },
		{ "HeLo x", SMTP_VERB_HELO, "x" },
		{ "MAIL FROM:<a@b> SIZE=1", SMTP_VERB_MAIL, "FROM:<a@b> SIZE=1" },
		{ "rcpt to:<a@b>", SMTP_VERB_RCPT, "to:<a@b>" },
		{ "DATA", SMTP_VERB_DATA, "" },
		{ "DATA ", SMTP_VERB_DATA, "" },
		{ "BDAT 10 LAST", SMTP_VERB_BDAT, "10 LAST" },
		{ "RSET", SMTP_VERB_RSET, "" },
		{ "NOOP hello", SMTP_VERB_NOOP, "hello" },
		{ "QUIT", SMTP_VERB_QUIT, "" },
		{ "VRFY x", SMTP_VERB_VRFY, "x" },
		{ "EXPN x", SMTP_VERB_EXPN, "x" },
		{ "HELP", SMTP_VERB_HELP, "" },
		{ "STARTTLS", SMTP_VERB_STARTTLS, "" },
		{ "AUTH PLAIN AGFAYg==", SMTP_VERB_AUTH, "PLAIN AGFAYg==" },
		{ "GET / HTTP/1.1", SMTP_VERB_HTTP, "/ HTTP/1.1" },
		{ "POST /x HTTP/1.0", SMTP_VERB_HTTP, "/x HTTP/1.0" },
		{ "MAILFROM:<a@b>", SMTP_VERB_UNKNOWN, "" },
		{ "STARTTLSX", SMTP_VERB_UNKNOWN, "" },
		{ "", SMTP_VERB_UNKNOWN, "" },
		{ " NOOP", SMTP_VERB_UNKNOWN, "NOOP" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char line[128];
		struct smtp_cmd cmd;
		snprintf(line, sizeof line, "%s", cases[i].line);
		int r = smtp_parse_command(line, strlen(line), &cmd);
		assert_int_equal(r, cases[i].verb == SMTP_VERB_UNKNOWN ? -1 : 0);
		assert_int_equal(cmd.verb, cases[i].verb);
		if (cases[i].verb != SMTP_VERB_UNKNOWN) {
			assert_string_equal(cmd.args, cases[i].args);
			assert_int_equal(cmd.args_len, strlen(cases[i].args));
		}
	}
}

static void test_path_prefix(void **state)
{
	(void)state;
	const char *path;
	size_t plen;
	assert_int_equal(smtp_parse_path_prefix("FROM:<a@b>", 10, "FROM:", &path, &plen), 0);
	assert_int_equal(plen, 5);
	assert_memory_equal(path, "<a@b>", 5);
	assert_int_equal(smtp_parse_path_prefix("from: <a@b> X", 13, "FROM:", &path, &plen), 0);
	assert_memory_equal(path, "<a@b> X", 7);
	assert_int_equal(smtp_parse_path_prefix("TO:<a@b>", 8, "FROM:", &path, &plen), -1);
	assert_int_equal(smtp_parse_path_prefix("FROM", 4, "FROM:", &path, &plen), -1);
	assert_int_equal(smtp_parse_path_prefix("", 0, "TO:", &path, &plen), -1);
}

static void test_params(void **state)
{
	(void)state;
	struct smtp_param p[LIMIT_SMTP_PARAMS];
	size_t n;
	const char *s = " SIZE=1000 BODY=8BITMIME SMTPUTF8";
	assert_int_equal(smtp_parse_params(s, strlen(s), p, LIMIT_SMTP_PARAMS, &n), 0);
	assert_int_equal(n, 3);
	assert_true(smtp_param_is(&p[0], "size"));
	assert_memory_equal(p[0].value, "1000", 4);
	assert_int_equal(p[0].value_len, 4);
	assert_true(smtp_param_is(&p[1], "BODY"));
	assert_true(smtp_param_is(&p[2], "SMTPUTF8"));
	assert_null(p[2].value);
	assert_false(smtp_param_is(&p[2], "SMTPUTF"));

	assert_int_equal(smtp_parse_params("", 0, p, LIMIT_SMTP_PARAMS, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(smtp_parse_params("   ", 3, p, LIMIT_SMTP_PARAMS, &n), 0);
	assert_int_equal(n, 0);

	static const char *const bad[] = {
		"SIZE=1",	/* no space after the path */
		" SIZE=",	/* empty value */
		" =1",		/* no keyword */
		" -X=1",	/* keyword starts with a letter or digit */
		" SI_ZE=1",
		" SIZE=1=2",
		" SIZE=a\x7f",
		" A B C D E F G H I",	/* more than max */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(smtp_parse_params(bad[i], strlen(bad[i]), p, LIMIT_SMTP_PARAMS, &n), -1);
	/* exactly max is fine */
	s = " A B C D E F G H";
	assert_int_equal(smtp_parse_params(s, strlen(s), p, LIMIT_SMTP_PARAMS, &n), 0);
	assert_int_equal(n, LIMIT_SMTP_PARAMS);
	/* UTF-8 values (SMTPUTF8) pass the grammar */
	s = " X=\xc3\xa9";
	assert_int_equal(smtp_parse_params(s, strlen(s), p, LIMIT_SMTP_PARAMS, &n), 0);
}

static void test_bdat(void **state)
{
	(void)state;
	uint64_t size;
	bool last;
	assert_int_equal(smtp_parse_bdat("100", 3, &size, &last), 0);
	assert_int_equal(size, 100);
	assert_false(last);
	assert_int_equal(smtp_parse_bdat("0 LAST", 6, &size, &last), 0);
	assert_int_equal(size, 0);
	assert_true(last);
	assert_int_equal(smtp_parse_bdat("7 last", 6, &size, &last), 0);
	assert_true(last);
	assert_int_equal(smtp_parse_bdat("18446744073709551615", 20, &size, &last), 0);
	assert_true(size == UINT64_MAX);
	assert_int_equal(smtp_parse_bdat("18446744073709551616", 20, &size, &last), -1);
	assert_int_equal(smtp_parse_bdat("000000000000000000001", 21, &size, &last), -1);
	assert_int_equal(smtp_parse_bdat("", 0, &size, &last), -1);
	assert_int_equal(smtp_parse_bdat("-1", 2, &size, &last), -1);
	assert_int_equal(smtp_parse_bdat("1x", 2, &size, &last), -1);
	assert_int_equal(smtp_parse_bdat("1 LASTX", 7, &size, &last), -1);
	assert_int_equal(smtp_parse_bdat("1 FIRST", 7, &size, &last), -1);
	assert_int_equal(smtp_parse_bdat("LAST", 4, &size, &last), -1);
}

static void test_auth_args(void **state)
{
	(void)state;
	char mech[16];
	const char *ir;
	size_t irlen;
	assert_int_equal(smtp_parse_auth("plain", 5, mech, sizeof mech, &ir, &irlen), 0);
	assert_string_equal(mech, "PLAIN");
	assert_int_equal(irlen, 0);
	assert_int_equal(smtp_parse_auth("PLAIN AGFAYg==", 14, mech, sizeof mech, &ir, &irlen), 0);
	assert_string_equal(mech, "PLAIN");
	assert_int_equal(irlen, 8);
	assert_memory_equal(ir, "AGFAYg==", 8);
	assert_int_equal(smtp_parse_auth("SCRAM-SHA-256", 13, mech, sizeof mech, &ir, &irlen), 0);
	assert_int_equal(smtp_parse_auth("", 0, mech, sizeof mech, &ir, &irlen), -1);
	assert_int_equal(smtp_parse_auth("PL@IN", 5, mech, sizeof mech, &ir, &irlen), -1);
	/* mechanism longer than the buffer */
	assert_int_equal(smtp_parse_auth("ABCDEFGHIJKLMNOPQRS", 19, mech, sizeof mech, &ir, &irlen), -1);
	assert_int_equal(smtp_parse_auth("ABCDEFGHIJKLMNO", 15, mech, sizeof mech, &ir, &irlen), 0);
	assert_int_equal(smtp_parse_auth("ABCDEFGHIJKLMNOP", 16, mech, sizeof mech, &ir, &irlen), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_basic),
		cmocka_unit_test(test_line_stops_at_lf),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_real_limits),
		cmocka_unit_test(test_overlong_no_lf_yet),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_path_prefix),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_auth_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
