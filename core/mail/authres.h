/* authres.h - inbound message authentication for the MX listener: SPF,
 * DKIM and DMARC verdicts combined into one Authentication-Results field
 * (RFC 8601), and removal of fields claiming to come from our own
 * authserv-id (8601 5: forged ones). Blocking DNS: worker threads only. */
#ifndef POSTERN_MAIL_AUTHRES_H
#define POSTERN_MAIL_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "config/limits.h"
#include "lib/buf.h"
#include "mail/dmarc.h"

struct authres_input {
	const char *ip;		/* client address */
	const char *helo;	/* HELO/EHLO name */
	const char *sender;	/* reverse-path, "" = null */
	const char *hostname;	/* our authserv-id */
};

struct authres_outcome {
	struct spf_outcome spf;
	struct dkim_sig_result dkim[LIMIT_DKIM_VERIFY_SIGS];
	size_t n_dkim;
	struct dmarc_outcome dmarc;
	bool have_from;
};

/* Evaluates msg; returns the malloc'd "Authentication-Results: ...\r\n"
 * field and fills *out. */
char *authres_check(const struct authres_input *in, const unsigned char *msg, size_t len,
		    struct authres_outcome *out);
/* Copies msg into out without the Authentication-Results fields whose
 * authserv-id is hostname; returns how many were removed (0: out is left
 * untouched), or -1 when out is full. */
int authres_strip(const unsigned char *msg, size_t len, const char *hostname, struct buf *out);

#endif
