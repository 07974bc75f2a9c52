/* trusted.c - POSTERN_TRUSTED_NETWORKS (config/trusted.h): at most
 * TRUSTED_NETS CIDR blocks; the rest, and blocks that do not parse, are
 * ignored with a warning. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "config/trusted.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/strnum.h"

#define TRUSTED_NETS 32

struct trusted_net {
	bool v6;
	unsigned char addr[16];
	unsigned bits;
};

static bool trusted_loaded;
static struct trusted_net trusted_nets[TRUSTED_NETS];
static size_t trusted_n;

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
	char list[1024], *save = NULL;

	trusted_loaded = true;
	if (str_lcpy(list, env != NULL ? env : "127.0.0.0/8 ::1", sizeof(list)) >= sizeof(list))
		log_warn("config", "POSTERN_TRUSTED_NETWORKS is too long; the end is ignored");
	for (char *t = strtok_r(list, " ,\t", &save); t != NULL; t = strtok_r(NULL, " ,\t", &save)) {
		struct trusted_net n;
		char *slash = strchr(t, '/');
		uint64_t bits;
		if (slash != NULL)
			*slash = '\0';
		if (!parse_ip(t, &n.v6, n.addr)) {
			log_warn("config", "POSTERN_TRUSTED_NETWORKS: %s is not an address; ignored", t);
			continue;
		}
		bits = n.v6 ? 128 : 32;
		if (slash != NULL && strnum_parse(slash + 1, bits, &bits) < 0) {
			log_warn("config", "POSTERN_TRUSTED_NETWORKS: bad prefix length after %s; "
				 "ignored", t);
			continue;
		}
		n.bits = (unsigned)bits;
		if (trusted_n == TRUSTED_NETS) {
			log_warn("config", "POSTERN_TRUSTED_NETWORKS: more than %d networks; the rest "
				 "are ignored", TRUSTED_NETS);
			break;
		}
		trusted_nets[trusted_n++] = n;
	}
}

bool config_trusted_ip(const char *ip)
{
	unsigned char a[16];
	bool v6;

	if (!trusted_loaded)
		load();
	if (ip == NULL || !parse_ip(ip, &v6, a))
		return false;
	for (size_t i = 0; i < trusted_n; i++) {
		const struct trusted_net *n = &trusted_nets[i];
		unsigned full = n->bits / 8, rest = n->bits % 8;
		if (n->v6 != v6 || memcmp(a, n->addr, full) != 0)
			continue;
		if (rest == 0 || ((a[full] ^ n->addr[full]) & (0xff << (8 - rest))) == 0)
			return true;
	}
	return false;
}

