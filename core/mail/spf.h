/* spf.h - SPF (RFC 7208) evaluation of our own over core/dns: check_host()
 * for the MAIL FROM identity (HELO when the reverse-path is null), with the
 * DNS limits of 4.6.4 (LIMIT_SPF_DNS_MECHANISMS, LIMIT_SPF_VOID_LOOKUPS,
 * LIMIT_SPF_MX_NAMES). Blocking: worker threads only. */
#ifndef POSTERN_MAIL_SPF_H
#define POSTERN_MAIL_SPF_H

#include <stddef.h>

enum spf_result {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

struct spf_outcome {
	enum spf_result result;
	char domain[254];	/* the domain checked (MAIL FROM's, or HELO's) */
	char identity[16];	/* "mailfrom" or "helo" */
	char why[128];
};

/* ip: the client's address as text (IPv4, IPv6, or IPv4-mapped IPv6);
 * helo: the HELO/EHLO name; sender: the reverse-path ("" = null). */
enum spf_result spf_check(const char *ip, const char *helo, const char *sender,
			  struct spf_outcome *out);
const char *spf_result_name(enum spf_result r);

#endif
