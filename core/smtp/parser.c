/* parser.c - SMTP command framing and argument grammars, pure and
 * incremental (STYLE rule 4). RFC 5321 2.3.8 / 4.1.1 (lines, verbs,
 * case-insensitive), 4.1.2 (esmtp-param), 4.5.3.1.4 (line length: here
 * LIMIT_SMTP_LINE octets including CRLF; LIMIT_SMTP_AUTH_LINE for an "AUTH"
 * line and AUTH continuation lines), RFC 3030 (BDAT chunk-size), RFC 4954
 * (AUTH mechanism [initial-response]). An overlong line is skipped to its
 * end and reported as one error line. */
#include "smtp/parser.h"

#include <string.h>

#include "lib/str.h"
#include "lib/strnum.h"

void smtp_parser_init(struct smtp_parser *p, size_t max, size_t auth_max)
{
	memset(p, 0, sizeof *p);
	p->max = max;
	p->auth_max = auth_max < max ? max : auth_max;
	/* +1 for the terminating NUL written over the LF. */
	buf_init(&p->line, p->auth_max + 1);
}

void smtp_parser_free(struct smtp_parser *p)
{
	buf_free(&p->line);
}

void smtp_parser_set_max(struct smtp_parser *p, size_t max)
{
	/* The line buffer keeps its contents: the line just returned stays
	 * valid. */
	p->max = max;
	if (p->auth_max < max) {
		p->auth_max = max;
		p->line.max = max + 1;
	}
}

void smtp_parser_reset(struct smtp_parser *p)
{
	buf_reset(&p->line);
	buf_shrink(&p->line);
	p->complete = false;
	p->skipping = false;
}

void smtp_parser_shrink(struct smtp_parser *p)
{
	if (p->complete || (buf_len(&p->line) == 0 && !p->skipping))
		smtp_parser_reset(p);
}

/* The cap that applies to the line assembled so far. */
static size_t line_cap(const struct smtp_parser *p)
{
	const unsigned char *d = buf_data(&p->line);
	size_t n = buf_len(&p->line);
	if (n >= 5 && str_casestarts((const char *)d, n, "AUTH "))
		return p->auth_max;
	return p->max;
}

int smtp_parser_line(struct smtp_parser *p, const unsigned char *in, size_t len, size_t *used_r,
		     struct smtp_line *out)
{
	size_t used = 0;
	if (p->complete) {
		buf_reset(&p->line);
		p->complete = false;
	}
	while (used < len) {
		const unsigned char *lf = memchr(in + used, '\n', len - used);
		size_t n = lf ? (size_t)(lf - (in + used)) + 1 : len - used;

		if (p->skipping) {
			used += n;
			if (lf == NULL)
				break;
			p->skipping = false;
			buf_reset(&p->line);
			p->complete = true;
			*used_r = used;
			*out = (struct smtp_line){ .s = (char *)"", .len = 0,
						   .error = SMTP_LINE_TOO_LONG };
			return 1;
		}
		/* Take the first 5 octets alone so "AUTH " can raise the cap. */
		if (buf_len(&p->line) < 5 && n > 5 - buf_len(&p->line)) {
			size_t k = 5 - buf_len(&p->line);
			if (memchr(in + used, '\n', k) == NULL) {
				buf_append(&p->line, in + used, k);
				used += k;
				continue;
			}
		}
		if (buf_len(&p->line) + n > line_cap(p)) {
			p->skipping = true;
			buf_reset(&p->line);
			buf_shrink(&p->line);
			continue;	/* the skipping branch consumes it */
		}
		buf_append(&p->line, in + used, n);
		used += n;
		if (lf == NULL)
			break;

		/* Complete line: drop LF and one CR before it. */
		unsigned char *d = buf_data(&p->line);
		size_t l = buf_len(&p->line) - 1;
		if (l > 0 && d[l - 1] == '\r')
			l--;
		d[l] = '\0';
		p->complete = true;
		*used_r = used;
		out->s = (char *)d;
		out->len = l;
		out->error = memchr(d, '\0', l) != NULL ? SMTP_LINE_NUL : SMTP_LINE_OK;
		return 1;
	}
	*used_r = used;
	return 0;
}

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_VERB_HELO },	{ "EHLO", SMTP_VERB_EHLO },
	{ "MAIL", SMTP_VERB_MAIL },	{ "RCPT", SMTP_VERB_RCPT },
	{ "DATA", SMTP_VERB_DATA },	{ "BDAT", SMTP_VERB_BDAT },
	{ "RSET", SMTP_VERB_RSET },	{ "NOOP", SMTP_VERB_NOOP },
	{ "QUIT", SMTP_VERB_QUIT },	{ "VRFY", SMTP_VERB_VRFY },
	{ "EXPN", SMTP_VERB_EXPN },	{ "HELP", SMTP_VERB_HELP },
	{ "STARTTLS", SMTP_VERB_STARTTLS }, { "AUTH", SMTP_VERB_AUTH },
	{ "GET", SMTP_VERB_HTTP },	{ "POST", SMTP_VERB_HTTP },
	{ "HEAD", SMTP_VERB_HTTP },	{ "PUT", SMTP_VERB_HTTP },
	{ "CONNECT", SMTP_VERB_HTTP },
};

int smtp_parse_command(char *line, size_t len, struct smtp_cmd *out)
{
	size_t v = 0;
	while (len > 0 && line[len - 1] == ' ')
		len--;
	line[len] = '\0';
	while (v < len && line[v] != ' ')
		v++;
	size_t a = v;
	while (a < len && line[a] == ' ')
		a++;
	out->verb = SMTP_VERB_UNKNOWN;
	out->args = line + a;
	out->args_len = len - a;
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (strlen(verbs[i].name) == v && str_casestarts(line, v, verbs[i].name)) {
			out->verb = verbs[i].verb;
			return 0;
		}
	}
	return -1;
}

int smtp_parse_path_prefix(const char *args, size_t len, const char *prefix, const char **path_r,
			   size_t *path_len_r)
{
	size_t pl = strlen(prefix);
	if (len < pl || !str_casestarts(args, len, prefix))
		return -1;
	size_t i = pl;
	/* RFC 5321 has no space here; common clients send one. */
	while (i < len && args[i] == ' ')
		i++;
	*path_r = args + i;
	*path_len_r = len - i;
	return 0;
}

static bool is_alnum(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

int smtp_parse_params(const char *s, size_t len, struct smtp_param *params, size_t max,
		      size_t *n_r)
{
	size_t i = 0, n = 0;
	*n_r = 0;
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			break;
		if (i == 0)
			return -1;	/* no space between path and first param */
		if (n == max)
			return -1;
		size_t k = i;
		if (!is_alnum((unsigned char)s[i]))
			return -1;
		while (i < len && (is_alnum((unsigned char)s[i]) || s[i] == '-'))
			i++;
		struct smtp_param *p = &params[n++];
		p->key = s + k;
		p->key_len = i - k;
		p->value = NULL;
		p->value_len = 0;
		if (i < len && s[i] == '=') {
			size_t v = ++i;
			/* esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 with SMTPUTF8 */
			while (i < len && s[i] != ' ') {
				unsigned char ch = (unsigned char)s[i];
				if (ch == '=' || ch < 33 || ch == 127)
					return -1;
				i++;
			}
			if (i == v)
				return -1;
			p->value = s + v;
			p->value_len = i - v;
		}
		if (i < len && s[i] != ' ')
			return -1;
	}
	*n_r = n;
	return 0;
}

bool smtp_param_is(const struct smtp_param *p, const char *name)
{
	return strlen(name) == p->key_len && str_casestarts(p->key, p->key_len, name);
}

int smtp_parse_bdat(const char *args, size_t len, uint64_t *size_r, bool *last_r)
{
	size_t i = 0;
	while (i < len && args[i] >= '0' && args[i] <= '9')
		i++;
	/* 20 digits hold any uint64; strnum rejects overflow. */
	if (i == 0 || i > 20 || strnum_u64(args, i, UINT64_MAX, size_r) < 0)
		return -1;
	*last_r = false;
	if (i == len)
		return 0;
	if (args[i] != ' ')
		return -1;
	while (i < len && args[i] == ' ')
		i++;
	if (i + 4 == len && str_casestarts(args + i, 4, "LAST")) {
		*last_r = true;
		return 0;
	}
	return -1;
}

int smtp_parse_auth(const char *args, size_t len, char *mech, size_t mechsize,
		    const char **ir_r, size_t *ir_len_r)
{
	size_t i = 0;
	while (i < len && args[i] != ' ')
		i++;
	if (i == 0 || i >= mechsize)
		return -1;
	for (size_t k = 0; k < i; k++) {
		unsigned char ch = (unsigned char)args[k];
		if (!is_alnum(ch) && ch != '-' && ch != '_')
			return -1;
		mech[k] = (char)((ch >= 'a' && ch <= 'z') ? ch - ('a' - 'A') : ch);
	}
	mech[i] = '\0';
	while (i < len && args[i] == ' ')
		i++;
	*ir_r = args + i;
	*ir_len_r = len - i;
	return 0;
}
