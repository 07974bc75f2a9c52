/* test_data.c - unit tests of core/mail/data.c and core/mail/spool.c:
 * the DATA decoder on a table of SMTP smuggling sequences (CVE-2023-51764:
 * bare CR / bare LF never end DATA and are stored as CRLF), fed whole, one
 * byte at a time and with the smallest output buffer; dot-stuffing round
 * trips of random messages; BDAT normalisation with the CR carried across
 * chunks; the Received counter; the spool at LIMIT_SPOOL_MEMORY-1 / limit /
 * limit+1 (memory -> temporary file) and at the message limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/limits.h"
#include "mail/data.h"
#include "mail/spool.h"

struct out {
	unsigned char *p;
	size_t len, cap;
};

static void out_add(struct out *o, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2 + 16;
		o->p = realloc(o->p, o->cap);
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

/* Decodes in with step input octets per call and outcap output room.
 * Returns the input consumed when the end was found, or (size_t)-1. */
static size_t run_data(const unsigned char *in, size_t len, size_t step, size_t outcap,
		       struct out *o)
{
	struct mail_data d;
	unsigned char *buf = malloc(outcap);
	size_t off = 0;
	mail_data_init(&d);
	while (off < len) {
		size_t chunk = step == 0 || len - off < step ? len - off : step;
		size_t used = 0, olen = 0;
		int r = mail_data_decode(&d, in + off, chunk, &used, buf, outcap, &olen);
		assert_true(used <= chunk);
		assert_true(olen <= outcap);
		assert_true(used > 0 || r == 1);	/* always progress */
		out_add(o, buf, olen);
		off += used;
		if (r == 1) {
			free(buf);
			return off;
		}
	}
	free(buf);
	return (size_t)-1;
}

struct data_case {
	const char *in;
	const char *out;
	long end;	/* octets consumed at the end, -1 = not ended */
};

#define END "\r\n.\r\n"
static const struct data_case data_cases[] = {
	{ ".\r\n", "", 3 },
	{ "\r\n.\r\n", "\r\n", 5 },
	{ "a" END, "a\r\n", 6 },
	{ "a" END "MAIL FROM:<x@y>\r\n", "a\r\n", 6 },
	{ "a\r\n..b" END, "a\r\n.b\r\n", 11 },
	{ "..\r\n" END, ".\r\n\r\n", 9 },
	{ ". x" END, " x\r\n", 8 },
	/* smuggling: none of these ends the message */
	{ "a\n.\nb" END, "a\r\n.\r\nb\r\n", 10 },
	{ "a\r.\rb" END, "a\r\n.\r\nb\r\n", 10 },
	{ "a\r\n.\nb" END, "a\r\n\r\nb\r\n", 11 },
	{ "a\n.\r\nb" END, "a\r\n.\r\nb\r\n", 11 },
	{ "a\r\n.\rb" END, "a\r\n\r\nb\r\n", 11 },
	{ "a\r.\r\nb" END, "a\r\n.\r\nb\r\n", 11 },
	{ "a\r\n.\r\r\n.\r\n", "a\r\n\r\n\r\n", 10 },
	{ "\r\r\n.\r\n", "\r\n\r\n", 6 },
	{ "a\n.\n", "a\r\n.\r\n", -1 },
	{ "a\r.\r", "a\r\n.", -1 },	/* the last CR is still pending */
	{ "a\r\n.\n", "a\r\n\r\n", -1 },
	{ "a\n\n.\n\n", "a\r\n\r\n.\r\n\r\n", -1 },
	{ "\n.\n", "\r\n.\r\n", -1 },
	{ "x\r\n.\n.\r\n", "x\r\n\r\n.\r\n", -1 },
	{ "x\r\n.x\r\n", "x\r\nx\r\n", -1 },
	/* bare LF in the middle of header and body */
	{ "Subject: a\nb\r\n" END, "Subject: a\r\nb\r\n\r\n", 19 },
	/* 8-bit and NUL bytes are content */
	{ "\x80\xff" END, "\x80\xff\r\n", 7 },
};

static void test_data_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof data_cases / sizeof data_cases[0]; i++) {
		const struct data_case *t = &data_cases[i];
		size_t len = strlen(t->in);
		static const size_t steps[] = { 0, 1, 2, 3 };
		static const size_t caps[] = { 4096, MAIL_DATA_MAX_EXPANSION, 4 };
		for (size_t si = 0; si < 4; si++) {
			for (size_t ci = 0; ci < 3; ci++) {
				struct out o = { 0 };
				size_t end = run_data((const unsigned char *)t->in, len, steps[si],
						      caps[ci], &o);
				if ((long)end != t->end && !(t->end < 0 && end == (size_t)-1))
					fail_msg("case %zu step %zu cap %zu: end %ld want %ld", i,
						 steps[si], caps[ci], (long)end, t->end);
				if (o.len != strlen(t->out) || (o.len > 0 && memcmp(o.p, t->out, o.len) != 0))
					fail_msg("case %zu step %zu cap %zu: output differs (%zu)", i,
						 steps[si], caps[ci], o.len);
				free(o.p);
			}
		}
	}
}

static void test_data_after_end(void **state)
{
	(void)state;
	struct mail_data d;
	unsigned char out[16];
	size_t used, olen;
	mail_data_init(&d);
	assert_int_equal(mail_data_decode(&d, (const unsigned char *)".\r\n", 3, &used, out,
					  sizeof out, &olen), 1);
	assert_true(d.done);
	assert_int_equal(mail_data_decode(&d, (const unsigned char *)"x", 1, &used, out, sizeof out,
					  &olen), 1);
	assert_int_equal(used, 0);
	assert_int_equal(olen, 0);
	/* an output buffer too small for one step consumes nothing */
	mail_data_init(&d);
	assert_int_equal(mail_data_decode(&d, (const unsigned char *)"abc", 3, &used, out, 2, &olen), 0);
	assert_int_equal(used, 0);
}

/* --- dot-stuffing round trip --- */

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void test_dot_roundtrip(void **state)
{
	(void)state;
	for (int iter = 0; iter < 300; iter++) {
		struct out msg = { 0 }, wire = { 0 }, dec = { 0 };
		int lines = (int)(rnd() % 40);
		for (int l = 0; l < lines; l++) {
			int len = (int)(rnd() % 12);
			unsigned char line[16];
			for (int k = 0; k < len; k++) {
				unsigned char ch;
				do {
					static const unsigned char alphabet[] = ". a\t\x80\0z";
					ch = alphabet[rnd() % (sizeof alphabet - 1)];
				} while (ch == '\r' || ch == '\n');
				line[k] = ch;
			}
			out_add(&msg, line, (size_t)len);
			out_add(&msg, (const unsigned char *)"\r\n", 2);
			/* the sender's transparency procedure (RFC 5321 4.5.2) */
			if (len > 0 && line[0] == '.')
				out_add(&wire, (const unsigned char *)".", 1);
			out_add(&wire, line, (size_t)len);
			out_add(&wire, (const unsigned char *)"\r\n", 2);
		}
		out_add(&wire, (const unsigned char *)".\r\n", 3);
		size_t step = iter % 3 == 0 ? 0 : (size_t)(rnd() % 7 + 1);
		size_t end = run_data(wire.p, wire.len, step, 5 + rnd() % 40, &dec);
		assert_int_equal(end, wire.len);
		assert_int_equal(dec.len, msg.len);
		if (msg.len > 0)
			assert_memory_equal(dec.p, msg.p, msg.len);
		free(msg.p);
		free(wire.p);
		free(dec.p);
	}
}

/* --- BDAT --- */

static void run_bdat(const char *const *chunks, size_t n, size_t outcap, struct out *o)
{
	struct mail_data d;
	unsigned char *buf = malloc(outcap < 2 ? 2 : outcap);
	mail_bdat_init(&d);
	for (size_t i = 0; i < n; i++) {
		const unsigned char *in = (const unsigned char *)chunks[i];
		size_t len = strlen(chunks[i]), off = 0;
		while (off < len) {
			size_t used, olen;
			assert_int_equal(mail_bdat_decode(&d, in + off, len - off, &used, buf, outcap,
							  &olen), 0);
			assert_true(used > 0);
			out_add(o, buf, olen);
			off += used;
		}
	}
	out_add(o, buf, mail_bdat_finish(&d, buf));
	free(buf);
}

static void test_bdat(void **state)
{
	(void)state;
	static const struct {
		const char *chunks[4];
		size_t n;
		const char *out;
	} cases[] = {
		{ { "a\r\nb\r\n" }, 1, "a\r\nb\r\n" },
		{ { "a\r", "\nb" }, 2, "a\r\nb" },		/* CRLF split across chunks */
		{ { "a\r", "b" }, 2, "a\r\nb" },		/* bare CR across chunks */
		{ { "a\n.\n", ".\r\n" }, 2, "a\r\n.\r\n.\r\n" },	/* no dot handling, no end */
		{ { "..x\r\n" }, 1, "..x\r\n" },
		{ { "a\r" }, 1, "a\r\n" },			/* pending CR flushed at LAST */
		{ { "\r", "\r", "\n" }, 3, "\r\n\r\n" },
		{ { "", "x", "" }, 3, "x" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (size_t cap = MAIL_DATA_MAX_EXPANSION; cap <= 8; cap += 5) {
			struct out o = { 0 };
			run_bdat(cases[i].chunks, cases[i].n, cap, &o);
			if (o.len != strlen(cases[i].out) || (o.len > 0 && memcmp(o.p, cases[i].out, o.len) != 0))
				fail_msg("bdat case %zu cap %zu differs", i, cap);
			free(o.p);
		}
	}
}

/* --- Received counter --- */

static void test_received(void **state)
{
	(void)state;
	static const char msg[] =
		"Received: from a\r\n"
		"\tby b; date\r\n"
		"received: x\r\n"
		"RECEIVED:y\r\n"
		"Received : obsolete form, not counted\r\n"
		"X-Received: no\r\n"
		"Receive: no\r\n"
		"Subject: Received: no\r\n"
		"\r\n"
		"Received: in the body, not counted\r\n";
	for (size_t step = 1; step <= sizeof msg; step += 3) {
		struct mail_received_counter r;
		mail_received_init(&r);
		for (size_t off = 0; off < sizeof msg - 1; off += step) {
			size_t n = sizeof msg - 1 - off < step ? sizeof msg - 1 - off : step;
			mail_received_feed(&r, (const unsigned char *)msg + off, n);
		}
		assert_int_equal(r.count, 3);
		assert_true(r.in_body);
	}
	/* an empty first line: no headers at all */
	struct mail_received_counter r;
	mail_received_init(&r);
	mail_received_feed(&r, (const unsigned char *)"\r\nReceived: x\r\n", 15);
	assert_int_equal(r.count, 0);
}

/* --- spool --- */

static void check_read(struct spool *s, size_t size, unsigned char seed)
{
	unsigned char *b = malloc(size + 1);
	assert_int_equal(spool_read(s, 0, b, size), 0);
	for (size_t i = 0; i < size; i++)
		if (b[i] != (unsigned char)(seed + i * 7))
			fail_msg("spool byte %zu differs", i);
	assert_int_equal(spool_read(s, size, b, 0), 0);
	assert_int_equal(spool_read(s, size, b, 1), -1);
	assert_int_equal(spool_read(s, size + 1, b, 0), -1);
	if (size > 10) {
		assert_int_equal(spool_read(s, size - 10, b, 10), 0);
		assert_int_equal(b[0], (unsigned char)(seed + (size - 10) * 7));
	}
	free(b);
}

static void fill_spool(struct spool *s, size_t total, size_t step, unsigned char seed)
{
	unsigned char *b = malloc(step);
	size_t off = 0;
	while (off < total) {
		size_t n = total - off < step ? total - off : step;
		for (size_t i = 0; i < n; i++)
			b[i] = (unsigned char)(seed + (off + i) * 7);
		assert_int_equal(spool_append(s, b, n), 0);
		off += n;
	}
	free(b);
}

static void test_spool_memory_to_file(void **state)
{
	(void)state;
	for (int d = -1; d <= 1; d++) {
		size_t total = (size_t)(LIMIT_SPOOL_MEMORY + d);
		struct spool *s = spool_new(LIMIT_SMTP_MESSAGE_SIZE);
		fill_spool(s, total, 1000, (unsigned char)d);
		assert_int_equal(spool_size(s), total);
		assert_false(spool_overflow(s));
		assert_false(spool_io_error(s));
		check_read(s, total, (unsigned char)d);
		/* more after the switch to the file */
		spool_free(&s);
		assert_null(s);
	}
	/* reuse after reset */
	struct spool *s = spool_new(1 << 20);
	fill_spool(s, LIMIT_SPOOL_MEMORY + 5000, 4096, 9);
	check_read(s, LIMIT_SPOOL_MEMORY + 5000, 9);
	spool_reset(s);
	assert_int_equal(spool_size(s), 0);
	fill_spool(s, 100, 7, 3);
	check_read(s, 100, 3);
	spool_free(&s);
	spool_free(&s);	/* safe on NULL */
}

static void test_spool_limit(void **state)
{
	(void)state;
	const size_t max = LIMIT_SPOOL_MEMORY + 1000;
	for (int d = -1; d <= 1; d++) {
		struct spool *s = spool_new(max);
		size_t total = (size_t)((long)max + d);
		unsigned char *b = calloc(1, total);
		int r = spool_append(s, b, total);
		if (d <= 0) {
			assert_int_equal(r, 0);
			assert_false(spool_overflow(s));
			assert_int_equal(spool_size(s), total);
		} else {
			assert_int_equal(r, -1);
			assert_true(spool_overflow(s));
			assert_false(spool_io_error(s));
			assert_int_equal(spool_size(s), 0);
		}
		/* one octet more: refused once the limit would pass, and for good */
		if (d == 0) {
			assert_int_equal(spool_append(s, "x", 1), -1);
			assert_true(spool_overflow(s));
			assert_int_equal(spool_append(s, "", 0), -1);
		}
		free(b);
		spool_free(&s);
	}
	/* the memory part alone at its edge */
	struct spool *s = spool_new(10);
	assert_int_equal(spool_append(s, "0123456789", 10), 0);
	assert_int_equal(spool_append(s, "x", 1), -1);
	assert_int_equal(spool_size(s), 10);
	spool_free(&s);
}

static void test_spool_data_dir(void **state)
{
	(void)state;
	/* a data directory that does not exist falls back to /tmp */
	struct config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.data_dir = (char *)"/nonexistent/postern-test";
	config_set(&cfg);
	struct spool *s = spool_new(LIMIT_SMTP_MESSAGE_SIZE);
	fill_spool(s, LIMIT_SPOOL_MEMORY * 2, 65536, 1);
	assert_false(spool_io_error(s));
	check_read(s, LIMIT_SPOOL_MEMORY * 2, 1);
	spool_free(&s);
	cfg.data_dir = (char *)"/tmp";
	s = spool_new(LIMIT_SMTP_MESSAGE_SIZE);
	fill_spool(s, LIMIT_SPOOL_MEMORY + 1, 65536, 2);
	check_read(s, LIMIT_SPOOL_MEMORY + 1, 2);
	spool_free(&s);
	config_set(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_table),
		cmocka_unit_test(test_data_after_end),
		cmocka_unit_test(test_dot_roundtrip),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_received),
		cmocka_unit_test(test_spool_memory_to_file),
		cmocka_unit_test(test_spool_limit),
		cmocka_unit_test(test_spool_data_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
