/* relay.c - the smarthost setting in outbound_settings: relay.host,
 * relay.port, relay.tls, relay.user and relay.password (sealed with
 * auth/seal.h, never shown). Replaced as a whole in one transaction. */
#include "db/relay.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/seal.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/strnum.h"

static const char *const relay_tls_names[] = { "starttls", "implicit", "none" };

const char *relay_tls_name(enum relay_tls t)
{
	return relay_tls_names[t];
}

int relay_tls_parse(const char *s, enum relay_tls *out)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, relay_tls_names[i]) == 0) {
			*out = (enum relay_tls)i;
			return 0;
		}
	return -1;
}

void relay_clear_secret(struct relay *r)
{
	if (r->password != NULL) {
		sodium_memzero(r->password, strlen(r->password));
		free(r->password);
		r->password = NULL;
	}
}

enum db_status relay_load(struct db *db, struct relay *r)
{
	enum db_status st;
	const char *p[1] = { "relay." };

	memset(r, 0, sizeof(*r));
	r->port = 587;
	PGresult *res = db_exec(db, STMT_OUTBOUND_LIST, 1, p, NULL, NULL, &st);
	for (int i = 0; st == DB_OK && i < PQntuples(res); i++) {
		const char *n = PQgetvalue(res, i, 0), *v = PQgetvalue(res, i, 1);
		uint64_t port;
		if (strcmp(n, "relay.host") == 0) {
			r->set = str_lcpy(r->host, v, sizeof(r->host)) < sizeof(r->host) && v[0];
		} else if (strcmp(n, "relay.port") == 0 && strnum_parse(v, 65535, &port) == 0) {
			r->port = (int)port;
		} else if (strcmp(n, "relay.tls") == 0) {
			(void)relay_tls_parse(v, &r->tls);
		} else if (strcmp(n, "relay.user") == 0) {
			str_lcpy(r->user, v, sizeof(r->user));
		} else if (strcmp(n, "relay.password") == 0) {
			r->password = seal_open(v);
			if (r->password == NULL)
				log_warn("queue", "the relay password cannot be unsealed (seal.key "
					 "changed?): sending without AUTH");
		}
	}
	PQclear(res);
	return st;
}

static enum db_status relay_put(struct db *db, const char *name, const char *value)
{
	enum db_status st;
	const char *p[2] = { name, value };
	PQclear(db_exec(db, STMT_OUTBOUND_SET, 2, p, NULL, NULL, &st));
	return st;
}

enum db_status relay_save(struct db *db, const struct relay *r)
{
	char port[16];
	char *sealed = NULL;
	enum db_status st;

	if (r->password != NULL && (sealed = seal_text(r->password)) == NULL)
		return DB_ERROR;
	str_fmt(port, sizeof(port), "%d", r->port);
	st = db_begin(db);
	if (st == DB_OK)
		st = relay_delete(db);
	if (st == DB_OK)
		st = relay_put(db, "relay.host", r->host);
	if (st == DB_OK)
		st = relay_put(db, "relay.port", port);
	if (st == DB_OK)
		st = relay_put(db, "relay.tls", relay_tls_name(r->tls));
	if (st == DB_OK && r->user[0] != '\0')
		st = relay_put(db, "relay.user", r->user);
	if (st == DB_OK && sealed != NULL)
		st = relay_put(db, "relay.password", sealed);
	free(sealed);
	if (st == DB_OK)
		return db_commit(db);
	db_rollback(db);
	return st;
}

enum db_status relay_delete(struct db *db)
{
	enum db_status st;
	const char *p[1] = { "relay." };
	PQclear(db_exec(db, STMT_OUTBOUND_CLEAR, 1, p, NULL, NULL, &st));
	return st;
}
