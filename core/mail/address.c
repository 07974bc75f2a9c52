/* address.c - the SMTP Path parser: RFC 5321 4.1.2 (Path, A-d-l, Mailbox,
 * Dot-string, Quoted-string, Domain), 4.1.3 (address literals), 4.1.1.3
 * ("<Postmaster>"), RFC 6531 3.3 (UTF-8 in atext, qtext and sub-domain with
 * SMTPUTF8). Limits: LIMIT_LOCAL_PART octets of local part as written,
 * LIMIT_DOMAIN octets of domain, 63 octets per label. A source route is
 * validated and dropped (RFC 5321 3.3, C): only the final mailbox is
 * returned, so "@a,@b:u@remote" is judged by "remote". */
#include "mail/address.h"

#include <arpa/inet.h>
#include <string.h>

#define LABEL_MAX 63

static bool is_alpha(unsigned char ch) { return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'; }
static bool is_digit(unsigned char ch) { return ch >= '0' && ch <= '9'; }

/* RFC 5322 atext (as used by RFC 5321 Atom). */
static bool is_atext(unsigned char ch)
{
	if (is_alpha(ch) || is_digit(ch))
		return true;
	return ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

bool mail_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned long cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

struct cursor {
	const unsigned char *s;
	size_t len;
	size_t i;
	unsigned flags;
	bool utf8;
	enum mail_addr_error err;
};

static int peek(const struct cursor *c)
{
	return c->i < c->len ? c->s[c->i] : -1;
}

static int fail(struct cursor *c, enum mail_addr_error e)
{
	if (c->err == MAIL_ADDR_OK)
		c->err = e;
	return -1;
}

/* A non-ASCII byte: allowed only with SMTPUTF8 (validated as a whole later). */
static int nonascii(struct cursor *c)
{
	if (!(c->flags & MAIL_ADDR_UTF8))
		return fail(c, MAIL_ADDR_ERR_UTF8);
	c->utf8 = true;
	return 0;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] or a
 * U-label. Advances c->i past it; [start, c->i) is the domain. */
static int parse_domain(struct cursor *c)
{
	size_t start = c->i;
	for (;;) {
		size_t lstart = c->i;
		int ch;
		while ((ch = peek(c)) >= 0) {
			if (is_alpha((unsigned char)ch) || is_digit((unsigned char)ch) || ch == '-') {
				c->i++;
			} else if (ch >= 0x80) {
				if (nonascii(c) < 0)
					return -1;
				c->i++;
			} else {
				break;
			}
		}
		size_t llen = c->i - lstart;
		if (llen == 0 || c->s[lstart] == '-' || c->s[c->i - 1] == '-')
			return fail(c, MAIL_ADDR_ERR_SYNTAX);
		if (llen > LABEL_MAX)
			return fail(c, MAIL_ADDR_ERR_DOMAIN_TOO_LONG);
		if (peek(c) != '.')
			break;
		c->i++;
	}
	if (c->i - start > LIMIT_DOMAIN)
		return fail(c, MAIL_ADDR_ERR_DOMAIN_TOO_LONG);
	return 0;
}

static bool ipv4_literal(const unsigned char *s, size_t len)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t digits = 0;
		while (i < len && is_digit(s[i]) && digits < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || v > 255)
			return false;
		if (part < 3) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
	}
	return i == len;
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6 / Standardized-tag ":"
 * 1*dcontent ) "]". c->i is at '['. */
static int parse_literal(struct cursor *c)
{
	size_t start = ++c->i;
	int ch;
	while ((ch = peek(c)) >= 0 && ch != ']') {
		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
			return fail(c, MAIL_ADDR_ERR_SYNTAX);
		c->i++;
	}
	if (ch != ']')
		return fail(c, MAIL_ADDR_ERR_SYNTAX);
	const unsigned char *body = c->s + start;
	size_t blen = c->i - start;
	c->i++;
	if (blen + 2 > LIMIT_DOMAIN)
		return fail(c, MAIL_ADDR_ERR_DOMAIN_TOO_LONG);
	if (ipv4_literal(body, blen))
		return 0;
	const unsigned char *colon = memchr(body, ':', blen);
	if (colon == NULL || colon == body || colon == body + blen - 1)
		return fail(c, MAIL_ADDR_ERR_SYNTAX);
	size_t taglen = (size_t)(colon - body);
	for (size_t k = 0; k < taglen; k++)
		if (!is_alpha(body[k]) && !is_digit(body[k]) && body[k] != '-')
			return fail(c, MAIL_ADDR_ERR_SYNTAX);
	if (body[taglen - 1] == '-')
		return fail(c, MAIL_ADDR_ERR_SYNTAX);
	if (taglen == 4 && (body[0] | 0x20) == 'i' && (body[1] | 0x20) == 'p' &&
	    (body[2] | 0x20) == 'v' && body[3] == '6') {
		char tmp[64];
		size_t alen = blen - taglen - 1;
		struct in6_addr a6;
		if (alen >= sizeof tmp)
			return fail(c, MAIL_ADDR_ERR_SYNTAX);
		memcpy(tmp, colon + 1, alen);
		tmp[alen] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return fail(c, MAIL_ADDR_ERR_SYNTAX);
	}
	return 0;
}

/* Dot-string = Atom *("." Atom). */
static int parse_dot_string(struct cursor *c)
{
	for (;;) {
		size_t astart = c->i;
		int ch;
		while ((ch = peek(c)) >= 0) {
			if (ch >= 0x80) {
				if (nonascii(c) < 0)
					return -1;
			} else if (!is_atext((unsigned char)ch)) {
				break;
			}
			c->i++;
		}
		if (c->i == astart)
			return fail(c, MAIL_ADDR_ERR_SYNTAX);
		if (peek(c) != '.')
			return 0;
		c->i++;
	}
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE; decoded into out. */
static int parse_quoted(struct cursor *c, char *out, size_t outsize, size_t *outlen)
{
	size_t o = 0;
	c->i++;
	for (;;) {
		int ch = peek(c);
		if (ch < 0)
			return fail(c, MAIL_ADDR_ERR_SYNTAX);
		c->i++;
		if (ch == '"')
			break;
		if (ch == '\\') {
			ch = peek(c);
			if (ch < 32 || ch > 126)
				return fail(c, MAIL_ADDR_ERR_SYNTAX);
			c->i++;
		} else if (ch >= 0x80) {
			if (nonascii(c) < 0)
				return -1;
		} else if (ch < 32 || ch > 126) {
			return fail(c, MAIL_ADDR_ERR_SYNTAX);
		}
		if (o + 1 >= outsize)
			return fail(c, MAIL_ADDR_ERR_LOCAL_TOO_LONG);
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

/* True when s is a valid Dot-string (so quoting it was unnecessary). */
static bool dot_string_ok(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (ch < 0x80 && !is_atext(ch)) {
			return false;
		}
	}
	return true;
}

static void lower_ascii(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + ('a' - 'A'));
}

static bool is_postmaster(const unsigned char *s, size_t len)
{
	static const char pm[] = "postmaster";
	if (len != sizeof pm - 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((s[i] | 0x20) != pm[i])
			return false;
	return true;
}

int mail_address_parse(const char *s, size_t len, unsigned flags, struct mail_address *out,
		       size_t *used_r, enum mail_addr_error *err_r)
{
	struct cursor c = { .s = (const unsigned char *)s, .len = len, .flags = flags };
	memset(out, 0, sizeof *out);
	*err_r = MAIL_ADDR_OK;
	*used_r = 0;

	if (peek(&c) != '<') {
		*err_r = MAIL_ADDR_ERR_SYNTAX;
		return -1;
	}
	c.i++;
	if (peek(&c) == '>') {
		if (!(flags & MAIL_ADDR_NULL_OK)) {
			*err_r = MAIL_ADDR_ERR_NULL;
			return -1;
		}
		out->is_null = true;
		*used_r = 2;
		return 0;
	}
	/* A-d-l ":" : validated, then forgotten. */
	if (peek(&c) == '@') {
		for (;;) {
			c.i++;
			if (parse_domain(&c) < 0)
				goto err;
			if (peek(&c) == ',') {
				c.i++;
				if (peek(&c) != '@')
					goto syntax;
				continue;
			}
			if (peek(&c) != ':')
				goto syntax;
			c.i++;
			break;
		}
	}

	/* Local-part */
	size_t lstart = c.i;
	if (peek(&c) == '"') {
		size_t dlen;
		if (parse_quoted(&c, out->local, sizeof out->local, &dlen) < 0)
			goto err;
		out->quoted = true;
	} else {
		if (parse_dot_string(&c) < 0)
			goto err;
	}
	size_t llen = c.i - lstart;
	if (llen > LIMIT_LOCAL_PART) {
		c.err = MAIL_ADDR_ERR_LOCAL_TOO_LONG;
		goto err;
	}
	if (!out->quoted) {
		memcpy(out->local, s + lstart, llen);
		out->local[llen] = '\0';
	}

	if (peek(&c) == '>' && (flags & MAIL_ADDR_POSTMASTER) && !out->quoted &&
	    is_postmaster(c.s + lstart, llen)) {
		c.i++;
		out->is_postmaster = true;
		memcpy(out->addr, "postmaster", sizeof "postmaster");
		*used_r = c.i;
		return 0;
	}
	if (peek(&c) != '@')
		goto syntax;
	c.i++;

	/* Domain / address-literal */
	size_t dstart = c.i;
	if (peek(&c) == '[') {
		if (parse_literal(&c) < 0)
			goto err;
		out->is_literal = true;
	} else {
		if (parse_domain(&c) < 0)
			goto err;
	}
	size_t dlen = c.i - dstart;
	memcpy(out->domain, s + dstart, dlen);
	out->domain[dlen] = '\0';
	if (peek(&c) != '>')
		goto syntax;
	c.i++;

	if (c.utf8 && !mail_utf8_valid(c.s + 1, c.i - 2)) {
		c.err = MAIL_ADDR_ERR_BAD_UTF8;
		goto err;
	}
	if (!out->is_literal)
		lower_ascii(out->domain);
	out->utf8 = c.utf8;

	/* Envelope form: drop quotes that were not needed (RFC 5321 4.1.2). */
	const char *lp = out->local;
	size_t lplen = strlen(out->local);
	if (out->quoted && !dot_string_ok(out->local, lplen)) {
		lp = s + lstart;
		lplen = llen;
	}
	memcpy(out->addr, lp, lplen);
	out->addr[lplen] = '@';
	memcpy(out->addr + lplen + 1, out->domain, dlen + 1);
	*used_r = c.i;
	return 0;

syntax:
	c.err = MAIL_ADDR_ERR_SYNTAX;
err:
	*err_r = c.err != MAIL_ADDR_OK ? c.err : MAIL_ADDR_ERR_SYNTAX;
	memset(out, 0, sizeof *out);
	return -1;
}
