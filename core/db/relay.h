/* relay.h - the smarthost setting (outbound_settings rows "relay.*"): all
 * outbound mail goes to one host instead of the recipients' MX, for hosts
 * whose port 25 is blocked. The AUTH password is sealed at rest
 * (auth/seal.h). Used by the queue runners and posternctl relay. */
#ifndef POSTERN_DB_RELAY_H
#define POSTERN_DB_RELAY_H

#include <stdbool.h>

#include "config/limits.h"
#include "db/db.h"

enum relay_tls {
	RELAY_TLS_STARTTLS = 0,	/* STARTTLS required (default) */
	RELAY_TLS_IMPLICIT,	/* TLS from the first byte (port 465) */
	RELAY_TLS_NONE,		/* plain text; AUTH is then refused */
};

struct relay {
	bool set;		/* false: deliver to MX hosts */
	char host[256];		/* name or IP address */
	int port;		/* default 587 */
	enum relay_tls tls;
	char user[LIMIT_ADDRESS + 1];	/* "" = no AUTH */
	char *password;		/* unsealed, malloc'd, NULL without AUTH */
};

/* Reads the setting; *r zeroed (set false) when there is none. */
enum db_status relay_load(struct db *db, struct relay *r);
/* Wipes and frees the password. */
void relay_clear_secret(struct relay *r);
/* Stores r (sealing the password) in one transaction. */
enum db_status relay_save(struct db *db, const struct relay *r);
enum db_status relay_delete(struct db *db);
const char *relay_tls_name(enum relay_tls t);
/* "none" | "starttls" | "implicit" -> 0, or -1. */
int relay_tls_parse(const char *s, enum relay_tls *out);

#endif
