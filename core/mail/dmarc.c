/* dmarc.c - DMARC (RFC 7489 6.6): the record at _dmarc.<From domain>,
 * else at _dmarc.<organizational domain> (6.6.3; libpsl's registrable
 * domain), exactly one "v=DMARC1" record or none; a pass needs an SPF or
 * DKIM pass whose domain is aligned with the From: domain (3.1: strict =
 * equal, relaxed = same organizational domain). p= applies to the domain
 * itself, sp= (default p=) to its subdomains; pct= below 100 samples the
 * failures the policy applies to, the rest get the next milder one (6.6.4). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpsl.h>
#include <sodium.h>

#include "dns/dns.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "mail/dkim_private.h"
#include "mail/dmarc.h"

static pthread_once_t dmarc_psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *dmarc_psl;

static void psl_load(void)
{
	dmarc_psl = psl_latest(NULL);
	if (dmarc_psl == NULL)
		dmarc_psl = psl_builtin();
}

const char *dmarc_result_name(enum dmarc_result r)
{
	static const char *const names[] = { "none", "pass", "fail", "temperror", "permerror" };
	return (size_t)r < sizeof(names) / sizeof(names[0]) ? names[r] : "permerror";
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	static const char *const names[] = { "none", "quarantine", "reject" };
	return (size_t)p < sizeof(names) / sizeof(names[0]) ? names[p] : "none";
}

int dmarc_org_domain(const char *name, char *out, size_t outsize)
{
	const char *reg;

	pthread_once(&dmarc_psl_once, psl_load);
	reg = dmarc_psl != NULL ? psl_registrable_domain(dmarc_psl, name) : NULL;
	if (reg == NULL)
		reg = name;	/* a public suffix itself, or no list: the name */
	return str_lcpy(out, reg, outsize) < outsize ? 0 : -1;
}

static bool aligned(const char *a, const char *from, bool strict)
{
	char oa[254], of[254];

	if (a[0] == '\0')
		return false;
	if (strcasecmp(a, from) == 0)
		return true;
	if (strict)
		return false;
	return dmarc_org_domain(a, oa, sizeof(oa)) == 0 && dmarc_org_domain(from, of, sizeof(of)) == 0 &&
	       strcasecmp(oa, of) == 0;
}

/* 1 one record found (*rec_r malloc'd), 0 none, -1 temperror. */
static int fetch(const char *domain, char **rec_r)
{
	char name[300];
	struct dns_answer *a = NULL;
	enum dns_result r;
	int found = 0;

	*rec_r = NULL;
	if (str_fmt(name, sizeof(name), "_dmarc.%s", domain) < 0)
		return 0;
	r = dns_lookup(name, DNS_T_TXT, &a);
	if (r == DNS_TEMPFAIL) {
		dns_answer_free(&a);
		return -1;
	}
	for (size_t i = 0; r == DNS_OK && i < a->n; i++) {
		const char *t = a->rr[i].u.txt.text;
		size_t tl = a->rr[i].u.txt.len, k = 0;
		/* "v" *WSP "=" *WSP "DMARC1" as the first tag */
		if (tl < 8 || t[0] != 'v')
			continue;
		for (k = 1; k < tl && (t[k] == ' ' || t[k] == '\t'); k++)
			;
		if (k >= tl || t[k] != '=')
			continue;
		for (k++; k < tl && (t[k] == ' ' || t[k] == '\t'); k++)
			;
		if (tl - k < 6 || strncmp(t + k, "DMARC1", 6) != 0 ||
		    (tl - k > 6 && t[k + 6] != ';' && t[k + 6] != ' ' && t[k + 6] != '\t'))
			continue;
		if (++found == 1)
			*rec_r = xstrndup(t, tl);
	}
	dns_answer_free(&a);
	if (found > 1) {
		xfree(*rec_r);
		return 0;	/* 6.6.3: more than one record: no policy */
	}
	return found;
}

static int policy_of(const char *v, enum dmarc_policy *p)
{
	if (v == NULL)
		return -1;
	if (strcasecmp(v, "none") == 0)
		*p = DMARC_P_NONE;
	else if (strcasecmp(v, "quarantine") == 0)
		*p = DMARC_P_QUARANTINE;
	else if (strcasecmp(v, "reject") == 0)
		*p = DMARC_P_REJECT;
	else
		return -1;
	return 0;
}

enum dmarc_result dmarc_check(const char *from_domain, const struct spf_outcome *spf,
			      const struct dkim_sig_result *dkim, size_t n_dkim,
			      struct dmarc_outcome *out)
{
	char org[254], *rec = NULL;
	struct dkim_tags t;
	const char *v;
	bool at_org = false, strict_dkim = false, strict_spf = false, pass = false;
	uint64_t pct = 100;
	int f;

	memset(out, 0, sizeof(*out));
	str_lcpy(out->from_domain, from_domain, sizeof(out->from_domain));
	f = fetch(from_domain, &rec);
	if (f == 0 && dmarc_org_domain(from_domain, org, sizeof(org)) == 0 &&
	    strcasecmp(org, from_domain) != 0) {
		f = fetch(org, &rec);
		at_org = true;
	}
	if (f < 0)
		return out->result = DMARC_TEMPERROR;
	if (f == 0)
		return out->result = DMARC_NONE;
	if (dkim_tags_parse(rec, &t) < 0) {
		free(rec);
		return out->result = DMARC_PERMERROR;
	}
	/* 6.6.3: an invalid or missing p= is "none" when rua= is there,
	 * else the record is ignored */
	if (policy_of(dkim_tag(&t, "p"), &out->policy) < 0) {
		bool rua = dkim_tag(&t, "rua") != NULL;
		free(rec);
		if (!rua)
			return out->result = DMARC_NONE;
		out->policy = DMARC_P_NONE;
		rec = NULL;
		t.n = 0;
	}
	if (at_org && (v = dkim_tag(&t, "sp")) != NULL) {
		enum dmarc_policy sp;
		if (policy_of(v, &sp) == 0)
			out->policy = sp;
	}
	strict_dkim = (v = dkim_tag(&t, "adkim")) != NULL && strcasecmp(v, "s") == 0;
	strict_spf = (v = dkim_tag(&t, "aspf")) != NULL && strcasecmp(v, "s") == 0;
	if ((v = dkim_tag(&t, "pct")) != NULL && (strnum_parse(v, 100, &pct) < 0))
		pct = 100;
	free(rec);
	for (size_t i = 0; i < n_dkim && !pass; i++)
		pass = dkim[i].verdict == DKIM_PASS && aligned(dkim[i].domain, from_domain, strict_dkim);
	if (!pass && spf != NULL && spf->result == SPF_PASS && strcmp(spf->identity, "mailfrom") == 0)
		pass = aligned(spf->domain, from_domain, strict_spf);
	if (pass) {
		out->disposition = DMARC_P_NONE;
		return out->result = DMARC_PASS;
	}
	out->disposition = out->policy;
	if (pct < 100 && randombytes_uniform(100) >= pct && out->disposition != DMARC_P_NONE)
		out->disposition = out->disposition == DMARC_P_REJECT ? DMARC_P_QUARANTINE
								      : DMARC_P_NONE;
	return out->result = DMARC_FAIL;
}
