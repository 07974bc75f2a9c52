/* authcheck.h - which inbound messages get SPF/DKIM/DMARC checks (the MX
 * listener, clients outside POSTERN_TRUSTED_NETWORKS) and the settings of
 * those checks (POSTERN_DMARC_REJECT). Loop thread. */
#ifndef POSTERN_SMTP_AUTHCHECK_H
#define POSTERN_SMTP_AUTHCHECK_H

#include <stdbool.h>
#include <stddef.h>

struct smtp_session;

/* True when the message of this session is checked: MX role, not
 * authenticated, client address outside the trusted networks. */
bool smtp_authcheck_wanted(const struct smtp_session *s);
/* POSTERN_DMARC_REJECT=1: a DMARC failure whose disposition is reject is
 * refused at the end of DATA with 550 5.7.1. */
bool smtp_authcheck_dmarc_reject(void);
/* True when ip (text) is in the list of networks (tests). */
bool smtp_authcheck_trusted(const char *ip);

#endif
