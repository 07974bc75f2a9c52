/* dmarc.h - DMARC (RFC 7489) evaluation: the policy record of the From:
 * domain or of its organizational domain (libpsl), identifier alignment
 * (3.1, adkim/aspf) of the SPF and DKIM results, p=/sp=/pct=. Blocking
 * (DNS through core/dns): worker threads only. */
#ifndef POSTERN_MAIL_DMARC_H
#define POSTERN_MAIL_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "mail/dkim.h"
#include "mail/spf.h"

enum dmarc_result { DMARC_NONE = 0, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };
enum dmarc_policy { DMARC_P_NONE = 0, DMARC_P_QUARANTINE, DMARC_P_REJECT };

struct dmarc_outcome {
	enum dmarc_result result;
	enum dmarc_policy policy;	/* the p= (or sp=) that applies */
	enum dmarc_policy disposition;	/* after pct=: what the receiver should do */
	char from_domain[254];
};

/* from_domain: the RFC5322.From domain (lower case). */
enum dmarc_result dmarc_check(const char *from_domain, const struct spf_outcome *spf,
			      const struct dkim_sig_result *dkim, size_t n_dkim,
			      struct dmarc_outcome *out);
/* The organizational domain of name into out (libpsl); 0 or -1. */
int dmarc_org_domain(const char *name, char *out, size_t outsize);
const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_policy_name(enum dmarc_policy p);

#endif
