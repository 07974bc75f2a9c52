/* mime_render.c - the IMAP strings of RFC 9051 7.5.2 (RFC 3501 7.4.2) for a
 * parsed part tree: ENVELOPE with RFC 5322 3.4 address lists (groups as
 * (NIL NIL "name" NIL) ... (NIL NIL NIL NIL), Sender and Reply-To default to
 * From, encoded words left encoded), BODY and BODYSTRUCTURE with extension
 * data (RFC 2183 disposition, Content-Language, Content-Location). The
 * output follows Dovecot's conventions so clients see the same thing:
 * quoted strings unless a CR, LF, 8-bit octet or more than four quoted
 * specials make a literal; subjects and display names with runs of blanks
 * collapsed; NUL in header values as U+FFFD; missing address parts as
 * MISSING_MAILBOX / MISSING_DOMAIN / SYNTAX_ERROR. */
#include <string.h>

#include "lib/str.h"
#include "mail/mime.h"
#include "mail/mime_private.h"

struct rctx {
	struct buf *out;
	bool err;
};

static void put(struct rctx *c, const void *p, size_t n)
{
	if (!c->err && buf_append(c->out, p, n) < 0)
		c->err = true;
}

static void puts_(struct rctx *c, const char *s)
{
	put(c, s, strlen(s));
}

static void put_literal(struct rctx *c, const unsigned char *s, size_t n)
{
	char head[32];
	int w = str_fmt(head, sizeof(head), "{%zu}\r\n", n);
	if (w < 0) {
		c->err = true;
		return;
	}
	put(c, head, (size_t)w);
	put(c, s, n);
}

/* IMAP string: quoted when safe, else a literal. */
static void put_string(struct rctx *c, const unsigned char *s, size_t n)
{
	unsigned esc = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = s[i];
		if (ch == '"' || ch == '\\') {
			if (esc++ < 4)
				continue;
		} else if (ch != '\r' && ch != '\n' && ch < 0x80 && ch != 0) {
			continue;
		}
		put_literal(c, s, n);
		return;
	}
	put(c, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			put(c, s + run, i - run);
			put(c, "\\", 1);
			run = i;
		}
	}
	put(c, s + run, n - run);
	put(c, "\"", 1);
}

static void put_cstring(struct rctx *c, const char *s)
{
	put_string(c, (const unsigned char *)s, strlen(s));
}

/* A header value as Dovecot keeps it: NUL as U+FFFD; with nolf, CR and LF
 * (the folding) removed. NUL-terminated in dst. */
static void header_value(struct buf *dst, const unsigned char *v, size_t n, bool nolf)
{
	buf_reset(dst);
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\0')
			(void)buf_append(dst, "\xef\xbf\xbd", 3);
		else if (!nolf || (v[i] != '\r' && v[i] != '\n'))
			(void)buf_append(dst, v + i, 1);
	}
	unsigned char *z = buf_reserve(dst, 1);
	if (z != NULL)
		*z = '\0';
}

/* Text for humans (subjects, display names): blanks collapsed, CR/LF
 * dropped, trimmed; unchanged text is quoted, changed text a literal. */
static void put_human(struct rctx *c, const unsigned char *s, size_t n)
{
	bool modify = false, last_lwsp = true, prefix = true;
	size_t removed = 0, i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '\t':
			modify = true;
			/* fall through */
		case ' ':
			if (last_lwsp) {
				modify = true;
				removed++;
			}
			last_lwsp = true;
			break;
		case '\r':
		case '\n':
			removed++;
			modify = true;
			break;
		case '"':
		case '\\':
			modify = true;
			last_lwsp = false;
			break;
		default:
			if (s[i] >= 0x80 || s[i] == 0)
				modify = true;
			last_lwsp = false;
			break;
		}
		if (!last_lwsp)
			prefix = false;
	}
	if (last_lwsp && n > 0 && !prefix) {
		modify = true;
		removed++;
	}
	if (!modify) {
		put(c, "\"", 1);
		put(c, s, n);
		put(c, "\"", 1);
		return;
	}
	if (removed == n) {
		puts_(c, "\"\"");
		return;
	}
	struct buf t;
	buf_init(&t, n + 1);
	last_lwsp = true;
	for (i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t') {
			if (!last_lwsp)
				(void)buf_append(&t, " ", 1);
			last_lwsp = true;
		} else if (s[i] != '\r' && s[i] != '\n') {
			unsigned char ch = s[i] == 0 ? 0x80 : s[i];
			(void)buf_append(&t, &ch, 1);
			last_lwsp = false;
		}
	}
	size_t tlen = buf_len(&t);
	if (tlen > 0 && buf_data(&t)[tlen - 1] == ' ')
		tlen--;
	put_literal(c, buf_data(&t), tlen);
	buf_free(&t);
}

/* --- RFC 5322 address lists --- */

struct addr {
	struct rctx *c;
	struct mime_lex lx;
	struct buf comment, str, name, route, mailbox, domain;
	bool has_name, has_route, has_mailbox, has_domain;
	const char *fixed_domain;	/* "SYNTAX_ERROR" etc. instead of domain */
};

static int peek(const struct addr *a)
{
	return a->lx.p < a->lx.end ? *a->lx.p : -1;
}

static void addr_reset(struct addr *a)
{
	buf_reset(&a->name);
	buf_reset(&a->route);
	buf_reset(&a->mailbox);
	buf_reset(&a->domain);
	a->has_name = a->has_route = a->has_mailbox = a->has_domain = false;
	a->fixed_domain = NULL;
}

static void put_nbuf(struct rctx *c, bool has, struct buf *b)
{
	if (!has)
		puts_(c, "NIL");
	else
		put_string(c, buf_data(b), buf_len(b));
}

static void addr_add(struct addr *a)
{
	struct rctx *c = a->c;

	put(c, "(", 1);
	if (a->has_name && buf_len(&a->name) > 0) {
		struct buf v;
		buf_init(&v, LIMIT_MIME_HEADER_SIZE * 3);
		header_value(&v, buf_data(&a->name), buf_len(&a->name), false);
		put_human(c, buf_data(&v), buf_len(&v));
		buf_free(&v);
	} else {
		puts_(c, "NIL");
	}
	put(c, " ", 1);
	put_nbuf(c, a->has_route, &a->route);
	put(c, " ", 1);
	put_nbuf(c, a->has_mailbox, &a->mailbox);
	put(c, " ", 1);
	if (a->fixed_domain != NULL)
		put_cstring(c, a->fixed_domain);
	else
		put_nbuf(c, a->has_domain, &a->domain);
	put(c, ")", 1);
	addr_reset(a);
}

static void addr_add_fixed(struct addr *a)
{
	if (!a->has_mailbox) {
		a->has_mailbox = true;
		buf_reset(&a->mailbox);
		(void)buf_append_str(&a->mailbox, "MISSING_MAILBOX");
	}
	if (!a->has_domain && a->fixed_domain == NULL)
		a->fixed_domain = "MISSING_DOMAIN";
	addr_add(a);
}

static int addr_local_part(struct addr *a)
{
	buf_reset(&a->mailbox);
	int ret = peek(a) == '"' ? mime_lex_quoted(&a->lx, &a->mailbox) :
				   mime_lex_dot_atom(&a->lx, &a->mailbox);
	if (ret >= 0)
		a->has_mailbox = true;
	return ret;
}

static int addr_domain(struct addr *a)
{
	buf_reset(&a->domain);
	int ret = mime_lex_domain(&a->lx, &a->domain);
	if (ret >= 0)
		a->has_domain = true;
	return ret;
}

static int addr_route(struct addr *a)
{
	buf_reset(&a->route);
	while (peek(a) == '@') {
		int ret;
		if (buf_len(&a->route) > 0)
			(void)buf_append(&a->route, ",", 1);
		(void)buf_append(&a->route, "@", 1);
		if ((ret = mime_lex_domain(&a->lx, &a->route)) <= 0)
			return ret;
		while (peek(a) == ',') {
			a->lx.p++;
			if ((ret = mime_lex_skip(&a->lx)) <= 0)
				return ret;
		}
	}
	if (peek(a) < 0)
		return 0;
	a->has_route = true;
	return 1;
}

static int addr_angle(struct addr *a)
{
	int ret;

	a->lx.p++;	/* '<' */
	if ((ret = mime_lex_skip(&a->lx)) <= 0)
		return ret;
	if (peek(a) == '@') {
		if (addr_route(a) <= 0 || peek(a) != ':') {
			a->has_route = true;
			buf_reset(&a->route);
			(void)buf_append_str(&a->route, "INVALID_ROUTE");
			return -1;
		}
		a->lx.p++;
		if ((ret = mime_lex_skip(&a->lx)) <= 0)
			return ret;
	}
	if ((ret = addr_local_part(a)) <= 0)
		return ret;
	if (peek(a) == '@' && (ret = addr_domain(a)) <= 0)
		return ret == 0 ? -1 : ret;	/* no '>' */
	if (peek(a) != '>')
		return -1;
	a->lx.p++;
	return mime_lex_skip(&a->lx);
}

static int addr_name_addr(struct addr *a)
{
	buf_reset(&a->name);
	if (mime_lex_phrase(&a->lx, &a->name) <= 0 || peek(a) != '<')
		return -1;
	a->has_name = buf_len(&a->name) > 0;
	if (addr_angle(a) < 0)
		a->fixed_domain = "SYNTAX_ERROR";
	return peek(a) >= 0 ? 1 : 0;
}

static int addr_spec(struct addr *a)
{
	int ret;

	buf_reset(&a->comment);
	ret = addr_local_part(a);
	if (ret != 0 && peek(a) == '@') {
		int ret2 = addr_domain(a);
		if (ret2 <= 0)
			ret = ret2;
	}
	if (buf_len(&a->comment) > 0) {
		buf_reset(&a->name);
		(void)buf_append(&a->name, buf_data(&a->comment), buf_len(&a->comment));
		a->has_name = true;
	}
	return ret;
}

static int addr_mailbox(struct addr *a)
{
	const unsigned char *start = a->lx.p;
	int ret = addr_name_addr(a);

	if (ret < 0) {
		a->lx.p = start;
		addr_reset(a);
		ret = addr_spec(a);
	}
	addr_add_fixed(a);
	return ret;
}

static int addr_group(struct addr *a)
{
	int ret;

	buf_reset(&a->str);
	if (mime_lex_phrase(&a->lx, &a->str) <= 0 || peek(a) != ':')
		return -1;
	a->lx.p++;
	ret = mime_lex_skip(&a->lx);
	a->has_mailbox = true;
	buf_reset(&a->mailbox);
	(void)buf_append(&a->mailbox, buf_data(&a->str), buf_len(&a->str));
	addr_add(a);
	if (ret > 0 && peek(a) != ';') {
		for (;;) {
			if (addr_mailbox(a) <= 0) {
				ret = -1;
				break;
			}
			if (peek(a) != ',')
				break;
			a->lx.p++;
			if (mime_lex_skip(&a->lx) <= 0) {
				ret = -1;
				break;
			}
		}
	}
	if (ret >= 0) {
		if (peek(a) != ';') {
			ret = -1;
		} else {
			a->lx.p++;
			ret = mime_lex_skip(&a->lx);
		}
	}
	addr_add(a);	/* end of group: all NIL */
	return ret == 0 ? 0 : 1;
}

static int addr_address(struct addr *a)
{
	const unsigned char *start = a->lx.p;
	int ret = addr_group(a);

	if (ret < 0) {
		a->lx.p = start;
		addr_reset(a);
		ret = addr_mailbox(a);
	}
	return ret;
}

/* Appends the addresses of one header value to c (no parentheses around). */
static void addr_list(struct rctx *c, const unsigned char *v, size_t n)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.c = c;
	buf_init(&a.comment, LIMIT_MIME_HEADER_SIZE);
	buf_init(&a.str, LIMIT_MIME_HEADER_SIZE);
	buf_init(&a.name, LIMIT_MIME_HEADER_SIZE);
	buf_init(&a.route, LIMIT_MIME_HEADER_SIZE);
	buf_init(&a.mailbox, LIMIT_MIME_HEADER_SIZE);
	buf_init(&a.domain, LIMIT_MIME_HEADER_SIZE);
	mime_lex_init(&a.lx, v, n, &a.comment);
	if (mime_lex_skip(&a.lx) > 0) {
		for (;;) {
			int ret = addr_address(&a);
			if (ret == 0 || peek(&a) != ',')
				break;
			a.lx.p++;
			if ((ret = mime_lex_skip(&a.lx)) <= 0) {
				if (ret < 0)
					addr_add_fixed(&a);
				break;
			}
		}
	}
	buf_free(&a.comment);
	buf_free(&a.str);
	buf_free(&a.name);
	buf_free(&a.route);
	buf_free(&a.mailbox);
	buf_free(&a.domain);
}

/* --- ENVELOPE --- */

enum { ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO, ENV_CC, ENV_BCC,
       ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_COUNT };

static const char *const env_names[ENV_COUNT] = {
	"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To",
	"Message-ID",
};

static void put_addr_buf(struct rctx *c, struct buf *b)
{
	if (buf_len(b) == 0) {
		puts_(c, "NIL");
		return;
	}
	put(c, "(", 1);
	put(c, buf_data(b), buf_len(b));
	put(c, ")", 1);
}

static void render_envelope(struct rctx *c, const struct mime_tree *tree,
			    const unsigned char *msg, uint32_t id)
{
	const struct mime_part *p = &tree->parts[id];
	size_t pos = p->hdr_off, end = p->hdr_off + p->hdr_len, noff, nlen, voff, vlen;
	bool have[ENV_COUNT] = { false };
	size_t off[ENV_COUNT], len[ENV_COUNT];
	struct buf addrs[ENV_COUNT], v;

	for (int i = 0; i < ENV_COUNT; i++)
		buf_init(&addrs[i], LIMIT_MIME_HEADER_SIZE * 8);
	while (mime_header_next(msg, &pos, end, &noff, &nlen, &voff, &vlen) > 0) {
		for (int i = 0; i < ENV_COUNT; i++) {
			if (nlen != strlen(env_names[i]) ||
			    !str_casestarts((const char *)msg + noff, nlen, env_names[i]))
				continue;
			if (i >= ENV_FROM && i <= ENV_BCC) {
				/* every occurrence counts, as Dovecot does */
				struct rctx ac = { &addrs[i], false };
				addr_list(&ac, msg + voff, vlen);
			}
			have[i] = true;	/* the last one wins */
			off[i] = voff;
			len[i] = vlen;
		}
	}
	buf_init(&v, LIMIT_MIME_HEADER_SIZE * 3);
	put(c, "(", 1);
	for (int i = 0; i < ENV_COUNT; i++) {
		if (i > 0)
			put(c, " ", 1);
		if (i >= ENV_FROM && i <= ENV_BCC) {
			int src = i;
			if ((i == ENV_SENDER || i == ENV_REPLY_TO) && buf_len(&addrs[i]) == 0)
				src = ENV_FROM;
			put_addr_buf(c, &addrs[src]);
		} else if (!have[i]) {
			puts_(c, "NIL");
		} else if (i == ENV_SUBJECT) {
			header_value(&v, msg + off[i], len[i], false);
			put_human(c, buf_data(&v), buf_len(&v));
		} else {
			header_value(&v, msg + off[i], len[i], true);
			put_string(c, buf_data(&v), buf_len(&v));
		}
	}
	put(c, ")", 1);
	buf_free(&v);
	for (int i = 0; i < ENV_COUNT; i++)
		buf_free(&addrs[i]);
}

int mime_render_envelope(const struct mime_tree *tree, const unsigned char *msg, uint32_t part,
			 struct buf *out)
{
	struct rctx c = { out, false };

	if (part >= tree->count)
		return -1;
	render_envelope(&c, tree, msg, part);
	return c.err ? -1 : 0;
}

/* --- BODY / BODYSTRUCTURE --- */

enum { CH_TYPE, CH_CTE, CH_ID, CH_DESC, CH_DISP, CH_MD5, CH_LANG, CH_LOC, CH_COUNT };

static const char *const ch_names[CH_COUNT] = {
	"Content-Type", "Content-Transfer-Encoding", "Content-ID", "Content-Description",
	"Content-Disposition", "Content-MD5", "Content-Language", "Content-Location",
};

struct content {
	bool have[CH_COUNT];
	size_t off[CH_COUNT], len[CH_COUNT];
	struct mime_ctype ct, disp;
	bool has_disp;
	struct buf cte;		/* NUL-terminated token, empty = none */
	struct buf scratch;
};

static void content_read(struct content *k, const unsigned char *msg, const struct mime_part *p)
{
	size_t pos = p->hdr_off, end = p->hdr_off + p->hdr_len, noff, nlen, voff, vlen;

	memset(k->have, 0, sizeof(k->have));
	while (mime_header_next(msg, &pos, end, &noff, &nlen, &voff, &vlen) > 0) {
		for (int i = 0; i < CH_COUNT; i++) {
			if (!k->have[i] && nlen == strlen(ch_names[i]) &&
			    str_casestarts((const char *)msg + noff, nlen, ch_names[i])) {
				k->have[i] = true;	/* the first one wins */
				k->off[i] = voff;
				k->len[i] = vlen;
			}
		}
	}
	mime_ctype_init(&k->ct);
	mime_ctype_init(&k->disp);
	buf_init(&k->cte, LIMIT_MIME_HEADER_SIZE + 1);
	buf_init(&k->scratch, LIMIT_MIME_HEADER_SIZE * 3);
	if (k->have[CH_TYPE])
		mime_ctype_parse(&k->ct, msg + k->off[CH_TYPE], k->len[CH_TYPE], false);
	k->has_disp = false;
	if (k->have[CH_DISP]) {
		mime_ctype_parse(&k->disp, msg + k->off[CH_DISP], k->len[CH_DISP], true);
		k->has_disp = buf_len(&k->disp.type) > 0;
	}
	if (k->have[CH_CTE]) {
		struct mime_lex lx;
		mime_lex_init(&lx, msg + k->off[CH_CTE], k->len[CH_CTE], NULL);
		if (mime_lex_skip(&lx) <= 0 || mime_lex_token(&lx, &k->cte) != 0)
			buf_reset(&k->cte);
	}
	unsigned char *z = buf_reserve(&k->cte, 1);
	if (z != NULL)
		*z = '\0';
}

static void content_free(struct content *k)
{
	mime_ctype_free(&k->ct);
	mime_ctype_free(&k->disp);
	buf_free(&k->cte);
	buf_free(&k->scratch);
}

/* nstring of a raw header value, CR/LF removed; NIL when absent. */
static void put_hdr_nstring(struct rctx *c, struct content *k, const unsigned char *msg, int i)
{
	if (!k->have[i]) {
		puts_(c, "NIL");
		return;
	}
	header_value(&k->scratch, msg + k->off[i], k->len[i], true);
	put_string(c, buf_data(&k->scratch), buf_len(&k->scratch));
}

static void put_params(struct rctx *c, const struct mime_params *pr, bool default_charset)
{
	bool seen = false;

	if (pr->count == 0 && !default_charset) {
		puts_(c, "NIL");
		return;
	}
	put(c, "(", 1);
	for (unsigned i = 0; i < pr->count; i++) {
		if (i > 0)
			put(c, " ", 1);
		if (str_caseeq(mime_param_name(pr, i), "charset"))
			seen = true;
		put_cstring(c, mime_param_name(pr, i));
		put(c, " ", 1);
		put_cstring(c, mime_param_value(pr, i));
	}
	if (default_charset && !seen)
		puts_(c, pr->count > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	put(c, ")", 1);
}

/* disposition, language, location */
static void put_ext_common(struct rctx *c, struct content *k, const unsigned char *msg)
{
	put(c, " ", 1);
	if (!k->has_disp) {
		puts_(c, "NIL");
	} else {
		put(c, "(", 1);
		put_cstring(c, (const char *)buf_data(&k->disp.type));
		put(c, " ", 1);
		put_params(c, &k->disp.params, false);
		put(c, ")", 1);
	}
	put(c, " ", 1);
	bool any = false;
	if (k->have[CH_LANG]) {
		struct mime_lex lx;
		struct buf lang;
		buf_init(&lang, LIMIT_MIME_HEADER_SIZE);
		mime_lex_init(&lx, msg + k->off[CH_LANG], k->len[CH_LANG], NULL);
		(void)mime_lex_skip(&lx);
		while (mime_lex_atom(&lx, &lang) >= 0) {
			put(c, any ? " " : "(", 1);
			put_string(c, buf_data(&lang), buf_len(&lang));
			buf_reset(&lang);
			any = true;
			if (lx.p >= lx.end || *lx.p != ',')
				break;
			lx.p++;
			(void)mime_lex_skip(&lx);
		}
		buf_free(&lang);
	}
	puts_(c, any ? ")" : "NIL");
	put(c, " ", 1);
	put_hdr_nstring(c, k, msg, CH_LOC);
}

/* Dovecot answers a root text/plain us-ascii 7bit part without extras in
 * one canonical spelling, whatever the case of the header. */
static bool plain_7bit(const struct content *k)
{
	if (k->have[CH_TYPE]) {
		if (!str_caseeq((const char *)buf_data(&k->ct.type), "text") ||
		    !str_caseeq((const char *)buf_data(&k->ct.subtype), "plain"))
			return false;
		const struct mime_params *pr = &k->ct.params;
		if (pr->count > 1 ||
		    (pr->count == 1 && (!str_caseeq(mime_param_name(pr, 0), "charset") ||
					!str_caseeq(mime_param_value(pr, 0), "us-ascii"))))
			return false;
	}
	if (buf_len(&k->cte) > 0 && !str_caseeq((const char *)buf_data(&k->cte), "7bit"))
		return false;
	return !k->have[CH_ID] && !k->have[CH_DESC] && !k->have[CH_MD5] && !k->has_disp &&
	       !k->have[CH_LANG] && !k->have[CH_LOC];
}

static void render_part(struct rctx *c, const struct mime_tree *t, const unsigned char *msg,
			uint32_t id, bool ext)
{
	const struct mime_part *p = &t->parts[id];
	struct content k;
	char num[48];

	content_read(&k, msg, p);
	if (p->kind == MIME_KIND_MULTIPART) {
		if (p->first_child == MIME_NONE) {
			puts_(c, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
			puts_(c, ext ? " NIL NIL NIL NIL)" : ")");
		}
		for (uint32_t ch = p->first_child; ch != MIME_NONE && !c->err; ch = t->parts[ch].next) {
			put(c, "(", 1);
			render_part(c, t, msg, ch, ext);
			put(c, ")", 1);
		}
		put(c, " ", 1);
		put_cstring(c, (const char *)buf_data(&k.ct.subtype));
		if (ext) {
			put(c, " ", 1);
			put_params(c, &k.ct.params, false);
			put_ext_common(c, &k, msg);
		}
		content_free(&k);
		return;
	}
	bool text;
	if (id == 0 && p->kind == MIME_KIND_TEXT && !(p->flags & MIME_PART_FLATTENED) &&
	    plain_7bit(&k)) {
		(void)str_fmt(num, sizeof(num), " %zu %zu", p->body_len, p->lines);
		puts_(c, "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\"");
		puts_(c, num);
		if (ext)
			puts_(c, " NIL NIL NIL NIL");
		content_free(&k);
		return;
	}
	bool plain = p->kind == MIME_KIND_RFC822 || (p->flags & MIME_PART_FLATTENED) ||
		     !k.have[CH_TYPE];
	if (p->kind == MIME_KIND_RFC822) {
		puts_(c, "\"message\" \"rfc822\"");
		text = false;
	} else if (plain) {
		puts_(c, "\"text\" \"plain\"");
		text = true;
	} else {
		put_cstring(c, (const char *)buf_data(&k.ct.type));
		put(c, " ", 1);
		put_cstring(c, (const char *)buf_data(&k.ct.subtype));
		text = str_caseeq((const char *)buf_data(&k.ct.type), "text");
	}
	put(c, " ", 1);
	if (plain && p->kind != MIME_KIND_RFC822) {
		struct mime_params none;
		mime_params_init(&none);
		put_params(c, (p->flags & MIME_PART_FLATTENED) ? &none : &k.ct.params, true);
		mime_params_free(&none);
	} else {
		put_params(c, &k.ct.params, text);
	}
	put(c, " ", 1);
	put_hdr_nstring(c, &k, msg, CH_ID);
	put(c, " ", 1);
	put_hdr_nstring(c, &k, msg, CH_DESC);
	put(c, " ", 1);
	if (buf_len(&k.cte) > 0)
		put_cstring(c, (const char *)buf_data(&k.cte));
	else
		puts_(c, "\"7bit\"");
	(void)str_fmt(num, sizeof(num), " %zu", p->body_len);
	puts_(c, num);
	if (text) {
		(void)str_fmt(num, sizeof(num), " %zu", p->lines);
		puts_(c, num);
	} else if (p->kind == MIME_KIND_RFC822) {
		put(c, " ", 1);
		render_envelope(c, t, msg, p->first_child);
		puts_(c, " (");
		render_part(c, t, msg, p->first_child, ext);
		(void)str_fmt(num, sizeof(num), ") %zu", p->lines);
		puts_(c, num);
	}
	if (ext) {
		put(c, " ", 1);
		put_hdr_nstring(c, &k, msg, CH_MD5);
		put_ext_common(c, &k, msg);
	}
	content_free(&k);
}

int mime_render_bodystructure(const struct mime_tree *tree, const unsigned char *msg,
			      uint32_t part, bool extended, struct buf *out)
{
	struct rctx c = { out, false };

	if (part >= tree->count)
		return -1;
	put(&c, "(", 1);
	render_part(&c, tree, msg, part, extended);
	put(&c, ")", 1);
	return c.err ? -1 : 0;
}
