/* authcheck.c - the policy of the inbound checks (core/mail/authres.c):
 * only the MX listener checks, and not clients in the trusted networks
 * (POSTERN_TRUSTED_NETWORKS: CIDR blocks separated by spaces or commas,
 * default "127.0.0.0/8 ::1"; empty = check everyone), so local submission
 * by scripts and the delivery benchmark stay unaffected (config/trusted.h).
 * POSTERN_DMARC_REJECT is read from the environment once, on first use. */
#include <stdlib.h>
#include <string.h>

#include "config/trusted.h"
#include "lib/str.h"
#include "smtp/authcheck.h"
#include "smtp/session.h"

static bool authcheck_loaded;
static bool authcheck_reject;

bool smtp_authcheck_wanted(const struct smtp_session *s)
{
	return s->role == SMTP_ROLE_MX && !s->authed && !config_trusted_ip(conn_peer_addr(s->c));
}

bool smtp_authcheck_dmarc_reject(void)
{
	if (!authcheck_loaded) {
		const char *rej = getenv("POSTERN_DMARC_REJECT");
		authcheck_reject = rej != NULL && (strcmp(rej, "1") == 0 ||
						   str_caseeq(rej, "yes") || str_caseeq(rej, "true"));
		authcheck_loaded = true;
	}
	return authcheck_reject;
}
