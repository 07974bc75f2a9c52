/* dns.c - blocking, thread-safe lookups for threads other than the loop,
 * answered by libunbound's asynchronous API: each context runs its own
 * resolver thread (ub_ctx_async), one pump thread of ours calls
 * ub_process() when a context's fd is readable, and the callback wakes the
 * caller waiting on its condition variable. (A synchronous ub_resolve()
 * builds a whole resolver worker per call: about 1.5 ms each, even for a
 * cached answer.) With a trust anchor there are two contexts, validating
 * and plain: the first lookup asks for the root's NS set, and a bogus
 * answer there means the upstream strips DNSSEC, so lookups move to the
 * plain context for good. A lookup waits LIMIT_DNS_TIMEOUT_MS at most. */
#include "dns/dns.h"

#include <errno.h>
#include <fcntl.h>
#include <idn2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
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
#define DNS_CTX_VALIDATING 0
#define DNS_CTX_PLAIN 1

static pthread_mutex_t dns_probe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ub_ctx *dns_ub[2];	/* [DNS_CTX_VALIDATING] NULL without an anchor */
static atomic_int dns_cur = DNS_CTX_PLAIN;
static char *dns_server;
static atomic_bool dns_probed;
static time_t dns_probe_next;
static pthread_t dns_pump;
static bool dns_pump_running;
static int dns_stop_pipe[2] = { -1, -1 };

/* One caller waiting for one answer. */
struct dns_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
	struct ub_result *res;
};

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
	if (ub_ctx_async(c, 1) != 0) {
		*error_r = "libunbound: no threads";
		ub_ctx_delete(c);
		return NULL;
	}
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

/* The pump: delivers finished lookups of both contexts to their waiters. */
static void *dns_pump_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[3];
		struct ub_ctx *which[3];
		nfds_t n = 0;

		p[n].fd = dns_stop_pipe[0];
		p[n].events = POLLIN;
		which[n++] = NULL;
		for (int i = 0; i < 2; i++)
			if (dns_ub[i] != NULL) {
				p[n].fd = ub_fd(dns_ub[i]);
				p[n].events = POLLIN;
				which[n++] = dns_ub[i];
			}
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("dns", "poll: %s", strerror(errno));
			return NULL;
		}
		if (p[0].revents != 0)
			return NULL;
		for (nfds_t i = 1; i < n; i++)
			if (p[i].revents != 0)
				(void)ub_process(which[i]);
	}
}

int dns_init(const char *server, const char *anchor, const char **error_r)
{
	const char *ta = anchor;

	if (ta == NULL && server == NULL && access(DNS_ROOT_KEY, R_OK) == 0)
		ta = DNS_ROOT_KEY;
	dns_server = server != NULL ? xstrdup(server) : NULL;
	dns_ub[DNS_CTX_PLAIN] = dns_ctx_new(false, NULL, error_r);
	if (dns_ub[DNS_CTX_PLAIN] != NULL && ta != NULL) {
		dns_ub[DNS_CTX_VALIDATING] = dns_ctx_new(true, ta, error_r);
		if (dns_ub[DNS_CTX_VALIDATING] == NULL) {
			ub_ctx_delete(dns_ub[DNS_CTX_PLAIN]);
			dns_ub[DNS_CTX_PLAIN] = NULL;
		}
	}
	if (dns_ub[DNS_CTX_PLAIN] == NULL)
		goto fail;
	if (pipe2(dns_stop_pipe, O_CLOEXEC) < 0 ||
	    pthread_create(&dns_pump, NULL, dns_pump_main, NULL) != 0) {
		*error_r = "dns: cannot start the resolver thread";
		goto fail;
	}
	dns_pump_running = true;
	atomic_store(&dns_cur, ta != NULL ? DNS_CTX_VALIDATING : DNS_CTX_PLAIN);
	atomic_store(&dns_probed, ta == NULL);
	return 0;
fail:
	for (int i = 0; i < 2; i++)
		if (dns_ub[i] != NULL) {
			ub_ctx_delete(dns_ub[i]);
			dns_ub[i] = NULL;
		}
	for (int i = 0; i < 2; i++)
		if (dns_stop_pipe[i] >= 0) {
			close(dns_stop_pipe[i]);
			dns_stop_pipe[i] = -1;
		}
	xfree(dns_server);
	return -1;
}

void dns_shutdown(void)
{
	if (dns_pump_running) {
		if (write(dns_stop_pipe[1], "x", 1) != 1)
			log_warn("dns", "cannot stop the resolver thread: %s", strerror(errno));
		pthread_join(dns_pump, NULL);
		dns_pump_running = false;
	}
	for (int i = 0; i < 2; i++) {
		if (dns_ub[i] != NULL)
			ub_ctx_delete(dns_ub[i]);
		dns_ub[i] = NULL;
		if (dns_stop_pipe[i] >= 0)
			close(dns_stop_pipe[i]);
		dns_stop_pipe[i] = -1;
	}
	xfree(dns_server);
}

bool dns_validating(void)
{
	return atomic_load(&dns_cur) == DNS_CTX_VALIDATING;
}

static void dns_done(void *arg, int err, struct ub_result *res)
{
	struct dns_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->err = err;
	w->res = res;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* One lookup on context ub; 0 with *res_r, or a libunbound error. */
static int dns_resolve(struct ub_ctx *ub, const char *name, int type, struct ub_result **res_r)
{
	struct dns_wait w = { .done = false, .res = NULL };
	struct timespec until;
	int id = 0, rc;

	*res_r = NULL;
	if (ub == NULL || !dns_pump_running)
		return UB_INITFAIL;
	pthread_mutex_init(&w.lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = ub_resolve_async(ub, name, type, 1, &w, dns_done, &id);
	if (rc == 0) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += LIMIT_DNS_TIMEOUT_MS / 1000;
		until.tv_nsec += (long)(LIMIT_DNS_TIMEOUT_MS % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&w.lock);
		while (!w.done) {
			if (pthread_cond_timedwait(&w.cond, &w.lock, &until) != ETIMEDOUT)
				continue;
			pthread_mutex_unlock(&w.lock);
			/* cancelled: the callback will not run; else it runs or ran */
			if (ub_cancel(ub, id) == 0) {
				rc = UB_NOID;
				goto out;
			}
			pthread_mutex_lock(&w.lock);
			while (!w.done)
				pthread_cond_wait(&w.cond, &w.lock);
		}
		pthread_mutex_unlock(&w.lock);
		rc = w.err;
		*res_r = w.res;
	}
out:
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return rc;
}

/* Asks for ". NS" once on the validating context; a bogus root means the
 * path to the upstream strips signatures, so lookups move to the plain
 * context for good. A failed probe (no network yet) is retried a minute
 * later, validating meanwhile. */
static void dns_probe(void)
{
	struct ub_result *res = NULL;

	pthread_mutex_lock(&dns_probe_lock);
	if (atomic_load(&dns_probed) || time(NULL) < dns_probe_next) {
		pthread_mutex_unlock(&dns_probe_lock);
		return;
	}
	int rc = dns_resolve(dns_ub[DNS_CTX_VALIDATING], ".", DNS_TYPE_NS, &res);
	if (rc == 0 && res != NULL && res->bogus) {
		atomic_store(&dns_cur, DNS_CTX_PLAIN);
		atomic_store(&dns_probed, true);
		log_warn("dns", "the resolver does not pass DNSSEC; answers are not validated");
	} else if (rc == 0 && res != NULL && res->secure) {
		atomic_store(&dns_probed, true);
	} else {
		dns_probe_next = time(NULL) + 60;
	}
	if (res != NULL)
		ub_resolve_free(res);
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
	case DNS_T_SRV:
		if (len < 7)
			return -1;
		rr->u.srv.prio = (uint16_t)(d[0] << 8 | d[1]);
		rr->u.srv.weight = (uint16_t)(d[2] << 8 | d[3]);
		rr->u.srv.port = (uint16_t)(d[4] << 8 | d[5]);
		return dns_name_from_wire(d + 6, len - 6, rr->u.srv.target,
					  sizeof(rr->u.srv.target)) < 0 ? -1 : 0;
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
	if (!atomic_load(&dns_probed))
		dns_probe();

	int rc = dns_resolve(dns_ub[atomic_load(&dns_cur)], q, (int)type, &res);
	if (rc != 0 || res == NULL) {
		str_lcpy(a->why, rc == UB_NOID ? "timed out" : ub_strerror(rc), sizeof(a->why));
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
