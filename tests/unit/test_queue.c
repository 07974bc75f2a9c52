/* test_queue.c - unit tests of the pure parts of core/queue/: the MTA-STS
 * policy parser and mx pattern match (RFC 8461 3.2, 4.1) table-driven and
 * fed every prefix, the RFC 3463 status extraction, SMTP reply reading and
 * EHLO keyword parsing over a socketpair (multi-line, the line limit at
 * limit-1 / limit, malformed replies), DATA dot-stuffing, and the DSN
 * layout (RFC 3464 fields, header section cut at the blank line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue/dsn.h"
#include "queue/queue_private.h"
#include "queue/smtpc.h"

/* --- MTA-STS --- */

struct sts_case {
	const char *text;
	int rc;
	enum mtasts_mode mode;
	long max_age;
	size_t n_mx;
};

static const struct sts_case sts_cases[] = {
	{ "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 86400\r\n", 0,
	  MTASTS_ENFORCE, 86400, 1 },
	{ "version: STSv1\nmode: testing\nmx: a.example\nmx: *.example.net\nmax_age: 5\n", 0,
	  MTASTS_TESTING, 5, 2 },
	{ "version: STSv1\nmode: none\nmax_age: 5", 0, MTASTS_NONE, 5, 0 },
	{ "version: STSv1\nmode: enforce\nmx: m\nmax_age: 99999999999\n", -1, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmx: m\nmax_age: 999999999\n", 0, MTASTS_ENFORCE,
	  31557600, 1 },
	{ "version: STSv1\nmode: enforce\nunknown: x\nmx: m\nmax_age:  7 \n", 0, MTASTS_ENFORCE,
	  7, 1 },
	{ "version: STSv2\nmode: enforce\nmx: m\nmax_age: 5\n", -1, 0, 0, 0 },
	{ "version: STSv1\nmode: sometimes\nmx: m\nmax_age: 5\n", -1, 0, 0, 0 },
	{ "version: STSv1\nmode: enforce\nmax_age: 5\n", -1, 0, 0, 0 },	/* no mx */
	{ "version: STSv1\nmode: enforce\nmx: m\n", -1, 0, 0, 0 },	/* no max_age */
	{ "mode: enforce\nmx: m\nmax_age: 5\n", -1, 0, 0, 0 },		/* no version */
	{ "", -1, 0, 0, 0 },
};

static void test_mtasts_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sts_cases) / sizeof(sts_cases[0]); i++) {
		const struct sts_case *c = &sts_cases[i];
		struct mtasts_policy p;
		int rc = mtasts_parse(c->text, strlen(c->text), &p);
		if (rc != c->rc)
			fail_msg("case %zu: rc %d", i, rc);
		if (rc == 0) {
			assert_int_equal(p.mode, c->mode);
			assert_int_equal(p.max_age, c->max_age);
			assert_int_equal(p.n_mx, c->n_mx);
		}
		/* every prefix: no read past len (ASan), never a crash */
		for (size_t n = 0; n < strlen(c->text); n++) {
			char *copy = malloc(n + 1);
			memcpy(copy, c->text, n);
			(void)mtasts_parse(copy, n, &p);
			free(copy);
		}
	}
}

static void test_mtasts_mx_limit(void **state)
{
	(void)state;
	char text[8192];
	size_t o = (size_t)snprintf(text, sizeof(text), "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i < LIMIT_MTASTS_MX + 2; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "mx: m%d.example\n", i);
	struct mtasts_policy p;
	assert_int_equal(mtasts_parse(text, o, &p), 0);
	assert_int_equal(p.n_mx, LIMIT_MTASTS_MX);
	assert_true(mtasts_mx_match(&p, "m0.example"));
	assert_false(mtasts_mx_match(&p, "m33.example"));
}

static void test_mtasts_match(void **state)
{
	(void)state;
	struct mtasts_policy p = { .n_mx = 2 };
	strcpy(p.mx[0], "mx1.example.com");
	strcpy(p.mx[1], "*.example.net");
	assert_true(mtasts_mx_match(&p, "mx1.example.com"));
	assert_true(mtasts_mx_match(&p, "MX1.Example.COM."));
	assert_false(mtasts_mx_match(&p, "mx2.example.com"));
	assert_true(mtasts_mx_match(&p, "a.example.net"));
	assert_false(mtasts_mx_match(&p, "a.b.example.net"));	/* one label only */
	assert_false(mtasts_mx_match(&p, "example.net"));
	assert_false(mtasts_mx_match(&p, ".example.net"));
	assert_false(mtasts_mx_match(&p, ""));
}

/* --- replies --- */

static void test_status(void **state)
{
	(void)state;
	static const struct { int code; const char *text, *want; } cases[] = {
		{ 550, "5.1.1 no such user", "5.1.1" },
		{ 451, "4.3.2 later", "4.3.2" },
		{ 550, "4.1.1 class differs", "5.0.0" },
		{ 550, "no enhanced code", "5.0.0" },
		{ 421, "", "4.0.0" },
		{ 550, "5.1234.1 too long", "5.0.0" },
		{ 552, "5.3.4", "5.3.4" },
		{ 250, "2.0.0 ok", "2.0.0" },
		{ 999, "x", "4.0.0" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtpc_reply r = { .code = cases[i].code };
		char out[16];
		strcpy(r.text, cases[i].text);
		smtpc_status(&r, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: %s", i, out);
	}
}

/* A client whose peer already sent `in`; the peer end is returned. */
static int pair(struct smtpc *c, const char *in, size_t len)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	memset(c, 0, sizeof(*c));
	c->fd = sv[0];
	c->stop_fd = -1;
	size_t o = 0;
	while (o < len) {
		ssize_t w = write(sv[1], in + o, len - o);
		assert_true(w > 0);
		o += (size_t)w;
	}
	return sv[1];
}

static void test_reply(void **state)
{
	(void)state;
	struct smtpc c;
	struct smtpc_reply r;
	const char *in = "250-mx.example greets\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
			 "250-8BITMIME\r\n250-AUTH LOGIN PLAIN\r\n250-STARTTLS\r\n250 CHUNKING\r\n";
	int peer = pair(&c, in, strlen(in));
	assert_int_equal(smtpc_ehlo(&c, "me.example", &r), 0);
	assert_int_equal(r.code, 250);
	assert_int_equal(c.ext, SMTPC_EXT_PIPELINING | SMTPC_EXT_SIZE | SMTPC_EXT_8BITMIME |
				SMTPC_EXT_AUTH_PLAIN | SMTPC_EXT_STARTTLS | SMTPC_EXT_CHUNKING);
	assert_int_equal(c.size_max, 1000);
	char sent[64] = "";
	assert_int_equal(read(peer, sent, sizeof(sent) - 1), 17);
	assert_string_equal(sent, "EHLO me.example\r\n");
	smtpc_close(&c);
	close(peer);

	/* codes that differ inside one reply, malformed lines, bare LF */
	static const char *const bad[] = { "250-a\r\n251 b\r\n", "25\r\n", "abc x\r\n",
					   "250*x\r\n", "199 low\r\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		peer = pair(&c, bad[i], strlen(bad[i]));
		close(peer);	/* EOF after the bytes */
		if (smtpc_reply(&c, 1000, &r) != -1)
			fail_msg("bad %zu accepted", i);
		smtpc_close(&c);
	}
	peer = pair(&c, "220 hi\n", 7);
	assert_int_equal(smtpc_reply(&c, 1000, &r), 0);
	assert_int_equal(r.code, 220);
	assert_string_equal(r.text, "hi");
	smtpc_close(&c);
	close(peer);
}

static void test_reply_line_limit(void **state)
{
	(void)state;
	for (int extra = -1; extra <= 1; extra++) {
		/* a line of LIMIT_SMTPC_REPLY_LINE + extra octets with its CRLF */
		size_t n = (size_t)(LIMIT_SMTPC_REPLY_LINE + extra);
		char *in = malloc(n);
		memset(in, 'x', n);
		memcpy(in, "250 ", 4);
		memcpy(in + n - 2, "\r\n", 2);
		struct smtpc c;
		struct smtpc_reply r;
		int peer = pair(&c, in, n);
		int rc = smtpc_reply(&c, 1000, &r);
		assert_int_equal(rc, extra <= 0 ? 0 : -1);
		smtpc_close(&c);
		close(peer);
		free(in);
	}
}

static void test_data_stuffing(void **state)
{
	(void)state;
	struct smtpc c;
	int peer = pair(&c, "", 0);
	const char *msg = ".a\r\nb\r\n..c\r\nno newline";
	assert_int_equal(smtpc_data(&c, (const unsigned char *)msg, strlen(msg)), 0);
	char out[128] = "";
	ssize_t n = read(peer, out, sizeof(out) - 1);
	assert_true(n > 0);
	assert_string_equal(out, "..a\r\nb\r\n...c\r\nno newline\r\n.\r\n");
	smtpc_close(&c);
	close(peer);
}

/* --- DSN --- */

static void test_dsn(void **state)
{
	(void)state;
	const char *orig = "From: a@x.example\r\nSubject: hi\r\n\r\nbody must not appear\r\n";
	struct dsn_rcpt r[2] = {
		{ "b@y.example", "5.1.1", "mx.y.example", "550 5.1.1 no such user" },
		{ "c@y.example", "4.4.7", "", "delivery time expired" },
	};
	struct dsn_msg m = { .action = DSN_FAILED, .hostname = "mail.x.example",
			     .sender = "a@x.example", .arrival = 0,
			     .orig = (const unsigned char *)orig, .orig_len = strlen(orig),
			     .rcpts = r, .n_rcpts = 2 };
	size_t len;
	unsigned char *d = dsn_build(&m, &len);
	char *s = malloc(len + 1);
	memcpy(s, d, len);
	s[len] = '\0';
	assert_non_null(strstr(s, "Content-Type: multipart/report; report-type=delivery-status"));
	assert_non_null(strstr(s, "Reporting-MTA: dns; mail.x.example\r\n"));
	assert_non_null(strstr(s, "Final-Recipient: rfc822; b@y.example\r\nAction: failed\r\n"
				  "Status: 5.1.1\r\nRemote-MTA: dns; mx.y.example\r\n"
				  "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
	assert_non_null(strstr(s, "Diagnostic-Code: x-postern; delivery time expired\r\n"));
	assert_non_null(strstr(s, "Content-Type: text/rfc822-headers\r\n\r\nFrom: a@x.example\r\n"
				  "Subject: hi\r\n\r\n--"));
	assert_null(strstr(s, "body must not appear"));
	assert_non_null(strstr(s, "Auto-Submitted: auto-replied\r\n"));
	free(s);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mtasts_parse),
		cmocka_unit_test(test_mtasts_mx_limit),
		cmocka_unit_test(test_mtasts_match),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_reply_line_limit),
		cmocka_unit_test(test_data_stuffing),
		cmocka_unit_test(test_dsn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
