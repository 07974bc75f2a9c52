/* test_pop3_parser.c - the POP3 command reader (core/pop3/parser.c) fed whole
 * and one byte at a time, at LIMIT_POP3_LINE - 1, LIMIT_POP3_LINE and
 * LIMIT_POP3_LINE + 1 (terminator included), NUL, bare LF and argument
 * splitting; then the RETR/TOP output (core/pop3/stuff.c): dot-stuffing
 * pieced through tiny output buffers, the terminator, and TOP's cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/limits.h"
#include "pop3/parser.h"
#include "pop3/stuff.h"

/* What one command line gave, copied out of the parser. */
struct result {
	int r;			/* 1 or -1 */
	char verb[POP3_VERB_MAX + 1];
	size_t n_args;
	char args[POP3_ARGS_MAX][64];
	char rest[64];
	size_t line_len;
	const char *error;
};

#define RESULTS_MAX 8

static void copy_arg(char *dst, size_t size, const struct pop3_arg *a)
{
	size_t n = a->len < size - 1 ? a->len : size - 1;

	if (a->p != NULL)
		memcpy(dst, a->p, n);
	dst[n] = '\0';
}

/* Feeds data in pieces of step bytes (0 = all at once), handing back the
 * unconsumed bytes as a conn's input buffer would. Returns results found. */
static size_t feed(struct pop3_parser *p, const char *data, size_t len, size_t step,
		   struct result *res, size_t max)
{
	unsigned char *pending = malloc(len + 1);
	size_t have = 0, given = 0, n = 0;

	assert_non_null(pending);
	while (given < len || have > 0) {
		size_t add = step == 0 ? len - given : step;
		struct pop3_cmd cmd;
		const char *error = NULL;
		size_t used = 0;
		int r;

		if (add > len - given)
			add = len - given;
		memcpy(pending + have, data + given, add);
		have += add;
		given += add;
		for (;;) {
			r = pop3_parser_read(p, pending, have, &used, &cmd, &error);
			assert_true(used <= have);
			memmove(pending, pending + used, have - used);
			have -= used;
			if (r == 0) {
				assert_int_equal(have, 0);	/* all consumed when it needs more */
				break;
			}
			assert_true(n < max);
			memset(&res[n], 0, sizeof(res[n]));
			res[n].r = r;
			if (r < 0) {
				res[n].error = error;
			} else {
				size_t i;

				memcpy(res[n].verb, cmd.verb, sizeof(res[n].verb));
				res[n].n_args = cmd.n_args;
				for (i = 0; i < cmd.n_args && i < POP3_ARGS_MAX; i++)
					copy_arg(res[n].args[i], sizeof(res[n].args[i]),
						 &cmd.args[i]);
				copy_arg(res[n].rest, sizeof(res[n].rest), &cmd.rest);
				res[n].line_len = cmd.line.len;
				assert_int_equal(cmd.line.p[cmd.line.len], '\0');
			}
			n++;
			if (have == 0)
				break;
		}
		if (given == len && have == 0)
			break;
	}
	free(pending);
	return n;
}

/* Runs a case whole and byte by byte; both must agree. */
static size_t feed_both(size_t max_line, const char *data, size_t len, struct result *res)
{
	struct result one[RESULTS_MAX];
	struct pop3_parser p;
	size_t n1, n2, i;

	pop3_parser_init(&p, max_line);
	n1 = feed(&p, data, len, 0, res, RESULTS_MAX);
	pop3_parser_init(&p, max_line);
	n2 = feed(&p, data, len, 1, one, RESULTS_MAX);
	assert_int_equal(n1, n2);
	for (i = 0; i < n1; i++) {
		assert_int_equal(res[i].r, one[i].r);
		assert_string_equal(res[i].verb, one[i].verb);
		assert_int_equal(res[i].n_args, one[i].n_args);
		assert_string_equal(res[i].rest, one[i].rest);
		if (res[i].r < 0)
			assert_string_equal(res[i].error, one[i].error);
	}
	return n1;
}

static size_t feed_str(const char *s, struct result *res)
{
	return feed_both(LIMIT_POP3_LINE, s, strlen(s), res);
}

static void test_simple(void **state)
{
	struct result res[RESULTS_MAX];

	(void)state;
	assert_int_equal(feed_str("STAT\r\n", res), 1);
	assert_int_equal(res[0].r, 1);
	assert_string_equal(res[0].verb, "STAT");
	assert_int_equal(res[0].n_args, 0);
	assert_string_equal(res[0].rest, "");
	assert_int_equal(res[0].line_len, 4);
}

static void test_case_and_args(void **state)
{
	struct result res[RESULTS_MAX];

	(void)state;
	assert_int_equal(feed_str("top 3 10\r\n", res), 1);
	assert_string_equal(res[0].verb, "TOP");
	assert_int_equal(res[0].n_args, 2);
	assert_string_equal(res[0].args[0], "3");
	assert_string_equal(res[0].args[1], "10");

	assert_int_equal(feed_str("LiSt  7  \r\n", res), 1);
	assert_string_equal(res[0].verb, "LIST");
	assert_int_equal(res[0].n_args, 1);
	assert_string_equal(res[0].args[0], "7");

	/* PASS keeps the whole rest, spaces included. */
	assert_int_equal(feed_str("PASS  my secret pass \r\n", res), 1);
	assert_string_equal(res[0].verb, "PASS");
	assert_int_equal(res[0].n_args, 3);
	assert_string_equal(res[0].args[0], "my");
	assert_string_equal(res[0].args[1], "secret");
	assert_string_equal(res[0].rest, " my secret pass ");

	assert_int_equal(feed_str("AUTH PLAIN AGEAYg==\r\n", res), 1);
	assert_string_equal(res[0].verb, "AUTH");
	assert_int_equal(res[0].n_args, 2);
	assert_string_equal(res[0].args[0], "PLAIN");
	assert_string_equal(res[0].args[1], "AGEAYg==");

	/* Empty line and an over-long verb are unknown commands: verb "". */
	assert_int_equal(feed_str("\r\n", res), 1);
	assert_string_equal(res[0].verb, "");
	assert_int_equal(feed_str("ABCDEFGH x\r\n", res), 1);
	assert_string_equal(res[0].verb, "ABCDEFGH");
	assert_int_equal(feed_str("ABCDEFGHI x\r\n", res), 1);
	assert_string_equal(res[0].verb, "");
	assert_int_equal(res[0].n_args, 1);
}

static void test_bare_lf(void **state)
{
	struct result res[RESULTS_MAX];

	(void)state;
	assert_int_equal(feed_str("NOOP\nstat\r\nQUIT\n", res), 3);
	assert_string_equal(res[0].verb, "NOOP");
	assert_string_equal(res[1].verb, "STAT");
	assert_string_equal(res[2].verb, "QUIT");
	assert_int_equal(res[2].line_len, 4);
}

static void test_pipelined_one_at_a_time(void **state)
{
	const char *in = "USER a\r\nPASS b\r\n";
	struct pop3_parser p;
	struct pop3_cmd cmd;
	const char *error;
	size_t used;

	(void)state;
	pop3_parser_init(&p, LIMIT_POP3_LINE);
	assert_int_equal(pop3_parser_read(&p, (const unsigned char *)in, strlen(in), &used, &cmd,
					  &error),
			 1);
	assert_int_equal(used, 8);	/* the second line is left for the next call */
	assert_string_equal(cmd.verb, "USER");
	assert_int_equal(pop3_parser_read(&p, (const unsigned char *)in + used, strlen(in) - used,
					  &used, &cmd, &error),
			 1);
	assert_string_equal(cmd.verb, "PASS");
	pop3_parser_wipe(&p);
	assert_int_equal(p.line[0], '\0');
}

/* A line of total bytes (terminator included) then "NOOP\r\n". */
static char *make_line(size_t total, const char *term, size_t *len_r)
{
	size_t tl = strlen(term), body = total - tl;
	char *s = malloc(total + 7);

	assert_non_null(s);
	memcpy(s, "LIST ", 5);
	memset(s + 5, '1', body - 5);
	memcpy(s + body, term, tl);
	memcpy(s + total, "NOOP\r\n", 6);
	*len_r = total + 6;
	return s;
}

static void check_limit(size_t max, const char *term)
{
	struct result res[RESULTS_MAX];
	size_t len;
	char *s;

	/* max - 1 and max: accepted. */
	s = make_line(max - 1, term, &len);
	assert_int_equal(feed_both(max, s, len, res), 2);
	assert_int_equal(res[0].r, 1);
	assert_int_equal(res[0].line_len, max - 1 - strlen(term));
	assert_string_equal(res[1].verb, "NOOP");
	free(s);

	s = make_line(max, term, &len);
	assert_int_equal(feed_both(max, s, len, res), 2);
	assert_int_equal(res[0].r, 1);
	assert_string_equal(res[0].verb, "LIST");
	assert_int_equal(res[0].line_len, max - strlen(term));
	assert_string_equal(res[1].verb, "NOOP");
	free(s);

	/* max + 1: refused once, skipped, the next command is intact. */
	s = make_line(max + 1, term, &len);
	assert_int_equal(feed_both(max, s, len, res), 2);
	assert_int_equal(res[0].r, -1);
	assert_string_equal(res[0].error, "line too long");
	assert_int_equal(res[1].r, 1);
	assert_string_equal(res[1].verb, "NOOP");
	free(s);
}

static void test_limits(void **state)
{
	(void)state;
	check_limit(LIMIT_POP3_LINE, "\r\n");
	check_limit(LIMIT_POP3_LINE, "\n");
	check_limit(LIMIT_POP3_AUTH_LINE, "\r\n");
}

static void test_too_long_reported_once(void **state)
{
	size_t len = 5 * LIMIT_POP3_LINE, i;
	struct result res[RESULTS_MAX];
	char *s = malloc(len + 6);

	(void)state;
	assert_non_null(s);
	for (i = 0; i < len; i++)
		s[i] = 'x';
	memcpy(s + len, "\nSTAT\n", 6);
	assert_int_equal(feed_both(LIMIT_POP3_LINE, s, len + 6, res), 2);
	assert_int_equal(res[0].r, -1);
	assert_string_equal(res[0].error, "line too long");
	assert_int_equal(res[1].r, 1);
	assert_string_equal(res[1].verb, "STAT");
	free(s);
}

static void test_nul(void **state)
{
	static const char in[] = "US\0ER a\r\nNOOP\r\n";
	struct result res[RESULTS_MAX];

	(void)state;
	assert_int_equal(feed_both(LIMIT_POP3_LINE, in, sizeof(in) - 1, res), 2);
	assert_int_equal(res[0].r, -1);
	assert_string_equal(res[0].error, "NUL in command");
	assert_int_equal(res[1].r, 1);
	assert_string_equal(res[1].verb, "NOOP");
}

static void test_set_max(void **state)
{
	struct pop3_parser p;

	(void)state;
	pop3_parser_init(&p, LIMIT_POP3_LINE);
	assert_int_equal(p.max_line, LIMIT_POP3_LINE);
	pop3_parser_set_max(&p, POP3_PARSER_LINE_MAX * 4);
	assert_int_equal(p.max_line, POP3_PARSER_LINE_MAX);
}

/* --- stuff.c --- */

/* Body -> wire bytes through an output buffer of outcap bytes (plus the
 * terminator), fed in steps of step input bytes. */
static char *stuff(const char *in, size_t len, size_t step, size_t outcap, size_t *len_r)
{
	char *wire = malloc(2 * len + POP3_STUFF_END_MAX + 1);
	struct pop3_stuff st;
	size_t off = 0, w = 0;

	assert_non_null(wire);
	pop3_stuff_init(&st);
	while (off < len) {
		size_t n = len - off < step ? len - off : step, used = 0;
		unsigned char out[64];

		size_t k;

		assert_true(outcap <= sizeof(out));
		k = pop3_stuff_run(&st, (const unsigned char *)in + off, n, &used, out, outcap);
		assert_true(k <= outcap);
		memcpy(wire + w, out, k);
		w += k;
		off += used;
	}
	w += pop3_stuff_end(&st, (unsigned char *)wire + w);
	wire[w] = '\0';
	*len_r = w;
	return wire;
}

static void check_stuff(const char *in, const char *want)
{
	size_t steps[] = { 1, 2, 3, 1000 }, caps[] = { 2, 3, 7, 64 }, i, j, len;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		for (j = 0; j < sizeof(caps) / sizeof(caps[0]); j++) {
			char *got = stuff(in, strlen(in), steps[i], caps[j], &len);

			assert_int_equal(len, strlen(want));
			assert_string_equal(got, want);
			free(got);
		}
	}
}

static void test_stuff(void **state)
{
	(void)state;
	check_stuff("", ".\r\n");
	check_stuff("a\r\n", "a\r\n.\r\n");
	check_stuff("a\r\n.b\r\n..c\r\n", "a\r\n..b\r\n...c\r\n.\r\n");
	check_stuff(".\r\n", "..\r\n.\r\n");
	check_stuff("x.y\r\n.\r\n", "x.y\r\n..\r\n.\r\n");
	check_stuff("Subject: x\r\n\r\n.\r\nend", "Subject: x\r\n\r\n..\r\nend\r\n.\r\n");
	/* Robust to stored bytes without CRLF. */
	check_stuff("abc", "abc\r\n.\r\n");
	check_stuff("a\nb\n.c\n", "a\r\nb\r\n..c\r\n.\r\n");
	check_stuff("a\r", "a\r\n.\r\n");
	check_stuff("a\rb\r\n", "a\rb\r\n.\r\n");
	check_stuff(".", "..\r\n.\r\n");
}

static void test_stuff_no_room(void **state)
{
	struct pop3_stuff st;
	unsigned char out[4];
	size_t used;

	(void)state;
	pop3_stuff_init(&st);
	/* A leading "." needs two bytes: with one byte of room nothing moves. */
	assert_int_equal(pop3_stuff_run(&st, (const unsigned char *)".a", 2, &used, out, 1), 0);
	assert_int_equal(used, 0);
	assert_int_equal(pop3_stuff_run(&st, (const unsigned char *)".a", 2, &used, out, 2), 2);
	assert_int_equal(used, 1);
	assert_memory_equal(out, "..", 2);
}

static size_t top(const char *msg, uint64_t n)
{
	return pop3_top_len((const unsigned char *)msg, strlen(msg), n);
}

static void test_top(void **state)
{
	const char *m = "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
	const char *lf = "A: 1\n\nb1\nb2\n";

	(void)state;
	assert_int_equal(top(m, 0), strlen("A: 1\r\nB: 2\r\n\r\n"));
	assert_int_equal(top(m, 1), strlen("A: 1\r\nB: 2\r\n\r\nl1\r\n"));
	assert_int_equal(top(m, 2), strlen("A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n"));
	assert_int_equal(top(m, 3), strlen(m));
	assert_int_equal(top(m, 1000), strlen(m));
	assert_int_equal(top(m, UINT64_MAX), strlen(m));
	/* No empty line: all header. */
	assert_int_equal(top("A: 1\r\nB: 2\r\n", 0), strlen("A: 1\r\nB: 2\r\n"));
	assert_int_equal(top("A: 1", 5), 4);
	assert_int_equal(top("", 5), 0);
	/* Empty header. */
	assert_int_equal(top("\r\nbody\r\n", 0), 2);
	assert_int_equal(top("\r\nbody\r\n", 1), 8);
	/* Bare LF lines. */
	assert_int_equal(top(lf, 0), strlen("A: 1\n\n"));
	assert_int_equal(top(lf, 1), strlen("A: 1\n\nb1\n"));
	/* A last line without CRLF counts as a line. */
	assert_int_equal(top("A: 1\r\n\r\nb1\r\nb2", 2), strlen("A: 1\r\n\r\nb1\r\nb2"));
	/* A header line holding spaces only is not the end of the header. */
	assert_int_equal(top("A: 1\r\n \r\nB: 2\r\n\r\nx\r\n", 0),
			 strlen("A: 1\r\n \r\nB: 2\r\n\r\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_case_and_args),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_pipelined_one_at_a_time),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_too_long_reported_once),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_set_max),
		cmocka_unit_test(test_stuff),
		cmocka_unit_test(test_stuff_no_room),
		cmocka_unit_test(test_top),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
