/* spf.c - SPF check_host() (RFC 7208 4) over core/dns. The record is
 * parsed whole before it is evaluated (4.6: any syntax error is a
 * permerror); mechanisms all, include, a, mx, ptr, ip4, ip6, exists and the
 * redirect modifier (exp= is accepted and ignored: we never reject with an
 * explanation). Macros (7): letters s l o d i p h v c r t, the digit and
 * r transformers and delimiters. Limits (4.6.4): LIMIT_SPF_DNS_MECHANISMS
 * terms that query DNS, LIMIT_SPF_VOID_LOOKUPS empty answers,
 * LIMIT_SPF_MX_NAMES per mx/ptr; records over LIMIT_SPF_RECORD octets. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <time.h>

#include "config/limits.h"
#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "mail/spf.h"

#define SPF_MAX_TERMS 64
#define SPF_MAX_DEPTH 10

struct spf_ctx {
	bool v6;
	unsigned char ip[16];	/* 4 or 16 octets */
	char ip_text[64];	/* as given, IPv4-mapped reduced to IPv4 */
	const char *helo;
	char sender[LIMIT_ADDRESS + 16];
	char local[LIMIT_ADDRESS + 1];
	char sender_domain[254];
	unsigned dns_terms;
	unsigned voids;
	char why[128];
};

const char *spf_result_name(enum spf_result r)
{
	static const char *const names[] = { "none", "neutral", "pass", "fail", "softfail",
					     "temperror", "permerror" };
	return (size_t)r < sizeof(names) / sizeof(names[0]) ? names[r] : "permerror";
}

static enum spf_result why(struct spf_ctx *c, enum spf_result r, const char *text)
{
	if (c->why[0] == '\0')
		str_lcpy(c->why, text, sizeof(c->why));
	return r;
}

/* ---------- macros (7) ---------- */

static bool is_delim(char ch)
{
	return ch == '.' || ch == '-' || ch == '+' || ch == ',' || ch == '/' || ch == '_' ||
	       ch == '=';
}

static int macro_value(struct spf_ctx *c, char letter, const char *domain, char *out,
		       size_t outsize)
{
	switch (tolower((unsigned char)letter)) {
	case 's':
		return str_fmt(out, outsize, "%s", c->sender) < 0 ? -1 : 0;
	case 'l':
		return str_fmt(out, outsize, "%s", c->local) < 0 ? -1 : 0;
	case 'o':
		return str_fmt(out, outsize, "%s", c->sender_domain) < 0 ? -1 : 0;
	case 'd':
		return str_fmt(out, outsize, "%s", domain) < 0 ? -1 : 0;
	case 'h':
		return str_fmt(out, outsize, "%s", c->helo) < 0 ? -1 : 0;
	case 'v':
		return str_fmt(out, outsize, "%s", c->v6 ? "ip6" : "in-addr") < 0 ? -1 : 0;
	case 'p':
		return str_fmt(out, outsize, "unknown") < 0 ? -1 : 0;	/* XXX: no validated PTR */
	case 'c':
		return str_fmt(out, outsize, "%s", c->ip_text) < 0 ? -1 : 0;
	case 'r':
		return str_fmt(out, outsize, "unknown") < 0 ? -1 : 0;
	case 't':
		return str_fmt(out, outsize, "%lld", (long long)time(NULL)) < 0 ? -1 : 0;
	case 'i':
		if (!c->v6)
			return str_fmt(out, outsize, "%u.%u.%u.%u", c->ip[0], c->ip[1], c->ip[2],
				       c->ip[3]) < 0 ? -1 : 0;
		if (outsize < 64)
			return -1;
		for (int k = 0; k < 16; k++) {
			static const char hex[] = "0123456789abcdef";
			out[k * 4] = hex[c->ip[k] >> 4];
			out[k * 4 + 1] = '.';
			out[k * 4 + 2] = hex[c->ip[k] & 15];
			out[k * 4 + 3] = '.';
		}
		out[63] = '\0';
		return 0;
	default:
		return -1;
	}
}

/* Applies the transformers (digits, 'r') and delimiters to value. */
static int macro_transform(char *value, const char *spec, size_t speclen, char *out,
			   size_t outsize, bool escape)
{
	char delims[16] = "";
	size_t nd = 0, i = 0;
	uint64_t keep = 0;
	bool rev = false;
	char *parts[256];
	size_t np = 0;
	struct buf b;
	int rc = 0;

	while (i < speclen && isdigit((unsigned char)spec[i]))
		i++;
	if (i > 0 && (strnum_u64(spec, i, 128, &keep) < 0 || keep == 0))
		return -1;
	if (i < speclen && (spec[i] == 'r' || spec[i] == 'R')) {
		rev = true;
		i++;
	}
	for (; i < speclen; i++) {
		if (!is_delim(spec[i]) || nd + 1 >= sizeof(delims))
			return -1;
		delims[nd++] = spec[i];
	}
	if (nd == 0)
		delims[nd++] = '.';
	delims[nd] = '\0';
	/* split */
	parts[np++] = value;
	for (char *p = value; *p != '\0'; p++) {
		if (strchr(delims, *p) != NULL) {
			*p = '\0';
			if (np == sizeof(parts) / sizeof(parts[0]))
				return -1;
			parts[np++] = p + 1;
		}
	}
	if (rev)
		for (size_t a = 0, z = np - 1; a < z; a++, z--) {
			char *t = parts[a];
			parts[a] = parts[z];
			parts[z] = t;
		}
	size_t from = keep > 0 && keep < np ? np - (size_t)keep : 0;
	buf_init(&b, outsize - 1);
	for (size_t k = from; k < np && rc == 0; k++) {
		if (k > from && buf_append(&b, ".", 1) < 0)
			rc = -1;
		for (const char *p = parts[k]; *p != '\0' && rc == 0; p++) {
			unsigned char ch = (unsigned char)*p;
			if (escape && !(isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~'))
				rc = buf_printf(&b, "%%%02X", ch);
			else
				rc = buf_append(&b, p, 1);
		}
	}
	if (rc == 0) {
		memcpy(out, buf_data(&b), buf_len(&b));
		out[buf_len(&b)] = '\0';
	}
	buf_free(&b);
	return rc;
}

/* Expands a domain-spec (or macro-string) into out; -1 on a syntax error. */
static int macro_expand(struct spf_ctx *c, const char *in, size_t len, const char *domain,
			char *out, size_t outsize)
{
	struct buf b;
	int rc = 0;

	buf_init(&b, outsize - 1);
	for (size_t i = 0; i < len && rc == 0; i++) {
		if (in[i] != '%') {
			rc = buf_append(&b, in + i, 1);
			continue;
		}
		if (++i >= len)
			rc = -1;
		else if (in[i] == '%')
			rc = buf_append(&b, "%", 1);
		else if (in[i] == '_')
			rc = buf_append(&b, " ", 1);
		else if (in[i] == '-')
			rc = buf_append(&b, "%20", 3);
		else if (in[i] == '{') {
			const char *close = memchr(in + i, '}', len - i);
			char val[512], tr[512];
			if (close == NULL || close == in + i + 1) {
				rc = -1;
				break;
			}
			char letter = in[i + 1];
			if (macro_value(c, letter, domain, val, sizeof(val)) < 0 ||
			    macro_transform(val, in + i + 2, (size_t)(close - (in + i + 2)), tr,
					    sizeof(tr), isupper((unsigned char)letter) != 0) < 0)
				rc = -1;
			else
				rc = buf_append_str(&b, tr);
			i = (size_t)(close - in);
		} else {
			rc = -1;
		}
	}
	if (rc == 0) {
		size_t n = buf_len(&b);
		const char *p = (const char *)buf_data(&b);
		/* 7.3: over 253 octets, drop labels from the left */
		while (n > 253) {
			const char *dot = memchr(p, '.', n);
			if (dot == NULL)
				break;
			n -= (size_t)(dot + 1 - p);
			p = dot + 1;
		}
		if (n >= outsize || n > 253) {
			rc = -1;
		} else {
			memcpy(out, p, n);
			out[n] = '\0';
		}
	}
	buf_free(&b);
	return rc;
}

/* ---------- parsing ---------- */

enum spf_mech { M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS, M_REDIRECT, M_EXP,
		M_UNKNOWN_MOD };

struct spf_term {
	enum spf_mech mech;
	char qual;		/* + - ~ ? */
	const char *arg;	/* domain-spec or address, NULL when absent */
	size_t arg_len;
	int cidr4, cidr6;	/* -1 = none */
};

static int parse_cidr(const char *s, size_t len, int *c4, int *c6, size_t *used)
{
	size_t i = len;
	uint64_t v;

	*c4 = *c6 = -1;
	*used = 0;
	/* from the end: [/n][//m] */
	const char *dbl = NULL;
	for (size_t k = 0; k + 1 < len; k++)
		if (s[k] == '/' && s[k + 1] == '/') {
			dbl = s + k;
			break;
		}
	if (dbl != NULL) {
		size_t at = (size_t)(dbl - s);
		if (strnum_u64(dbl + 2, len - at - 2, 128, &v) < 0)
			return -1;
		*c6 = (int)v;
		i = at;
	}
	for (size_t k = i; k-- > 0;) {
		if (s[k] == '/') {
			if (strnum_u64(s + k + 1, i - k - 1, 32, &v) < 0)
				return -1;
			*c4 = (int)v;
			i = k;
			break;
		}
		if (!isdigit((unsigned char)s[k]))
			break;
	}
	*used = len - i;
	return 0;
}

static int parse_term(char *t, size_t len, struct spf_term *out)
{
	static const struct { const char *name; enum spf_mech m; } mechs[] = {
		{ "all", M_ALL }, { "include", M_INCLUDE }, { "a", M_A }, { "mx", M_MX },
		{ "ptr", M_PTR }, { "ip4", M_IP4 }, { "ip6", M_IP6 }, { "exists", M_EXISTS },
	};
	size_t nl = 0;

	memset(out, 0, sizeof(*out));
	out->qual = '+';
	out->cidr4 = out->cidr6 = -1;
	/* a modifier: name "=" */
	while (nl < len && (isalnum((unsigned char)t[nl]) || t[nl] == '-' || t[nl] == '_' ||
			    t[nl] == '.'))
		nl++;
	if (nl > 0 && nl < len && t[nl] == '=' && isalpha((unsigned char)t[0])) {
		out->arg = t + nl + 1;
		out->arg_len = len - nl - 1;
		if (nl == 8 && strncasecmp(t, "redirect", 8) == 0)
			out->mech = M_REDIRECT;
		else if (nl == 3 && strncasecmp(t, "exp", 3) == 0)
			out->mech = M_EXP;
		else
			out->mech = M_UNKNOWN_MOD;
		return 0;
	}
	if (len > 0 && strchr("+-~?", t[0]) != NULL) {
		out->qual = t[0];
		t++;
		len--;
	}
	for (nl = 0; nl < len && isalnum((unsigned char)t[nl]); nl++)
		;
	for (size_t k = 0; k < sizeof(mechs) / sizeof(mechs[0]); k++) {
		if (strlen(mechs[k].name) != nl || strncasecmp(t, mechs[k].name, nl) != 0)
			continue;
		out->mech = mechs[k].m;
		const char *rest = t + nl;
		size_t rl = len - nl, used = 0;
		if (out->mech == M_A || out->mech == M_MX) {
			if (parse_cidr(rest, rl, &out->cidr4, &out->cidr6, &used) < 0)
				return -1;
			rl -= used;
		}
		if (out->mech == M_IP4 || out->mech == M_IP6) {
			if (rl < 2 || rest[0] != ':')
				return -1;
			out->arg = rest + 1;
			out->arg_len = rl - 1;
			return 0;
		}
		if (rl > 0) {
			if (rest[0] != ':' || rl == 1 || out->mech == M_ALL)
				return -1;
			out->arg = rest + 1;
			out->arg_len = rl - 1;
		} else if (out->mech == M_INCLUDE || out->mech == M_EXISTS) {
			return -1;
		}
		if (out->cidr4 > 32 || out->cidr6 > 128)
			return -1;
		return 0;
	}
	return -1;
}

/* ---------- matching ---------- */

static bool cidr_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/* Looks the client's address family up at name; 1 match, 0 none,
 * -1 temperror; counts void answers when count_void. */
static int addr_match(struct spf_ctx *c, const char *name, int c4, int c6, bool count_void)
{
	struct dns_answer *a = NULL;
	enum dns_result r = dns_lookup(name, c->v6 ? DNS_T_AAAA : DNS_T_A, &a);
	int bits = c->v6 ? (c6 < 0 ? 128 : c6) : (c4 < 0 ? 32 : c4), m = 0;

	if (r == DNS_TEMPFAIL) {
		dns_answer_free(&a);
		return -1;
	}
	if (r != DNS_OK) {
		if (count_void)
			c->voids++;
		dns_answer_free(&a);
		return c->voids > LIMIT_SPF_VOID_LOOKUPS ? -2 : 0;
	}
	for (size_t i = 0; i < a->n && !m; i++) {
		const unsigned char *rr = c->v6 ? (const unsigned char *)&a->rr[i].u.aaaa
						: (const unsigned char *)&a->rr[i].u.a;
		m = cidr_match(c->ip, rr, bits);
	}
	dns_answer_free(&a);
	return m;
}

static enum spf_result check_host(struct spf_ctx *c, const char *domain, int depth);

static bool domain_ok(const char *d)
{
	size_t n = strlen(d), label = 0;

	if (n == 0 || n > 253 || strchr(d, '.') == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
		} else {
			label++;
		}
	}
	return label > 0 && label <= 63;
}

/* Runs one mechanism: 1 match, 0 none, or a result (negated) to return. */
static int mech_match(struct spf_ctx *c, const struct spf_term *t, const char *domain, int depth,
		      enum spf_result *res)
{
	char target[256], addr[64];
	unsigned char net[16];
	uint64_t bits;

	if (t->mech == M_ALL)
		return 1;
	if (t->mech == M_IP4 || t->mech == M_IP6) {
		const char *slash = memchr(t->arg, '/', t->arg_len);
		size_t al = slash != NULL ? (size_t)(slash - t->arg) : t->arg_len;
		bool six = t->mech == M_IP6;
		if (al >= sizeof(addr))
			goto perm;
		memcpy(addr, t->arg, al);
		addr[al] = '\0';
		if (inet_pton(six ? AF_INET6 : AF_INET, addr, net) != 1)
			goto perm;
		bits = six ? 128 : 32;
		if (slash != NULL && strnum_u64(slash + 1, t->arg_len - al - 1, six ? 128 : 32,
						&bits) < 0)
			goto perm;
		if (six != c->v6)
			return 0;
		return cidr_match(c->ip, net, (int)bits);
	}
	/* DNS terms */
	if (++c->dns_terms > LIMIT_SPF_DNS_MECHANISMS) {
		*res = why(c, SPF_PERMERROR, "too many DNS lookups");
		return -1;
	}
	if (t->arg != NULL) {
		if (macro_expand(c, t->arg, t->arg_len, domain, target, sizeof(target)) < 0)
			goto perm;
	} else {
		str_lcpy(target, domain, sizeof(target));
	}
	switch (t->mech) {
	case M_INCLUDE: {
		enum spf_result r = check_host(c, target, depth + 1);
		if (r == SPF_PASS)
			return 1;
		if (r == SPF_TEMPERROR || r == SPF_PERMERROR || r == SPF_NONE) {
			*res = r == SPF_TEMPERROR ? SPF_TEMPERROR : why(c, SPF_PERMERROR,
									 "include without a record");
			return -1;
		}
		return 0;
	}
	case M_A: {
		int m = addr_match(c, target, t->cidr4, t->cidr6, true);
		if (m == -2)
			goto voids;
		if (m < 0)
			goto temp;
		return m;
	}
	case M_EXISTS: {
		struct dns_answer *a = NULL;
		enum dns_result r = dns_lookup(target, DNS_T_A, &a);
		dns_answer_free(&a);
		if (r == DNS_TEMPFAIL)
			goto temp;
		if (r == DNS_OK)
			return 1;
		if (++c->voids > LIMIT_SPF_VOID_LOOKUPS)
			goto voids;
		return 0;
	}
	case M_MX: {
		struct dns_answer *a = NULL;
		enum dns_result r = dns_lookup(target, DNS_T_MX, &a);
		int m = 0;
		if (r == DNS_TEMPFAIL) {
			dns_answer_free(&a);
			goto temp;
		}
		if (r != DNS_OK) {
			dns_answer_free(&a);
			if (++c->voids > LIMIT_SPF_VOID_LOOKUPS)
				goto voids;
			return 0;
		}
		if (a->n > LIMIT_SPF_MX_NAMES) {
			dns_answer_free(&a);
			goto perm;
		}
		for (size_t i = 0; i < a->n && m == 0; i++)
			if (a->rr[i].u.mx.host[0] != '\0')
				m = addr_match(c, a->rr[i].u.mx.host, t->cidr4, t->cidr6, false);
		dns_answer_free(&a);
		if (m < 0)
			goto temp;
		return m;
	}
	case M_PTR: {
		/* 5.5: validated names of the client that are target or under it */
		char rev[80];
		struct dns_answer *a = NULL;
		int m = 0;
		if (c->v6) {
			char *o = rev;
			for (int k = 15; k >= 0; k--) {
				static const char hex[] = "0123456789abcdef";
				*o++ = hex[c->ip[k] & 15];
				*o++ = '.';
				*o++ = hex[c->ip[k] >> 4];
				*o++ = '.';
			}
			str_lcpy(o, "ip6.arpa", sizeof(rev) - (size_t)(o - rev));
		} else if (str_fmt(rev, sizeof(rev), "%u.%u.%u.%u.in-addr.arpa", c->ip[3], c->ip[2],
				   c->ip[1], c->ip[0]) < 0) {
			goto perm;
		}
		if (dns_lookup(rev, DNS_T_PTR, &a) != DNS_OK) {
			dns_answer_free(&a);
			return 0;	/* 5.5: a failed PTR lookup is no match */
		}
		for (size_t i = 0; i < a->n && i < LIMIT_SPF_MX_NAMES && m <= 0; i++) {
			const char *name = a->rr[i].u.name;
			size_t nl = strlen(name), tl = strlen(target);
			bool under = str_caseeq(name, target) ||
				     (nl > tl && name[nl - tl - 1] == '.' &&
				      str_caseeq(name + nl - tl, target));
			if (under)
				m = addr_match(c, name, -1, -1, false) > 0;
		}
		dns_answer_free(&a);
		return m > 0;
	}
	default:
		return 0;
	}
perm:
	*res = why(c, SPF_PERMERROR, "syntax error in a mechanism");
	return -1;
temp:
	*res = why(c, SPF_TEMPERROR, "DNS lookup failed");
	return -1;
voids:
	*res = why(c, SPF_PERMERROR, "too many void DNS lookups");
	return -1;
}

static enum spf_result qual_result(char q)
{
	switch (q) {
	case '-':
		return SPF_FAIL;
	case '~':
		return SPF_SOFTFAIL;
	case '?':
		return SPF_NEUTRAL;
	default:
		return SPF_PASS;
	}
}

static enum spf_result check_host(struct spf_ctx *c, const char *domain, int depth)
{
	struct dns_answer *a = NULL;
	enum dns_result r;
	char *rec = NULL;
	struct spf_term terms[SPF_MAX_TERMS];
	size_t nt = 0;
	const struct spf_term *redirect = NULL;
	enum spf_result res = SPF_NEUTRAL;
	int found = 0;

	if (depth > SPF_MAX_DEPTH)
		return why(c, SPF_PERMERROR, "include loop");
	if (!domain_ok(domain))
		return SPF_NONE;
	r = dns_lookup(domain, DNS_T_TXT, &a);
	if (r == DNS_TEMPFAIL) {
		dns_answer_free(&a);
		return why(c, SPF_TEMPERROR, "DNS lookup of the record failed");
	}
	if (r == DNS_OK) {
		for (size_t i = 0; i < a->n; i++) {
			const char *t = a->rr[i].u.txt.text;
			size_t tl = a->rr[i].u.txt.len;
			if (tl < 6 || strncasecmp(t, "v=spf1", 6) != 0 || (tl > 6 && t[6] != ' '))
				continue;
			if (++found == 1)
				rec = xstrndup(t, tl);
		}
	}
	dns_answer_free(&a);
	if (found == 0) {
		free(rec);
		return SPF_NONE;
	}
	if (found > 1 || strlen(rec) > LIMIT_SPF_RECORD) {
		free(rec);
		return why(c, SPF_PERMERROR, found > 1 ? "several SPF records" : "record too long");
	}
	/* parse every term first */
	for (char *save = NULL, *t = strtok_r(rec + 6, " ", &save); t != NULL;
	     t = strtok_r(NULL, " ", &save)) {
		if (nt == SPF_MAX_TERMS || parse_term(t, strlen(t), &terms[nt]) < 0) {
			free(rec);
			return why(c, SPF_PERMERROR, "syntax error in the record");
		}
		if (terms[nt].mech == M_REDIRECT) {
			if (redirect != NULL) {
				free(rec);
				return why(c, SPF_PERMERROR, "two redirect modifiers");
			}
			redirect = &terms[nt];
		}
		nt++;
	}
	for (size_t i = 0; i < nt; i++) {
		int m;
		if (terms[i].mech >= M_REDIRECT)
			continue;
		m = mech_match(c, &terms[i], domain, depth, &res);
		if (m < 0) {
			free(rec);
			return res;
		}
		if (m > 0) {
			res = qual_result(terms[i].qual);
			free(rec);
			return res;
		}
	}
	if (redirect != NULL) {
		char target[256];
		if (++c->dns_terms > LIMIT_SPF_DNS_MECHANISMS) {
			free(rec);
			return why(c, SPF_PERMERROR, "too many DNS lookups");
		}
		if (macro_expand(c, redirect->arg, redirect->arg_len, domain, target,
				 sizeof(target)) < 0) {
			free(rec);
			return why(c, SPF_PERMERROR, "syntax error in redirect");
		}
		free(rec);
		res = check_host(c, target, depth + 1);
		return res == SPF_NONE ? why(c, SPF_PERMERROR, "redirect without a record") : res;
	}
	free(rec);
	return SPF_NEUTRAL;
}

enum spf_result spf_check(const char *ip, const char *helo, const char *sender,
			  struct spf_outcome *out)
{
	struct spf_ctx c;
	const char *at, *p = ip;
	struct in6_addr a6;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	if (strncmp(p, "::ffff:", 7) == 0 && strchr(p + 7, '.') != NULL)
		p += 7;
	if (inet_pton(AF_INET, p, c.ip) == 1) {
		c.v6 = false;
	} else if (inet_pton(AF_INET6, p, &a6) == 1) {
		c.v6 = true;
		memcpy(c.ip, &a6, 16);
	} else {
		out->result = SPF_NONE;
		str_lcpy(out->why, "client address unknown", sizeof(out->why));
		return SPF_NONE;
	}
	str_lcpy(c.ip_text, p, sizeof(c.ip_text));
	c.helo = helo != NULL ? helo : "";
	/* 4.3: the null reverse-path checks postmaster@helo */
	if (sender == NULL || *sender == '\0') {
		(void)str_fmt(c.sender, sizeof(c.sender), "postmaster@%s", c.helo);
		str_lcpy(out->identity, "helo", sizeof(out->identity));
	} else {
		str_lcpy(c.sender, sender, sizeof(c.sender));
		str_lcpy(out->identity, "mailfrom", sizeof(out->identity));
	}
	at = strrchr(c.sender, '@');
	if (at == NULL || at == c.sender) {
		str_lcpy(c.local, "postmaster", sizeof(c.local));
		str_lcpy(c.sender_domain, at != NULL ? at + 1 : c.sender, sizeof(c.sender_domain));
	} else {
		size_t ll = (size_t)(at - c.sender);
		if (ll >= sizeof(c.local))
			ll = sizeof(c.local) - 1;
		memcpy(c.local, c.sender, ll);
		c.local[ll] = '\0';
		str_lcpy(c.sender_domain, at + 1, sizeof(c.sender_domain));
	}
	str_lower(c.sender_domain);
	str_lcpy(out->domain, c.sender_domain, sizeof(out->domain));
	out->result = check_host(&c, c.sender_domain, 0);
	str_lcpy(out->why, c.why, sizeof(out->why));
	return out->result;
}
