/* fuzz_smtp.c - libFuzzer target for the pure SMTP code: line framing and
 * command/argument parsing (core/smtp/parser.c), the Path parser
 * (core/mail/address.c) and the DATA/BDAT decoders (core/mail/data.c).
 * The first byte picks the piece size and output room. Invariants: lines are
 * bounded by the cap; decoded content never holds a bare CR or LF; feeding
 * in pieces gives the same bytes as feeding whole; a parsed address fits.
 *   clang -g -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icore \
 *     tests/fuzz/fuzz_smtp.c core/smtp/parser.c core/mail/address.c \
 *     core/mail/data.c core/lib/buf.c core/lib/str.c core/lib/strnum.c core/lib/mem.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/address.h"
#include "mail/data.h"
#include "smtp/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 64
#define AUTHCAP 200

static void check_args(char *line, size_t len)
{
	struct smtp_cmd cmd;
	if (smtp_parse_command(line, len, &cmd) < 0)
		return;
	const char *path;
	size_t plen;
	if ((cmd.verb == SMTP_VERB_MAIL &&
	     smtp_parse_path_prefix(cmd.args, cmd.args_len, "FROM:", &path, &plen) == 0) ||
	    (cmd.verb == SMTP_VERB_RCPT &&
	     smtp_parse_path_prefix(cmd.args, cmd.args_len, "TO:", &path, &plen) == 0)) {
		struct mail_address a;
		size_t used;
		enum mail_addr_error err;
		if (mail_address_parse(path, plen, MAIL_ADDR_UTF8 | MAIL_ADDR_NULL_OK |
				       MAIL_ADDR_POSTMASTER, &a, &used, &err) == 0) {
			if (used > plen || strlen(a.addr) > LIMIT_ADDRESS ||
			    strlen(a.local) > LIMIT_LOCAL_PART || strlen(a.domain) > LIMIT_DOMAIN)
				abort();
			struct smtp_param p[LIMIT_SMTP_PARAMS];
			size_t n;
			if (smtp_parse_params(path + used, plen - used, p, LIMIT_SMTP_PARAMS, &n) == 0 &&
			    n > LIMIT_SMTP_PARAMS)
				abort();
		}
	} else if (cmd.verb == SMTP_VERB_BDAT) {
		uint64_t sz;
		bool last;
		(void)smtp_parse_bdat(cmd.args, cmd.args_len, &sz, &last);
	} else if (cmd.verb == SMTP_VERB_AUTH) {
		char mech[32];
		const char *ir;
		size_t irlen;
		if (smtp_parse_auth(cmd.args, cmd.args_len, mech, sizeof mech, &ir, &irlen) == 0 &&
		    irlen > cmd.args_len)
			abort();
	}
}

static void fuzz_lines(const uint8_t *data, size_t size, size_t step)
{
	struct smtp_parser p;
	smtp_parser_init(&p, CAP, AUTHCAP);
	size_t off = 0;
	while (off < size) {
		size_t chunk = size - off < step ? size - off : step;
		size_t pos = 0;
		while (pos < chunk) {
			struct smtp_line l;
			size_t used = 0;
			int r = smtp_parser_line(&p, data + off + pos, chunk - pos, &used, &l);
			if (used > chunk - pos)
				abort();
			pos += used;
			if (r == 1) {
				if (l.len + 1 > AUTHCAP || l.s[l.len] != '\0')
					abort();
				if (l.error == SMTP_LINE_OK)
					check_args(l.s, l.len);
			} else if (pos != chunk) {
				abort();
			}
		}
		off += chunk;
	}
	smtp_parser_free(&p);
}

/* Decodes with the given piece size and room; returns the output (malloc'd). */
static unsigned char *decode(const uint8_t *data, size_t size, bool bdat, size_t step, size_t room,
			     size_t *outlen, size_t *consumed)
{
	struct mail_data d;
	unsigned char *out = malloc(size * MAIL_DATA_MAX_EXPANSION + 4);
	unsigned char *tmp = malloc(room);
	size_t o = 0, off = 0;
	if (out == NULL || tmp == NULL)
		abort();
	if (bdat)
		mail_bdat_init(&d);
	else
		mail_data_init(&d);
	while (off < size) {
		size_t chunk = size - off < step ? size - off : step;
		size_t used = 0, olen = 0;
		int r = bdat ? mail_bdat_decode(&d, data + off, chunk, &used, tmp, room, &olen)
			     : mail_data_decode(&d, data + off, chunk, &used, tmp, room, &olen);
		if (used > chunk || olen > room || (used == 0 && r == 0))
			abort();
		memcpy(out + o, tmp, olen);
		o += olen;
		off += used;
		if (r == 1)
			break;
	}
	if (bdat)
		o += mail_bdat_finish(&d, out + o);
	free(tmp);
	*outlen = o;
	*consumed = off;
	return out;
}

static void check_crlf(const unsigned char *p, size_t n, bool pending_cr_ok)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && !(i + 1 < n && p[i + 1] == '\n') && !(pending_cr_ok && i + 1 == n))
			abort();
		if (p[i] == '\n' && !(i > 0 && p[i - 1] == '\r'))
			abort();
	}
}

static void fuzz_data(const uint8_t *data, size_t size, size_t step, size_t room, bool bdat)
{
	size_t l1, l2, c1, c2;
	unsigned char *a = decode(data, size, bdat, size ? size : 1, 1 << 20, &l1, &c1);
	unsigned char *b = decode(data, size, bdat, step, room, &l2, &c2);
	if (l1 != l2 || c1 != c2 || (l1 && memcmp(a, b, l1) != 0))
		abort();
	check_crlf(a, l1, !bdat);	/* DATA may stop with a CR still pending */
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] & 0x0f) + 1;
	size_t room = (size_t)(data[0] >> 4) + MAIL_DATA_MAX_EXPANSION;
	data++;
	size--;
	fuzz_lines(data, size, step);
	fuzz_data(data, size, step, room, false);
	fuzz_data(data, size, step, room, true);
	if (size > 0 && data[0] == '<') {
		struct mail_address a;
		size_t used;
		enum mail_addr_error err;
		(void)mail_address_parse((const char *)data, size, data[size - 1] & 7, &a, &used, &err);
	}
	return 0;
}
