/* ban.h - per-IP failed-login counting and temporary bans for every
 * protocol (SMTP AUTH, IMAP, POP3): LIMIT_AUTH_FAIL_PER_IP failures within
 * LIMIT_AUTH_FAIL_WINDOW_S ban the address for LIMIT_AUTH_BAN_S; a banned
 * address is refused at connect with the protocol's busy reply (421 4.7.0
 * / * BYE / -ERR [SYS/TEMP]). Addresses in POSTERN_TRUSTED_NETWORKS
 * (config/trusted.h) are never banned. Loop thread only; per node (XXX:
 * several nodes on one database count separately). */
#ifndef POSTERN_AUTH_BAN_H
#define POSTERN_AUTH_BAN_H

#include <stdbool.h>

/* Counts one failed login from ip (text, as conn_peer_addr gives it). */
void auth_ban_fail(const char *ip);
/* True while ip is banned. */
bool auth_ban_active(const char *ip);

#endif
