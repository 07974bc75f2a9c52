/* test_imap_parser.c - the IMAP command reader (core/imap/parser.c): every
 * case fed whole and one byte at a time and the two must agree; tags, atoms,
 * quoted strings, lists to the depth limit, FETCH sections, literal flows
 * (sync accepted / taken / refused, {n+}, LITERAL- at 4096, literal8, over
 * budget), NUL, and each limit at limit - 1, limit and limit + 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/limits.h"
#include "imap/parser.h"

enum policy { ACCEPT, TAKE, REFUSE, AUTO };

struct out {
	char s[LIMIT_IMAP_LINE + 4096];
	size_t len;
};

static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->s + o->len, sizeof(o->s) - o->len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(o->s) - o->len);
	o->len += (size_t)n;
}

static const char *kind_names[] = { "BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE" };

static void render_args(struct out *o, const struct imap_arg *a, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		if (i > 0)
			outf(o, " ");
		switch (a[i].type) {
		case IMAP_ARG_NIL:
			outf(o, "NIL");
			break;
		case IMAP_ARG_ATOM:
			outf(o, "%s", a[i].str);
			break;
		case IMAP_ARG_STRING:
			outf(o, "\"%s\"", a[i].str);
			break;
		case IMAP_ARG_LITERAL:
			outf(o, "{%s%zu:", a[i].literal8 ? "~" : "", a[i].len);
			for (size_t k = 0; k < a[i].len; k++)
				outf(o, "%c", a[i].str[k] == '\0' ? '0' : a[i].str[k]);
			outf(o, "}");
			break;
		case IMAP_ARG_LITERAL_TAKEN:
			outf(o, "{taken %zu}", a[i].len);
			break;
		case IMAP_ARG_LIST:
			assert_int_equal(a[i].list[a[i].list_count].type, IMAP_ARG_EOL);
			outf(o, "(");
			render_args(o, a[i].list, a[i].list_count);
			outf(o, ")");
			break;
		case IMAP_ARG_SECTION: {
			const struct imap_section *s = a[i].section;

			outf(o, "%s[", kind_names[s->kind]);
			for (unsigned int k = 0; k < s->n_parts; k++)
				outf(o, "%s%u", k ? "." : "", s->parts[k]);
			outf(o, "|%d", (int)s->text);
			for (unsigned int k = 0; k < s->n_fields; k++)
				outf(o, "|%s", s->fields[k]);
			outf(o, "]");
			if (s->partial)
				outf(o, "<%llu.%llu>", (unsigned long long)s->partial_offset,
				     (unsigned long long)s->partial_length);
			break;
		}
		case IMAP_ARG_EOL:
			fail();
		}
	}
}

/* Feeds data in pieces of step bytes (0 = all at once) as a session would,
 * answering literal announcements by policy. Returns the event log. */
static void feed(const struct imap_parser_params *params, const void *data, size_t len,
		 size_t step, enum policy policy, struct out *o)
{
	struct imap_parser *p = imap_parser_create(params);
	unsigned char *pending = malloc(len + 1);
	size_t have = 0, given = 0;
	uint64_t to_take = 0;
	bool closed = false;

	assert_non_null(pending);
	o->len = 0;
	o->s[0] = '\0';
	while ((given < len || have > 0) && !closed) {
		size_t add = step == 0 ? len - given : step;

		if (add > len - given)
			add = len - given;
		memcpy(pending + have, (const char *)data + given, add);
		have += add;
		given += add;
		while (have > 0) {
			struct imap_cmd cmd;
			size_t used = 0;
			int r;

			if (to_take > 0) {
				size_t n = have < to_take ? have : (size_t)to_take;

				memmove(pending, pending + n, have - n);
				have -= n;
				to_take -= n;
				continue;
			}
			r = imap_parser_read(p, pending, have, &used, &cmd);
			assert_true(used <= have);
			memmove(pending, pending + used, have - used);
			have -= used;
			if (r == IMAP_PARSE_MORE) {
				assert_int_equal(have, 0);
				break;
			}
			if (r == IMAP_PARSE_DONE) {
				outf(o, "%s %s", cmd.tag, cmd.name);
				assert_int_equal(cmd.args[cmd.n_args].type, IMAP_ARG_EOL);
				if (cmd.n_args > 0)
					outf(o, " ");
				render_args(o, cmd.args, cmd.n_args);
				outf(o, ";");
			} else if (r == IMAP_PARSE_ERROR) {
				outf(o, "ERR %s %s%s%s%s%s;", cmd.tag ? cmd.tag : "*",
				     cmd.error.reply == IMAP_REPLY_BYE ? "BYE" : "BAD",
				     cmd.error.code ? " [" : "", cmd.error.code ? cmd.error.code : "",
				     cmd.error.code ? "] " : " ", cmd.error.text);
				if (cmd.error.close)
					closed = true;
			} else {
				enum policy pol = policy;

				assert_int_equal(r, IMAP_PARSE_LITERAL);
				outf(o, "LIT %llu%s%s%s;", (unsigned long long)cmd.literal.size,
				     cmd.literal.sync ? "" : "+", cmd.literal.too_big ? " toobig" : "",
				     cmd.literal.fits ? "" : " nofit");
				if (pol == AUTO)
					pol = cmd.literal.too_big || !cmd.literal.fits ? REFUSE : ACCEPT;
				if (pol == ACCEPT && imap_parser_literal_accept(p) < 0)
					pol = REFUSE;
				if (pol == TAKE) {
					imap_parser_literal_take(p);
					to_take = cmd.literal.size;
				} else if (pol == REFUSE) {
					imap_parser_literal_refuse(p);
				}
			}
		}
	}
	free(pending);
	imap_parser_free(&p);
	assert_null(p);
}

static struct imap_parser_params auth_params(void)
{
	struct imap_parser_params params;

	imap_parser_params_default(&params, true);
	return params;
}

/* Checks data gives expect fed whole and fed one byte at a time. */
static void check_params(const struct imap_parser_params *params, const char *data, size_t len,
			 enum policy policy, const char *expect)
{
	static struct out whole, bytes;

	feed(params, data, len, 0, policy, &whole);
	feed(params, data, len, 1, policy, &bytes);
	if (strcmp(whole.s, expect) != 0)
		fail_msg("input %.200s\n got    %s\n expect %s", data, whole.s, expect);
	if (strcmp(bytes.s, expect) != 0)
		fail_msg("byte by byte %.200s\n got    %s\n expect %s", data, bytes.s, expect);
}

static void check(const char *data, const char *expect)
{
	struct imap_parser_params params = auth_params();

	check_params(&params, data, strlen(data), AUTO, expect);
}

static void test_basic(void **state)
{
	(void)state;
	check("a1 NOOP\r\n", "a1 NOOP;");
	check("a1 noop\r\n", "a1 NOOP;");
	check("a1 NoOp\n", "a1 NOOP;");
	check("\r\n\r\na1 CAPABILITY\r\n", "a1 CAPABILITY;");
	check("a LOGIN user \"pass word\"\r\n", "a LOGIN user \"pass word\";");
	check("a LOGIN \"us\\\\er\" \"p\\\"w\"\r\n", "a LOGIN \"us\\er\" \"p\"w\";");
	check("a SELECT NIL\r\n", "a SELECT NIL;");
	check("a SELECT \"\"\r\n", "a SELECT \"\";");
	check("a1 NOOP\r\na2 NOOP\r\n", "a1 NOOP;a2 NOOP;");
	check("a UID FETCH 1:* (FLAGS UID)\r\n", "a UID FETCH 1:* (FLAGS UID);");
	check("a STORE 1 +FLAGS (\\Seen \\Deleted)\r\n", "a STORE 1 +FLAGS (\\Seen \\Deleted);");
	check("a LIST \"\" %\r\n", "a LIST \"\" %;");
	check("a LIST \"\" *\r\n", "a LIST \"\" *;");
	check("a SEARCH UID 1:5 ()\r\n", "a SEARCH UID 1:5 ();");
	check("a STATUS INBOX (MESSAGES UNSEEN)  \r\n", "a STATUS INBOX (MESSAGES UNSEEN);");
	check("a X ((a) (b (c)))\r\n", "a X ((a) (b (c)));");
	check("a SELECT foo]bar\r\n", "a SELECT foo]bar;");
	check("a SELECT a[b\r\n", "a SELECT a[b;");
	check("a ID (\"name\" \"x\" \"version\" NIL)\r\n", "a ID (\"name\" \"x\" \"version\" NIL);");
}

static void test_tags(void **state)
{
	(void)state;
	check("A.1-b]x NOOP\r\n", "A.1-b]x NOOP;");
	check("+ NOOP\r\n", "ERR * BAD Invalid tag;");
	check("a+ NOOP\r\n", "ERR * BAD Invalid tag;");
	check("* NOOP\r\n", "ERR * BAD Invalid tag;");
	check("a* NOOP\r\n", "ERR * BAD Invalid tag;");
	check("a% NOOP\r\n", "ERR * BAD Invalid tag;");
	check("a\\ NOOP\r\n", "ERR * BAD Invalid tag;");
	check("a( NOOP\r\n", "ERR * BAD Invalid tag;");
	check("a{ NOOP\r\n", "ERR * BAD Invalid tag;");
	check("\"a\" NOOP\r\n", "ERR * BAD Invalid tag;");
	check("a\x01 NOOP\r\n", "ERR * BAD Invalid tag;");
	check("t\xc3\xa9 NOOP\r\n", "ERR * BAD Invalid tag;");
	check(" a NOOP\r\n", "ERR * BAD Invalid tag;");
	check("a\r\n", "ERR a BAD Missing command name;");
	check("a \r\n", "ERR a BAD Missing command name;");
	check("a (NOOP)\r\n", "ERR a BAD Missing command name;");
	check("a NO\"OP\"\r\n", "ERR a BAD Invalid command name;");
	check("a ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF\r\n", "a ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF;");
	check("a ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG\r\n", "ERR a BAD Invalid command name;");
	/* an error does not stop the next command */
	check("+ x\r\nb NOOP\r\n", "ERR * BAD Invalid tag;b NOOP;");
}

static void test_syntax_errors(void **state)
{
	(void)state;
	check("a X (b\r\n", "ERR a BAD Missing );");
	check("a X b)\r\n", "ERR a BAD Unexpected );");
	check("a X \"abc\r\n", "ERR a BAD Missing \" at the end of a quoted string;");
	check("a X \"a\\b\"\r\n", "ERR a BAD Invalid escape in quoted string;");
	check("a X \"a\tb\"\r\n", "ERR a BAD Control characters in quoted string;");
	check("a X \"caf\xc3\xa9\"\r\n", "ERR a BAD 8-bit characters in quoted string, use a literal;");
	check("a X caf\xc3\xa9\r\n", "ERR a BAD 8-bit characters in atom;");
	check("a X a\"b\"\r\n", "ERR a BAD Invalid characters in atom;");
	check("a X \"a\"\"b\"\r\n", "ERR a BAD Missing space between arguments;");
	check("a X (a)b\r\n", "ERR a BAD Missing space between arguments;");
	check("a X {3} x\r\n", "ERR a BAD Invalid literal (only at the end of a line);");
	check("a X {3a}\r\n", "ERR a BAD Invalid literal (only at the end of a line);");
	check("a X {}\r\n", "ERR a BAD Invalid literal (only at the end of a line);");
	check("a X a{3}\r\n", "ERR a BAD Invalid characters in atom;");
	check("a X \x7f\r\n", "ERR a BAD Control characters in command;");
	/* NUL anywhere in a line */
	check_params(&(struct imap_parser_params){ 0 }, "", 0, AUTO, "");
	{
		struct imap_parser_params params = auth_params();
		static const char nul1[] = "a X b\0c\r\nb NOOP\r\n";
		static const char nul2[] = "a\0 X\r\n";
		static const char nul3[] = "a X \"b\0\"\r\n";

		check_params(&params, nul1, sizeof(nul1) - 1, AUTO, "ERR a BAD NUL in command;b NOOP;");
		check_params(&params, nul2, sizeof(nul2) - 1, AUTO, "ERR * BAD NUL in command;");
		check_params(&params, nul3, sizeof(nul3) - 1, AUTO, "ERR a BAD NUL in command;");
	}
}

static void test_utf8(void **state)
{
	struct imap_parser_params params = auth_params();
	const char *ok = "a SELECT \"Entw\xc3\xbc rfe\"\r\n";
	const char *bad = "a SELECT \"x\xc3\"\r\n";

	(void)state;
	params.utf8 = true;
	check_params(&params, ok, strlen(ok), AUTO, "a SELECT \"Entw\xc3\xbc rfe\";");
	check_params(&params, bad, strlen(bad), AUTO, "ERR a BAD Invalid UTF-8 in quoted string;");
}

static void test_sections(void **state)
{
	(void)state;
	check("a FETCH 1 BODY[]\r\n", "a FETCH 1 BODY[|0];");
	check("a FETCH 1 body.peek[]\r\n", "a FETCH 1 BODY.PEEK[|0];");
	check("a FETCH 1 (BODY[HEADER.FIELDS (From \"To\")]<0.100> FLAGS)\r\n",
	      "a FETCH 1 (BODY[|2|From|To]<0.100> FLAGS);");
	check("a FETCH 1 BODY.PEEK[1.2.HEADER.FIELDS.NOT (X-A)]\r\n",
	      "a FETCH 1 BODY.PEEK[1.2|3|X-A];");
	check("a FETCH 1 BODY[1.2.3]\r\n", "a FETCH 1 BODY[1.2.3|0];");
	check("a FETCH 1 BODY[1.MIME]\r\n", "a FETCH 1 BODY[1|5];");
	check("a FETCH 1 BODY[TEXT]<5.10>\r\n", "a FETCH 1 BODY[|4]<5.10>;");
	check("a FETCH 1 BODY[HEADER]\r\n", "a FETCH 1 BODY[|1];");
	check("a FETCH 1 BINARY[1]\r\n", "a FETCH 1 BINARY[1|0];");
	check("a FETCH 1 BINARY.PEEK[]<0.4>\r\n", "a FETCH 1 BINARY.PEEK[|0]<0.4>;");
	check("a FETCH 1 BINARY.SIZE[2]\r\n", "a FETCH 1 BINARY.SIZE[2|0];");
	check("a FETCH 1 BINARY.SIZE[2]<0.1>\r\n", "ERR a BAD Invalid partial range;");
	check("a FETCH 1 BINARY[TEXT]\r\n", "ERR a BAD BINARY takes only part numbers;");
	check("a FETCH 1 BODY[MIME]\r\n", "ERR a BAD Unknown section text;");
	check("a FETCH 1 BODY[0]\r\n", "ERR a BAD Invalid part number in section;");
	check("a FETCH 1 BODY[4294967296]\r\n", "ERR a BAD Invalid part number in section;");
	check("a FETCH 1 BODY[1.]\r\n", "ERR a BAD Invalid section;");
	check("a FETCH 1 BODY[HEADER.FIELDS ()]\r\n", "ERR a BAD Invalid header field list in section;");
	check("a FETCH 1 BODY[HEADER.FIELDS]\r\n", "ERR a BAD Missing header field list in section;");
	check("a FETCH 1 BODY[HEADER\r\n", "ERR a BAD Missing ] in section;");
	check("a FETCH 1 BODY[HEADER]<0.0>\r\n", "ERR a BAD Invalid partial range;");
	check("a FETCH 1 BODY[HEADER]<1>\r\n", "ERR a BAD Invalid partial range;");
	check("a FETCH 1 BODY[HEADER]x\r\n", "ERR a BAD Invalid characters after section;");
	check("a FETCH 1 BODY[[]]\r\n", "ERR a BAD Invalid character in section;");
	/* the spec is kept as sent for the reply */
	{
		struct imap_parser_params params = auth_params();
		struct imap_parser *p = imap_parser_create(&params);
		const char *in = "a FETCH 1 BODY.PEEK[HEADER.FIELDS (a b)]<1.2>\r\n";
		struct imap_cmd cmd;
		size_t used;

		assert_int_equal(imap_parser_read(p, (const unsigned char *)in, strlen(in), &used, &cmd),
				 IMAP_PARSE_DONE);
		assert_int_equal(cmd.args[1].type, IMAP_ARG_SECTION);
		assert_string_equal(cmd.args[1].str, "BODY.PEEK[HEADER.FIELDS (a b)]<1.2>");
		assert_string_equal(cmd.args[1].section->spec, "HEADER.FIELDS (a b)");
		imap_parser_free(&p);
	}
}

static void test_literals(void **state)
{
	struct imap_parser_params params = auth_params();
	static const char bin[] = "a APPEND x ~{3}\r\na\0b\r\n";
	static const char nul[] = "a APPEND x {3}\r\na\0b\r\nb NOOP\r\n";

	(void)state;
	check("a LOGIN {4}\r\nuser {4+}\r\npass\r\n", "LIT 4;LIT 4+;a LOGIN {4:user} {4:pass};");
	check("a LOGIN {0}\r\n \"x\"\r\n", "LIT 0;a LOGIN {0:} \"x\";");
	check("a X ({1}\r\na {1}\r\nb)\r\n", "LIT 1;LIT 1;a X ({1:a} {1:b});");
	check("a X {1}\r\nab\r\n", "LIT 1;ERR a BAD Missing space between arguments;");
	check("a X {1}\r\na)\r\n", "LIT 1;ERR a BAD Unexpected );");
	check_params(&params, bin, sizeof(bin) - 1, AUTO, "LIT 3;a APPEND x {~3:a0b};");
	check_params(&params, nul, sizeof(nul) - 1, AUTO,
		     "LIT 3;ERR a BAD NUL in literal (use literal8);b NOOP;");
	/* taken by the session (APPEND to the spool) */
	check_params(&params, "a APPEND x (\\Seen) {5}\r\nhello\r\n", 31, TAKE,
		     "LIT 5;a APPEND x (\\Seen) {taken 5};");
	check_params(&params, "a APPEND x {2+}\r\nhi {1}\r\nz\r\n", 28, TAKE,
		     "LIT 2+;LIT 1;a APPEND x {taken 2} {taken 1};");
	/* refused sync literal: the client sends nothing, next line is new */
	check_params(&params, "a APPEND x {5}\r\nb NOOP\r\n", 24, REFUSE, "LIT 5;b NOOP;");
	/* refused {n+}: its bytes and the rest of the command are skipped */
	check_params(&params, "a APPEND x {5+}\r\nb NOO (x {2+}\r\nab)\r\nc NOOP\r\n", 45, REFUSE,
		     "LIT 5+;c NOOP;");
}

static void test_literal_limits(void **state)
{
	struct imap_parser_params params = auth_params();
	char in[256];
	int n;

	(void)state;
	params.max_literal = 100;
	/* sync: announced with too_big, the session refuses */
	check_params(&params, "a X {100}\r\n", 11, REFUSE, "LIT 100;");
	check_params(&params, "a X {101}\r\nb NOOP\r\n", 19, AUTO, "LIT 101 toobig;b NOOP;");
	check_params(&params, "a X {99999999999999999999}\r\nb NOOP\r\n", 36, AUTO,
		     "LIT 18446744073709551615 toobig nofit;b NOOP;");
	/* {n+} over max_literal: BYE and close */
	check_params(&params, "a X {101+}\r\n", 12, AUTO, "ERR a BYE Literal too big;");
	check_params(&params, "a X {99999999999999999999+}\r\n", 29, AUTO, "ERR a BYE Literal too big;");
	check_params(&params, "a X {100+}\r\n", 12, REFUSE, "LIT 100+;");
	/* LITERAL-: {n+} at most 4096; over it BAD [TOOBIG] and the bytes are skipped */
	params = auth_params();
	params.literal_minus = true;
	for (int size = LIMIT_IMAP_LITERAL_MINUS - 1; size <= LIMIT_IMAP_LITERAL_MINUS + 1; size++) {
		static char big[LIMIT_IMAP_LITERAL_MINUS + 64];
		static char expect[256];
		size_t len;

		n = snprintf(big, sizeof(big), "a X {%d+}\r\n", size);
		len = (size_t)n;
		memset(big + len, 'x', (size_t)size);
		len += (size_t)size;
		memcpy(big + len, "\r\nb NOOP\r\n", 10);
		len += 10;
		if (size <= LIMIT_IMAP_LITERAL_MINUS)
			snprintf(expect, sizeof(expect), "LIT %d+;ERR a BAD Too many arguments;b NOOP;", size);
		else
			snprintf(expect, sizeof(expect),
				 "ERR a BAD [TOOBIG] Non-synchronizing literal larger than 4096 octets;b NOOP;");
		/* max_args 1 so an accepted literal shows as a clean error */
		params.max_args = 1;
		feed(&params, big, len, 0, ACCEPT, &(struct out){ 0 });
		check_params(&params, big, len, TAKE,
			     size <= LIMIT_IMAP_LITERAL_MINUS ? (snprintf(expect, sizeof(expect),
									 "LIT %d+;a X {taken %d};b NOOP;",
									 size, size), expect) : expect);
	}
	/* max_command: the literal must fit in what is left */
	params = auth_params();
	params.max_command = 64;
	n = snprintf(in, sizeof(in), "a X {%d}\r\n", 64 - 10);
	check_params(&params, in, (size_t)n, REFUSE, "LIT 54;");
	n = snprintf(in, sizeof(in), "a X {%d}\r\n", 64 - 9);
	check_params(&params, in, (size_t)n, REFUSE, "LIT 55 nofit;");
}

/* A line of exactly len octets (CRLF included): "a X aaaa...\r\n". */
static size_t make_line(char *buf, size_t len)
{
	memcpy(buf, "a X ", 4);
	memset(buf + 4, 'a', len - 6);
	memcpy(buf + len - 2, "\r\n", 2);
	return len;
}

static void test_line_limit(void **state)
{
	static char in[LIMIT_IMAP_LINE + 64];
	struct imap_parser_params params;
	bool auth[2] = { false, true };

	(void)state;
	for (int k = 0; k < 2; k++) {
		size_t max = auth[k] ? LIMIT_IMAP_LINE : LIMIT_IMAP_LINE_PREAUTH;

		imap_parser_params_default(&params, auth[k]);
		params.max_command = max * 2;
		for (size_t len = max - 1; len <= max + 1; len++) {
			static struct out o;
			size_t n = make_line(in, len);

			memcpy(in + n, "b NOOP\r\n", 8);
			feed(&params, in, n + 8, 0, AUTO, &o);
			if (len <= max)
				assert_true(strncmp(o.s, "a X aaa", 7) == 0 &&
					    strstr(o.s, ";b NOOP;") != NULL);
			else
				assert_string_equal(o.s, "ERR a BAD Command line too long;b NOOP;");
			feed(&params, in, n + 8, 1, AUTO, &o);
			if (len > max)
				assert_string_equal(o.s, "ERR a BAD Command line too long;b NOOP;");
		}
	}
	/* an overlong line announcing {n+}: the literal is skipped too */
	imap_parser_params_default(&params, false);
	{
		size_t n = make_line(in, LIMIT_IMAP_LINE_PREAUTH + 10);

		memcpy(in + n - 2, " {3+}\r\nxyz\r\nb NOOP\r\n", 20);
		check_params(&params, in, n + 18, AUTO, "ERR a BAD Command line too long;b NOOP;");
		n = make_line(in, LIMIT_IMAP_LINE_PREAUTH + 10);
		memcpy(in + n - 2, " {3}\r\nb NOOP\r\n", 14);
		check_params(&params, in, n + 12, AUTO, "ERR a BAD Command line too long;b NOOP;");
	}
	/* a continuation line counts on its own */
	imap_parser_params_default(&params, false);
	{
		size_t n = (size_t)snprintf(in, sizeof(in), "a LOGIN {1}\r\nx ");

		memset(in + n, 'p', LIMIT_IMAP_LINE_PREAUTH - 2);
		n += LIMIT_IMAP_LINE_PREAUTH - 2;
		memcpy(in + n, "\r\n", 2);
		feed(&params, in, n + 2, 0, AUTO, &(struct out){ 0 });
		check_params(&params, in, n + 2, AUTO, "LIT 1;ERR a BAD Command line too long;");
	}
}

static void test_command_limit(void **state)
{
	struct imap_parser_params params = auth_params();
	char in[512];

	(void)state;
	params.max_command = 40;
	/* "a X {2}\r\n" 9 + literal 2 + line */
	for (size_t total = 39; total <= 41; total++) {
		size_t n = (size_t)snprintf(in, sizeof(in), "a X {2}\r\nzz ");
		size_t rest = total - n - 2;

		memset(in + n, 'q', rest);
		n += rest;
		memcpy(in + n, "\r\n", 2);
		n += 2;
		char expect[128];

		if (total <= 40)
			snprintf(expect, sizeof(expect), "LIT 2;a X {2:zz} %.*s;", (int)rest, in + 12);
		else
			snprintf(expect, sizeof(expect), "LIT 2;ERR a BAD [TOOBIG] Command too long;");
		check_params(&params, in, n, AUTO, expect);
	}
}

/* "a X " + depth times "(" + ")" + CRLF */
static void check_depth(unsigned int max, unsigned int depth)
{
	struct imap_parser_params params = auth_params();
	char in[256], expect[256];
	size_t n = 0, e = 0;

	params.max_list_depth = max;
	n += (size_t)snprintf(in, sizeof(in), "a X ");
	e += (size_t)snprintf(expect, sizeof(expect), "a X ");
	for (unsigned int i = 0; i < depth; i++)
		in[n++] = '(', expect[e++] = '(';
	for (unsigned int i = 0; i < depth; i++)
		in[n++] = ')', expect[e++] = ')';
	memcpy(in + n, "\r\n", 2);
	n += 2;
	if (depth == 0)
		e--;
	expect[e++] = ';';
	expect[e] = '\0';
	check_params(&params, in, n, AUTO, depth <= max ? expect : "ERR a BAD Too deep nesting of lists;");
}

static void test_depth(void **state)
{
	(void)state;
	for (unsigned int d = LIMIT_IMAP_LIST_DEPTH - 1; d <= LIMIT_IMAP_LIST_DEPTH + 1; d++)
		check_depth(LIMIT_IMAP_LIST_DEPTH, d);
	check_depth(LIMIT_IMAP_LIST_DEPTH_PREAUTH, 0);
	check_depth(LIMIT_IMAP_LIST_DEPTH_PREAUTH, 1);
	check_depth(LIMIT_IMAP_LIST_DEPTH_PREAUTH, 2);
	/* the preauth defaults */
	{
		struct imap_parser_params params;

		imap_parser_params_default(&params, false);
		check_params(&params, "a ID (\"a\" \"b\")\r\n", 16, AUTO, "a ID (\"a\" \"b\");");
		check_params(&params, "a ID ((\"a\"))\r\n", 14, AUTO,
			     "ERR a BAD Too deep nesting of lists;");
	}
}

static void test_args_limit(void **state)
{
	struct imap_parser_params params = auth_params();
	char in[256];

	(void)state;
	params.max_args = 4;
	/* lists count as arguments, and so do their members */
	check_params(&params, "a X a b c\r\n", 11, AUTO, "a X a b c;");
	check_params(&params, "a X a (b c)\r\n", 13, AUTO, "a X a (b c);");
	check_params(&params, "a X a (b c) d\r\n", 15, AUTO, "ERR a BAD Too many arguments;");
	check_params(&params, "a X a b c d\r\n", 13, AUTO, "a X a b c d;");
	check_params(&params, "a X a b c d e\r\n", 15, AUTO, "ERR a BAD Too many arguments;");
	check_params(&params, "a X a b c {1}\r\nd\r\n", 18, AUTO, "LIT 1;a X a b c {1:d};");
	check_params(&params, "a X a b c d {1+}\r\nd\r\nb NOOP\r\n", 29, AUTO,
		     "ERR a BAD Too many arguments;b NOOP;");
	/* preauth default */
	imap_parser_params_default(&params, false);
	for (unsigned int count = LIMIT_IMAP_ARGS_PREAUTH - 1; count <= LIMIT_IMAP_ARGS_PREAUTH + 1;
	     count++) {
		static struct out o;
		size_t n = 0;

		n += (size_t)snprintf(in, sizeof(in), "a X");
		for (unsigned int i = 0; i < count; i++)
			n += (size_t)snprintf(in + n, sizeof(in) - n, " x");
		n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\n");
		feed(&params, in, n, 1, AUTO, &o);
		if (count <= LIMIT_IMAP_ARGS_PREAUTH)
			assert_true(strncmp(o.s, "a X x x", 7) == 0);
		else
			assert_string_equal(o.s, "ERR a BAD Too many arguments;");
	}
}

static void test_read_line(void **state)
{
	struct imap_parser_params params = auth_params();
	struct imap_parser *p;
	const char *line, *err;
	size_t used, len;
	char big[300];

	(void)state;
	params.max_line = 256;
	p = imap_parser_create(&params);
	assert_int_equal(imap_parser_read_line(p, (const unsigned char *)"dXNlcg", 6, &used, &line,
					       &len, &err), 0);
	assert_int_equal(used, 6);
	assert_int_equal(imap_parser_read_line(p, (const unsigned char *)"==\r\nx", 5, &used, &line,
					       &len, &err), 1);
	assert_int_equal(used, 4);
	assert_string_equal(line, "dXNlcg==");
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	assert_int_equal(imap_parser_read_line(p, (const unsigned char *)big, sizeof(big), &used,
					       &line, &len, &err), -1);
	assert_string_equal(err, "Line too long");
	assert_int_equal(imap_parser_read_line(p, (const unsigned char *)big + used,
					       sizeof(big) - used, &used, &line, &len, &err), 0);
	assert_int_equal(imap_parser_read_line(p, (const unsigned char *)"DONE\r\n", 6, &used, &line,
					       &len, &err), 1);
	assert_string_equal(line, "DONE");
	assert_false(imap_parser_busy(p));
	imap_parser_shrink(p);
	imap_parser_free(&p);
}

static void test_helpers_and_reset(void **state)
{
	struct imap_parser_params params = auth_params();
	struct imap_parser *p = imap_parser_create(&params);
	const char *in = "a LOGIN NIL \"x\"\r\n";
	struct imap_cmd cmd;
	const char *s;
	size_t used, len;

	(void)state;
	assert_int_equal(imap_parser_read(p, (const unsigned char *)"a LOG", 5, &used, &cmd),
			 IMAP_PARSE_MORE);
	assert_true(imap_parser_busy(p));
	imap_parser_reset(p);	/* STARTTLS: the partial line is gone */
	assert_false(imap_parser_busy(p));
	assert_int_equal(imap_parser_read(p, (const unsigned char *)in, strlen(in), &used, &cmd),
			 IMAP_PARSE_DONE);
	assert_int_equal(used, strlen(in));
	assert_int_equal(cmd.n_args, 2);
	assert_int_equal(imap_arg_astring(&cmd.args[0], &s, &len), 0);
	assert_string_equal(s, "NIL");
	assert_int_equal(imap_arg_nstring(&cmd.args[0], &s, &len), 0);
	assert_null(s);
	assert_int_equal(imap_arg_string(&cmd.args[0], &s, &len), -1);
	assert_int_equal(imap_arg_string(&cmd.args[1], &s, &len), 0);
	assert_true(imap_arg_atom_is(&cmd.args[0], "nil"));
	assert_false(imap_arg_atom_is(&cmd.args[1], "x"));
	/* new params after login */
	imap_parser_params_default(&params, false);
	imap_parser_set_params(p, &params);
	imap_parser_shrink(p);
	imap_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_literal_limits),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_command_limit),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_args_limit),
		cmocka_unit_test(test_read_line),
		cmocka_unit_test(test_helpers_and_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
