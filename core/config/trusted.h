/* trusted.h - POSTERN_TRUSTED_NETWORKS: client networks that are neither
 * checked with SPF/DKIM/DMARC on the MX listener nor banned for failed
 * logins (local scripts, a webmail on the same host, the benchmarks).
 * CIDR blocks separated by spaces or commas; default "127.0.0.0/8 ::1";
 * empty = none. Read from the environment on first use (loop thread). */
#ifndef POSTERN_CONFIG_TRUSTED_H
#define POSTERN_CONFIG_TRUSTED_H

#include <stdbool.h>

/* True when ip (text; IPv4-mapped IPv6 counts as IPv4) is trusted. */
bool config_trusted_ip(const char *ip);

#endif
