/* dns.c - blocking, thread-safe lookups on one shared libunbound context.
 * ub_resolve() lets the calling thread do the work on the shared cache, so
 * queue runners and checkers resolve in parallel without a thread of ours.
 * The context sits behind a rwlock only so that validation can be dropped
 * (context replaced) when the upstream resolver turns out to strip DNSSEC:
 * the first lookup on a validating context asks for the root's NS set and a
 * bogus answer there means every answer would be bogus. */
#include "dns/dns.h"

#include <idn2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#include "config/limits.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

#define DNS_ROOT_KEY "/usr/share/dns/root.key"
#define DNS_RCODE_NXDOMAIN 3
#define DNS_TYPE_NS 2

static pthread_rwlock_t dns_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t dns_probe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ub_ctx *dns_ctx;
static char *dns_server;
static bool dns_validate;
static bool dns_probed;
static time_t dns_probe_next;

static struct ub_ctx *dns_ctx_new(bool validate, const char *anchor, const char **error_r)
{
	struct ub_ctx *c = ub_ctx_create();
	int rc;

	if (c == NULL) {
		*error_r = "libunbound: cannot create a context";
		return NULL;
	}
	/* resolv.conf often names 127.0.0.x (Docker, systemd-resolved) */
	(void)ub_ctx_set_option(c, "do-not-query-localhost:", "no");
	(void)ub_ctx_set_option(c, "edns-buffer-size:", "1232");
	if (dns_server != NULL) {
		/* unbound answers test., invalid. ... (RFC 6761) itself unless told;
		 * a configured server is asked for them too (tests use .test) */
		static const char *const special[] = { "test. transparent", "invalid. transparent",
						       "example. transparent", "local. transparent" };
		for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
			(void)ub_ctx_set_option(c, "local-zone:", special[i]);
		rc = ub_ctx_set_fwd(c, dns_server);
		if (rc != 0) {
			*error_r = "POSTERN_DNS_SERVER: not an address[@port]";
			ub_ctx_delete(c);
			return NULL;
		}
	} else if (ub_ctx_resolvconf(c, NULL) != 0) {
		log_warn("dns", "cannot read /etc/resolv.conf, resolving from the root servers");
	}
	if (validate && ub_ctx_add_ta_file(c, anchor) != 0) {
		*error_r = "POSTERN_DNS_TRUST_ANCHOR: cannot read the trust anchor file";
		ub_ctx_delete(c);
		return NULL;
	}
	return c;
}

int dns_init(const char *server, const char *anchor, const char **error_r)
{
	const char *ta = anchor;

	if (ta == NULL && server == NULL && access(DNS_ROOT_KEY, R_OK) == 0)
		ta = DNS_ROOT_KEY;
	dns_server = server != NULL ? xstrdup(server) : NULL;
	dns_validate = ta != NULL;
	dns_ctx = dns_ctx_new(dns_validate, ta, error_r);
	if (dns_ctx == NULL) {
		xfree(dns_server);
		dns_server = NULL;
		return -1;
	}
	dns_probed = !dns_validate;
	return 0;
}

void dns_shutdown(void)
{
	pthread_rwlock_wrlock(&dns_lock);
	if (dns_ctx != NULL)
		ub_ctx_delete(dns_ctx);
	dns_ctx = NULL;
	pthread_rwlock_unlock(&dns_lock);
	xfree(dns_server);
	dns_server = NULL;
}

bool dns_validating(void)
{
	return dns_validate;
}

/* Asks for ". NS" once on a validating context; a bogus root means the path
 * to the upstream strips signatures, so validation is dropped for good. A
 * failed probe (no network yet) is retried a minute later. */
static void dns_probe(void)
{
	struct ub_result *res = NULL;
	const char *err = NULL;
	bool bogus = false;

	pthread_mutex_lock(&dns_probe_lock);
	if (dns_probed || time(NULL) < dns_probe_next) {
		pthread_mutex_unlock(&dns_probe_lock);
		return;
	}
	pthread_rwlock_rdlock(&dns_lock);
	int rc = dns_ctx != NULL ? ub_resolve(dns_ctx, ".", DNS_TYPE_NS, 1, &res) : -1;
	pthread_rwlock_unlock(&dns_lock);
	if (rc == 0 && res != NULL && res->bogus)
		bogus = true;
	else if (rc == 0 && res != NULL && res->secure)
		dns_probed = true;
	else
		dns_probe_next = time(NULL) + 60;
	if (res != NULL)
		ub_resolve_free(res);
	if (bogus) {
		struct ub_ctx *c = dns_ctx_new(false, NULL, &err);
		if (c != NULL) {
			pthread_rwlock_wrlock(&dns_lock);
			ub_ctx_delete(dns_ctx);
			dns_ctx = c;
			dns_validate = false;
			pthread_rwlock_unlock(&dns_lock);
			log_warn("dns", "the resolver does not pass DNSSEC; answers are not validated");
		}
		dns_probed = true;
	}
	pthread_mutex_unlock(&dns_probe_lock);
}

int dns_name_from_wire(const unsigned char *p, size_t len, char *out, size_t outsize)
{
	size_t i = 0, o = 0;

	if (outsize == 0)
		return -1;
	for (;;) {
		if (i >= len)
			return -1;
		unsigned lab = p[i++];
		if (lab == 0)
			break;
		if (lab > 63 || lab > len - i)
			return -1;	/* compression pointers never appear in rdata here */
		if (o > 0) {
			if (o + 1 >= outsize)
				return -1;
			out[o++] = '.';
		}
		for (unsigned k = 0; k < lab; k++) {
			unsigned char c = p[i++];
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			bool plain = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
				     c == '_';
			size_t need = plain ? 1 : 4;
			if (o + need >= outsize)
				return -1;
			if (plain) {
				out[o++] = (char)c;
			} else {
				out[o++] = '\\';
				out[o++] = (char)('0' + c / 100);
				out[o++] = (char)('0' + c / 10 % 10);
				out[o++] = (char)('0' + c % 10);
			}
		}
	}
	if (o > DNS_NAME_MAX)
		return -1;
	out[o] = '\0';
	return (int)i;
}

/* One rdata into rr; -1 when malformed (the record is skipped). */
static int dns_parse_rr(enum dns_type type, const unsigned char *d, size_t len, struct dns_rr *rr)
{
	memset(rr, 0, sizeof(*rr));
	switch (type) {
	case DNS_T_A:
		if (len != 4)
			return -1;
		memcpy(&rr->u.a, d, 4);
		return 0;
	case DNS_T_AAAA:
		if (len != 16)
			return -1;
		memcpy(&rr->u.aaaa, d, 16);
		return 0;
	case DNS_T_MX:
		if (len < 3)
			return -1;
		rr->u.mx.pref = (uint16_t)(d[0] << 8 | d[1]);
		return dns_name_from_wire(d + 2, len - 2, rr->u.mx.host, sizeof(rr->u.mx.host)) < 0
			       ? -1
			       : 0;
	case DNS_T_PTR:
	case DNS_T_CNAME:
		return dns_name_from_wire(d, len, rr->u.name, sizeof(rr->u.name)) < 0 ? -1 : 0;
	case DNS_T_TXT: {
		size_t total = 0;
		for (size_t i = 0; i < len; i += 1 + d[i]) {
			if (d[i] > len - i - 1)
				return -1;
			total += d[i];
		}
		if (total > LIMIT_DNS_TXT)
			return -1;
		char *t = xmalloc(total + 1);
		size_t o = 0;
		for (size_t i = 0; i < len; i += 1 + d[i]) {
			memcpy(t + o, d + i + 1, d[i]);
			o += d[i];
		}
		t[o] = '\0';
		rr->u.txt.text = t;
		rr->u.txt.len = o;
		return 0;
	}
	case DNS_T_TLSA:
		if (len < 4 || len - 3 > LIMIT_DNS_TXT)
			return -1;
		rr->u.tlsa.usage = d[0];
		rr->u.tlsa.selector = d[1];
		rr->u.tlsa.mtype = d[2];
		rr->u.tlsa.len = len - 3;
		rr->u.tlsa.data = xmalloc(len - 3);
		memcpy(rr->u.tlsa.data, d + 3, len - 3);
		return 0;
	}
	return -1;
}

static int dns_mx_cmp(const void *a, const void *b)
{
	const struct dns_rr *x = a, *y = b;

	if (x->u.mx.pref != y->u.mx.pref)
		return x->u.mx.pref < y->u.mx.pref ? -1 : 1;
	return strcmp(x->u.mx.host, y->u.mx.host);
}

/* name as an A-label name without the final dot in out; false when it
 * cannot be one. */
static bool dns_qname(const char *name, char *out, size_t outsize)
{
	bool ascii = true;
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] >= 0x80)
			ascii = false;
	if (ascii) {
		memcpy(out, name, n);
		out[n] = '\0';
		return true;
	}
	char u[DNS_NAME_MAX + 1];
	char *a = NULL;
	memcpy(u, name, n);
	u[n] = '\0';
	if (idn2_to_ascii_8z(u, &a, IDN2_NONTRANSITIONAL) != IDN2_OK)
		return false;
	bool ok = str_lcpy(out, a, outsize) < outsize && strlen(a) <= DNS_NAME_MAX;
	idn2_free(a);
	return ok;
}

enum dns_result dns_lookup(const char *name, enum dns_type type, struct dns_answer **answer_r)
{
	struct dns_answer *a = xcalloc(1, sizeof(*a));
	struct ub_result *res = NULL;
	char q[DNS_NAME_MAX + 1];

	*answer_r = a;
	a->type = type;
	a->sec = DNS_SEC_INSECURE;
	if (!dns_qname(name, q, sizeof(q))) {
		str_lcpy(a->why, "not a valid domain name", sizeof(a->why));
		return a->result = DNS_PERMFAIL;
	}
	if (!dns_probed)
		dns_probe();

	pthread_rwlock_rdlock(&dns_lock);
	int rc = dns_ctx != NULL ? ub_resolve(dns_ctx, q, (int)type, 1, &res) : UB_INITFAIL;
	pthread_rwlock_unlock(&dns_lock);
	if (rc != 0 || res == NULL) {
		str_lcpy(a->why, ub_strerror(rc), sizeof(a->why));
		return a->result = DNS_TEMPFAIL;
	}
	a->ttl = res->ttl > 0 ? (uint32_t)res->ttl : 0;
	if (res->canonname != NULL) {
		str_lcpy(a->canon, res->canonname, sizeof(a->canon));
		size_t cl = strlen(a->canon);
		if (cl > 0 && a->canon[cl - 1] == '.')
			a->canon[cl - 1] = '\0';
		str_lower(a->canon);
	} else {
		str_lcpy(a->canon, q, sizeof(a->canon));
		str_lower(a->canon);
	}
	if (res->bogus) {
		a->sec = DNS_SEC_BOGUS;
		str_lcpy(a->why, res->why_bogus != NULL ? res->why_bogus : "DNSSEC validation failed",
			 sizeof(a->why));
		a->result = DNS_TEMPFAIL;
	} else {
		if (res->secure)
			a->sec = DNS_SEC_SECURE;
		if (res->rcode == DNS_RCODE_NXDOMAIN || res->nxdomain) {
			a->result = DNS_NXDOMAIN;
		} else if (res->rcode != 0) {
			str_fmt(a->why, sizeof(a->why), "the DNS server answered rcode %d", res->rcode);
			a->result = DNS_TEMPFAIL;
		} else if (!res->havedata) {
			a->result = DNS_NODATA;
		} else {
			size_t cnt = 0;
			while (res->data[cnt] != NULL && cnt < LIMIT_DNS_RECORDS)
				cnt++;
			a->rr = xcalloc(cnt, sizeof(*a->rr));
			for (size_t i = 0; i < cnt; i++)
				if (dns_parse_rr(type, (const unsigned char *)res->data[i],
						 (size_t)res->len[i], &a->rr[a->n]) == 0)
					a->n++;
			if (a->n == 0) {
				str_lcpy(a->why, "malformed records", sizeof(a->why));
				a->result = DNS_TEMPFAIL;
			} else {
				if (type == DNS_T_MX)
					qsort(a->rr, a->n, sizeof(*a->rr), dns_mx_cmp);
				a->result = DNS_OK;
			}
		}
	}
	ub_resolve_free(res);
	return a->result;
}

void dns_answer_free(struct dns_answer **answer)
{
	struct dns_answer *a = *answer;

	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++) {
		if (a->type == DNS_T_TXT)
			xfree(a->rr[i].u.txt.text);
		else if (a->type == DNS_T_TLSA)
			xfree(a->rr[i].u.tlsa.data);
	}
	xfree(a->rr);
	xfree(a);
	*answer = NULL;
}
