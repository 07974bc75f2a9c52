/* parser.c - reads POP3 command lines (RFC 1939 section 3, RFC 2449 section 4).
 *
 * A line ends with CRLF; a bare LF is accepted too. Its length, terminator
 * included, is bounded by max_line (LIMIT_POP3_LINE, LIMIT_POP3_AUTH_LINE for
 * SASL continuation lines). A longer line is refused once, the moment the
 * limit is passed, and the rest of it is skipped. A NUL byte refuses the
 * line. The verb is matched case-insensitively, so it is upper-cased here;
 * keywords and arguments are separated by spaces (runs are tolerated). */
#include <string.h>

#include "pop3/parser.h"

void pop3_parser_init(struct pop3_parser *p, size_t max_line)
{
	memset(p, 0, sizeof(*p));
	pop3_parser_set_max(p, max_line);
}

void pop3_parser_set_max(struct pop3_parser *p, size_t max_line)
{
	if (max_line > POP3_PARSER_LINE_MAX)
		max_line = POP3_PARSER_LINE_MAX;
	if (max_line < 2)
		max_line = 2;
	p->max_line = max_line;
}

void pop3_parser_reset(struct pop3_parser *p)
{
	p->len = 0;
	p->skipping = false;
	p->nul = false;
}

void pop3_parser_wipe(struct pop3_parser *p)
{
	explicit_bzero(p->line, sizeof(p->line));
}

static char upper(char ch)
{
	return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

/* Splits the complete line p->line[0..n) into out. */
static void split(struct pop3_parser *p, size_t n, struct pop3_cmd *out)
{
	const char *s = p->line;
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	p->line[n] = '\0';
	out->line.p = s;
	out->line.len = n;

	while (i < n && s[i] != ' ')
		i++;
	if (i <= POP3_VERB_MAX) {
		size_t v;

		for (v = 0; v < i; v++)
			out->verb[v] = upper(s[v]);
		out->verb[i] = '\0';
	}
	if (i < n) {
		out->rest.p = s + i + 1;
		out->rest.len = n - i - 1;
	} else {
		out->rest.p = s + n;
		out->rest.len = 0;
	}

	while (i < n) {
		size_t start;

		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && s[i] != ' ')
			i++;
		if (out->n_args < POP3_ARGS_MAX) {
			out->args[out->n_args].p = s + start;
			out->args[out->n_args].len = i - start;
		}
		out->n_args++;
	}
}

int pop3_parser_read(struct pop3_parser *p, const unsigned char *buf, size_t len, size_t *used_r,
		     struct pop3_cmd *out, const char **error_r)
{
	size_t i = 0;

	*used_r = 0;
	while (i < len) {
		unsigned char ch = buf[i++];

		if (p->skipping) {
			if (ch == '\n')
				p->skipping = false;
			continue;
		}
		if (ch == '\n') {
			size_t n = p->len;
			bool nul = p->nul;

			p->len = 0;
			p->nul = false;
			*used_r = i;
			if (nul) {
				*error_r = "NUL in command";
				return -1;
			}
			if (n > 0 && p->line[n - 1] == '\r')
				n--;
			split(p, n, out);
			return 1;
		}
		/* Stored bytes plus the LF must fit in max_line. */
		if (p->len + 1 >= p->max_line) {
			p->len = 0;
			p->nul = false;
			p->skipping = true;
			*used_r = i;
			*error_r = "line too long";
			return -1;
		}
		if (ch == '\0')
			p->nul = true;
		p->line[p->len++] = (char)ch;
	}
	*used_r = i;
	return 0;
}
