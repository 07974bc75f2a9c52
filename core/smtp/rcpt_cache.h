/* rcpt_cache.h - recent recipient resolutions, kept by the loop so that a
 * busy MX does not ask PostgreSQL about the same mailbox with every
 * message. Loop thread only. Only plain answers are kept: hosted, local
 * accounts only, not over quota. The whole cache is dropped on NOTIFY
 * directory_changed (triggers on domains, accounts and aliases) and when
 * the LISTEN connection was lost; an entry also expires on its own. */
#ifndef POSTERN_SMTP_RCPT_CACHE_H
#define POSTERN_SMTP_RCPT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/store.h"

/* True and fills out (accounts only) when local@domain was resolved lately. */
bool rcpt_cache_get(const char *local, const char *domain, struct db_rcpt *out);
/* The generation to pass to rcpt_cache_put: taken before the lookup, so an
 * answer that a flush overtook is not kept. */
uint64_t rcpt_cache_generation(void);
/* Remembers r for local@domain when it is a plain answer. */
void rcpt_cache_put(uint64_t gen, const char *local, const char *domain, const struct db_rcpt *r);
/* Forgets everything (directory changed, or changes may have been missed). */
void rcpt_cache_flush(void);
/* Turns the cache on once the LISTEN connection can tell it about changes
 * (posternd), or off. Off by default: nothing is cached. */
void rcpt_cache_enable(bool on);

#endif
