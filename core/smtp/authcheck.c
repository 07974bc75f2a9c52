/* authcheck.c - the policy of the inbound checks (core/mail/authres.c):
 * only the MX listener checks, and not clients in the trusted networks
 * (POSTERN_TRUSTED_NETWORKS: CIDR blocks separated by spaces or commas,
 * default "127.0.0.0/8 ::1"; empty = check everyone), so local submission
 * by scripts and the delivery benchmark stay unaffected. At most
 * AUTHCHECK_NETS blocks are read; the rest are ignored with a warning.
 * Settings are read from the environment once, on first use. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "smtp/authcheck.h"
#include "smtp/session.h"

#define AUTHCHECK_NETS 32

struct authcheck_net {
	bool v6;
	unsigned char addr[16];
	unsigned bits;
};

static bool authcheck_loaded;
static bool authcheck_reject;
static struct authcheck_net authcheck_nets[AUTHCHECK_NETS];
static size_t authcheck_n;

/* Address text to family + bytes; IPv4-mapped IPv6 becomes IPv4. */
static bool parse_ip(const char *ip, bool *v6, unsigned char out[16])
{
	if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.') != NULL)
		ip += 7;
	if (inet_pton(AF_INET, ip, out) == 1) {
		*v6 = false;
		return true;
	}
	if (inet_pton(AF_INET6, ip, out) == 1) {
		*v6 = true;
		return true;
	}
	return false;
}

static void load(void)
{
	const char *env = getenv("POSTERN_TRUSTED_NETWORKS");
	const char *rej = getenv("POSTERN_DMARC_REJECT");
	char list[1024], *save = NULL;

	authcheck_loaded = true;
	authcheck_reject = rej != NULL && (strcmp(rej, "1") == 0 || str_caseeq(rej, "yes") ||
					   str_caseeq(rej, "true"));
	if (str_lcpy(list, env != NULL ? env : "127.0.0.0/8 ::1", sizeof(list)) >= sizeof(list))
		log_warn("smtp", "POSTERN_TRUSTED_NETWORKS is too long; the end is ignored");
	for (char *t = strtok_r(list, " ,\t", &save); t != NULL; t = strtok_r(NULL, " ,\t", &save)) {
		struct authcheck_net n;
		char *slash = strchr(t, '/');
		uint64_t bits;
		if (slash != NULL)
			*slash = '\0';
		if (!parse_ip(t, &n.v6, n.addr)) {
			log_warn("smtp", "POSTERN_TRUSTED_NETWORKS: %s is not an address; ignored", t);
			continue;
		}
		bits = n.v6 ? 128 : 32;
		if (slash != NULL && strnum_parse(slash + 1, bits, &bits) < 0) {
			log_warn("smtp", "POSTERN_TRUSTED_NETWORKS: bad prefix length after %s; "
				 "ignored", t);
			continue;
		}
		n.bits = (unsigned)bits;
		if (authcheck_n == AUTHCHECK_NETS) {
			log_warn("smtp", "POSTERN_TRUSTED_NETWORKS: more than %d networks; the rest "
				 "are ignored", AUTHCHECK_NETS);
			break;
		}
		authcheck_nets[authcheck_n++] = n;
	}
}

bool smtp_authcheck_trusted(const char *ip)
{
	unsigned char a[16];
	bool v6;

	if (!authcheck_loaded)
		load();
	if (ip == NULL || !parse_ip(ip, &v6, a))
		return false;
	for (size_t i = 0; i < authcheck_n; i++) {
		const struct authcheck_net *n = &authcheck_nets[i];
		unsigned full = n->bits / 8, rest = n->bits % 8;
		if (n->v6 != v6 || memcmp(a, n->addr, full) != 0)
			continue;
		if (rest == 0 || ((a[full] ^ n->addr[full]) & (0xff << (8 - rest))) == 0)
			return true;
	}
	return false;
}

bool smtp_authcheck_wanted(const struct smtp_session *s)
{
	return s->role == SMTP_ROLE_MX && !s->authed && !smtp_authcheck_trusted(conn_peer_addr(s->c));
}

bool smtp_authcheck_dmarc_reject(void)
{
	if (!authcheck_loaded)
		load();
	return authcheck_reject;
}
