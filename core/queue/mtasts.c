/* mtasts.c - SMTP MTA Strict Transport Security (RFC 8461) for the queue
 * runners: the _mta-sts TXT record (3.1), the policy fetched with libcurl
 * from https://mta-sts.<domain>/.well-known/mta-sts.txt (3.3: certificate
 * checked, no redirects, at most LIMIT_MTASTS_POLICY octets, within
 * LIMIT_MTASTS_FETCH_MS), cached in mta_sts_policies for max_age (3.2, at
 * most LIMIT_MTASTS_MAX_AGE_S) and refreshed when the TXT id changes (5.1).
 * The policy host's address comes from core/dns (CURLOPT_RESOLVE), so the
 * fetch uses the same resolver as MX lookups. */
#include "queue/queue_private.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "db/db.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/strnum.h"

static int mtasts_port = 443;
static const char *mtasts_ca;

int mtasts_init(const struct queue_settings *cfg)
{
	mtasts_port = cfg->mta_sts_port > 0 ? cfg->mta_sts_port : 443;
	mtasts_ca = cfg->ca_file;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void mtasts_shutdown(void)
{
	curl_global_cleanup();
}

static const char *mtasts_mode_name(enum mtasts_mode m)
{
	return m == MTASTS_ENFORCE ? "enforce" : m == MTASTS_TESTING ? "testing" : "none";
}

static enum mtasts_mode mtasts_mode_parse(const char *s, size_t n, bool *ok)
{
	*ok = true;
	if (n == 7 && memcmp(s, "enforce", 7) == 0)
		return MTASTS_ENFORCE;
	if (n == 7 && memcmp(s, "testing", 7) == 0)
		return MTASTS_TESTING;
	if (n == 4 && memcmp(s, "none", 4) == 0)
		return MTASTS_NONE;
	*ok = false;
	return MTASTS_NONE;
}

int mtasts_parse(const char *text, size_t len, struct mtasts_policy *p)
{
	bool version = false, mode = false, age = false;
	size_t i = 0;

	p->n_mx = 0;
	p->mode = MTASTS_NONE;
	while (i < len) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		size_t le = e > i && text[e - 1] == '\r' ? e - 1 : e;
		const char *k = text + i, *colon = memchr(k, ':', le - i);
		if (colon != NULL) {
			size_t kl = (size_t)(colon - k);
			const char *v = colon + 1;
			while (v < text + le && (*v == ' ' || *v == '\t'))
				v++;
			size_t vl = (size_t)(text + le - v);
			while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (kl == 7 && memcmp(k, "version", 7) == 0) {
				version = vl == 5 && memcmp(v, "STSv1", 5) == 0;
				if (!version)
					return -1;
			} else if (kl == 4 && memcmp(k, "mode", 4) == 0) {
				p->mode = mtasts_mode_parse(v, vl, &mode);
				if (!mode)
					return -1;
			} else if (kl == 7 && memcmp(k, "max_age", 7) == 0) {
				uint64_t a;
				if (vl == 0 || vl > 10 || strnum_u64(v, vl, 9999999999ULL, &a) < 0)
					return -1;
				p->max_age = a > LIMIT_MTASTS_MAX_AGE_S ? LIMIT_MTASTS_MAX_AGE_S : (long)a;
				age = true;
			} else if (kl == 2 && memcmp(k, "mx", 2) == 0 && p->n_mx < LIMIT_MTASTS_MX &&
				   vl > 0 && vl <= DNS_NAME_MAX) {
				memcpy(p->mx[p->n_mx], v, vl);
				p->mx[p->n_mx][vl] = '\0';
				str_lower(p->mx[p->n_mx]);
				p->n_mx++;
			}	/* unknown keys are ignored (3.2) */
		}
		i = e + 1;
	}
	if (!version || !mode || !age || (p->mode != MTASTS_NONE && p->n_mx == 0))
		return -1;
	return 0;
}

bool mtasts_mx_match(const struct mtasts_policy *p, const char *host)
{
	char h[DNS_NAME_MAX + 1];
	size_t hl = str_lcpy(h, host, sizeof(h));

	if (hl >= sizeof(h))
		return false;
	if (hl > 0 && h[hl - 1] == '.')
		h[--hl] = '\0';
	str_lower(h);
	for (size_t i = 0; i < p->n_mx; i++) {
		const char *pat = p->mx[i];
		if (pat[0] == '*' && pat[1] == '.') {
			/* the wildcard covers exactly one leftmost label (4.1) */
			const char *dot = strchr(h, '.');
			if (dot != NULL && dot != h && strcmp(dot + 1, pat + 2) == 0)
				return true;
		} else if (strcmp(pat, h) == 0) {
			return true;
		}
	}
	return false;
}

/* The id of the single "v=STSv1" TXT record; 1 found, 0 none, -1 lookup failed. */
static int mtasts_txt(const char *domain, char *id, size_t idsize)
{
	char name[DNS_NAME_MAX + 1];
	struct dns_answer *a = NULL;
	int found = 0;

	if (str_fmt(name, sizeof(name), "_mta-sts.%s", domain) < 0)
		return 0;
	enum dns_result r = dns_lookup(name, DNS_T_TXT, &a);
	for (size_t i = 0; r == DNS_OK && i < a->n; i++) {
		const char *t = a->rr[i].u.txt.text;
		if (strncmp(t, "v=STSv1", 7) != 0 || (t[7] != ';' && t[7] != ' ' && t[7] != '\0'))
			continue;
		if (found++ > 0)
			break;	/* several records: treated as none (3.1) */
		const char *p = strstr(t, "id=");
		size_t n = 0;
		if (p != NULL)
			for (p += 3; (p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'z') ||
				     (p[n] >= 'A' && p[n] <= 'Z'); n++)
				;
		if (p == NULL || n == 0 || n >= idsize)
			found = 2;	/* malformed: none */
		else {
			memcpy(id, p, n);
			id[n] = '\0';
		}
	}
	dns_answer_free(&a);
	if (r == DNS_TEMPFAIL)
		return -1;
	return found == 1 ? 1 : 0;
}

struct mtasts_body {
	char data[LIMIT_MTASTS_POLICY];
	size_t len;
	bool too_big;
};

static size_t mtasts_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct mtasts_body *b = arg;
	size_t n = size * nmemb;
	if (n > sizeof(b->data) - b->len) {
		b->too_big = true;
		return 0;	/* aborts the transfer */
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	return n;
}

/* Fetches and parses the policy of domain. 0 or -1 (logged). */
static int mtasts_fetch(const char *domain, struct mtasts_policy *p)
{
	char host[DNS_NAME_MAX + 1], url[DNS_NAME_MAX + 64], resolve[DNS_NAME_MAX + 80];
	char ip[INET_ADDRSTRLEN];
	struct dns_answer *a = NULL;
	struct curl_slist *rl = NULL;
	struct mtasts_body *body;
	long code = 0;
	int rc = -1;

	if (str_fmt(host, sizeof(host), "mta-sts.%s", domain) < 0)
		return -1;
	if (dns_lookup(host, DNS_T_A, &a) != DNS_OK ||
	    inet_ntop(AF_INET, &a->rr[0].u.a, ip, sizeof(ip)) == NULL) {
		/* XXX: IPv6-only policy hosts are not reached */
		log_info("queue", "MTA-STS %s: no address for %s", domain, host);
		dns_answer_free(&a);
		return -1;
	}
	dns_answer_free(&a);
	if (mtasts_port == 443)
		str_fmt(url, sizeof(url), "https://%s/.well-known/mta-sts.txt", host);
	else
		str_fmt(url, sizeof(url), "https://%s:%d/.well-known/mta-sts.txt", host, mtasts_port);
	str_fmt(resolve, sizeof(resolve), "%s:%d:%s", host, mtasts_port, ip);
	CURL *c = curl_easy_init();
	body = calloc(1, sizeof(*body));
	if (c == NULL || body == NULL)
		abort();
	rl = curl_slist_append(NULL, resolve);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, rl);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);	/* 3.3: no redirects */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)LIMIT_MTASTS_FETCH_MS);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (mtasts_ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, mtasts_ca);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mtasts_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	CURLcode cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (cr != CURLE_OK)
		log_info("queue", "MTA-STS %s: fetch failed: %s", domain,
			 body->too_big ? "policy too large" : curl_easy_strerror(cr));
	else if (code != 200)
		log_info("queue", "MTA-STS %s: HTTP status %ld", domain, code);
	else if (mtasts_parse(body->data, body->len, p) < 0)
		log_info("queue", "MTA-STS %s: invalid policy", domain);
	else
		rc = 0;
	curl_slist_free_all(rl);
	curl_easy_cleanup(c);
	free(body);
	return rc;
}

/* The cached policy; *fresh_r true while within max_age. 0 found, -1 none. */
static int mtasts_cached(struct db *db, const char *domain, struct mtasts_policy *p, bool *fresh_r)
{
	enum db_status st;
	const char *par[1] = { domain };
	int rc = -1;
	PGresult *res = db_exec(db, STMT_MTASTS_GET, 1, par, NULL, NULL, &st);

	if (st == DB_OK && PQntuples(res) == 1) {
		bool ok;
		const char *mx = PQgetvalue(res, 0, 2);
		str_lcpy(p->id, PQgetvalue(res, 0, 0), sizeof(p->id));
		const char *m = PQgetvalue(res, 0, 1);
		p->mode = mtasts_mode_parse(m, strlen(m), &ok);
		p->max_age = strtol(PQgetvalue(res, 0, 3), NULL, 10);
		*fresh_r = PQgetvalue(res, 0, 4)[0] == 't';
		p->n_mx = 0;
		while (*mx != '\0' && p->n_mx < LIMIT_MTASTS_MX) {
			size_t n = strcspn(mx, " ");
			if (n > 0 && n <= DNS_NAME_MAX) {
				memcpy(p->mx[p->n_mx], mx, n);
				p->mx[p->n_mx++][n] = '\0';
			}
			mx += n;
			mx += strspn(mx, " ");
		}
		rc = ok ? 0 : -1;
	}
	PQclear(res);
	return rc;
}

static void mtasts_store(struct db *db, const char *domain, const struct mtasts_policy *p)
{
	char mx[LIMIT_MTASTS_MX * (DNS_NAME_MAX + 1) + 1] = "", age[24];
	size_t o = 0;
	enum db_status st;

	for (size_t i = 0; i < p->n_mx; i++) {
		size_t n = strlen(p->mx[i]);
		if (o > 0)
			mx[o++] = ' ';
		memcpy(mx + o, p->mx[i], n);
		o += n;
		mx[o] = '\0';
	}
	str_fmt(age, sizeof(age), "%ld", p->max_age);
	const char *par[5] = { domain, p->id, mtasts_mode_name(p->mode), mx, age };
	PQclear(db_exec(db, STMT_MTASTS_PUT, 5, par, NULL, NULL, &st));
	if (st != DB_OK)
		log_warn("queue", "MTA-STS %s: policy not cached: %s", domain, db_error(db));
}

void mtasts_get(struct db *db, const char *domain, struct mtasts_policy *p)
{
	struct mtasts_policy cached;
	bool fresh = false, have = mtasts_cached(db, domain, &cached, &fresh) == 0;
	char id[sizeof(p->id)];
	int txt = mtasts_txt(domain, id, sizeof(id));

	memset(p, 0, sizeof(*p));
	if (txt <= 0 || (have && fresh && strcmp(id, cached.id) == 0)) {
		if (have && fresh)
			*p = cached;	/* 5.1: a valid cached policy outlives its TXT */
		return;
	}
	if (mtasts_fetch(domain, p) == 0) {
		str_lcpy(p->id, id, sizeof(p->id));
		mtasts_store(db, domain, p);
		log_info("queue", "MTA-STS %s: policy %s, mode %s, %zu mx pattern(s)", domain, id,
			 mtasts_mode_name(p->mode), p->n_mx);
		return;
	}
	memset(p, 0, sizeof(*p));
	if (have && fresh)
		*p = cached;
}
