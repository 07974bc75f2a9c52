/* posternctl.c - the command line for scripts and `docker exec`: domains,
 * accounts, aliases, listeners and the queue, through the same typed
 * operations as the panel (db/admin.h). Its interface is a stable contract,
 * documented in docs/CLI.md: tab-separated output without a header, errors
 * as one line "posternctl: <sentence>" on stderr, exit codes 0 ok, 1 the
 * request failed, 2 usage error, 3 database unreachable, 4 unhealthy
 * (health). health, backup and restore live in ops/. Passwords are read
 * from the first line of stdin (at most LIMIT_PASSWORD_MAX octets), never
 * echoed, and wiped after use. The schema is migrated first, so accounts
 * can be provisioned before posternd's first start. */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "config/config.h"
#include "auth/seal.h"
#include "config/limits.h"
#include "db/acme.h"
#include "auth/seal.h"
#include "db/admin.h"
#include "db/admin_mailauth.h"
#include "db/db.h"
#include "db/embedded.h"
#include "db/relay.h"
#include "auth/seal.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"
#include "mail/dkim.h"
#include "ops/ops.h"
#include "net/tls.h"

enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
	EXIT_UNHEALTHY = 4,
};

/* options a command accepts */
enum {
	OPT_QUOTA = 1 << 0,
	OPT_PORT = 1 << 1,
	OPT_TLS = 1 << 2,
	OPT_ENABLE = 1 << 3,	/* --enable and --disable */
	OPT_CHALLENGE = 1 << 9,	/* --challenge http-01|tls-alpn-01 (cert acme) */
	OPT_SELECTOR = 1 << 4,
	OPT_TYPE = 1 << 5,
	OPT_PER_HOUR = 1 << 6,
	OPT_RCPTS = 1 << 7,
	OPT_USER = 1 << 8,	/* --user NAME (relay set) */
	OPT_DAYS = 1 << 10,
	OPT_HOSTNAMES = 1 << 11,	/* --hostnames a,b,c */
	OPT_DEFAULT = 1 << 12,
};

#define CTL_MAX_ARGS 2
#define CTL_ACME_HINT_MS 10000	/* cert acme: say so when no posternd took the order by then */

struct ctl {
	struct db *db;
	struct config cfg;
	bool cfg_loaded;
	char *conninfo;
	char actor[96];
	const char *args[CTL_MAX_ARGS];
	int nargs;
	unsigned opts_seen;
	int64_t quota;
	long port;
	const char *tls;
	int enable;		/* -1 unchanged */
	long days;
	char *hostnames;	/* --hostnames, split in place at commas */
	bool make_default;
	const char *challenge;	/* cert acme */
	const char *user;
	char *data_dir;		/* for the seal key (relay set --user) */
	const char *selector;	/* dkim generate */
	const char *type;
	long per_hour, rcpts;	/* user limits: -2 unchanged, -1 default */
	struct ops_import_req import;
	char password[LIMIT_PASSWORD_MAX + 2];
	size_t passlen;
	struct admin_err err;
};

struct ctl_cmd {
	const char *noun;
	const char *verb;
	int min_args, max_args;
	unsigned opts;
	bool password;		/* reads a password from stdin */
	enum admin_status (*run)(struct ctl *c);
	const char *usage;
	const char *note;	/* shown by --help only */
};

/* Operations commands (one word, ops/): run returns the exit code itself. */
struct ctl_ops_cmd {
	struct ctl_cmd cmd;	/* noun, arguments, usage; verb and run are NULL */
	int (*run)(struct ctl *c);
	bool no_migrate;	/* connect without applying migrations first */
	bool start_embedded;	/* embedded cluster: start it here (posternd must be stopped) */
	int (*parse)(struct ctl *c, int argc, char **argv);	/* own arguments, else parse_args */
};

static const char *ctl_prog = "posternctl";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ctl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see posternctl --help)\n");
	return EXIT_USAGE;
}

/* Writes one field: tabs and line breaks become spaces so a row stays one
 * line of tab-separated fields. */
static void put_field(const char *s, bool last)
{
	for (; *s != '\0'; s++)
		putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
	putchar(last ? '\n' : '\t');
}

/* ---------- list callbacks ---------- */

static void print_domain(void *arg, const struct admin_domain *d)
{
	(void)arg;
	put_field(d->name, true);
}

static void print_user(void *arg, const struct admin_user *u)
{
	(void)arg;
	put_field(u->address, false);
	printf("%lld\t%lld\t", (long long)u->used_bytes, (long long)u->quota_bytes);
	put_field(u->active ? "active" : "disabled", true);
}

static void print_alias(void *arg, const struct admin_alias *a)
{
	(void)arg;
	put_field(a->source, false);
	put_field(a->destination, true);
}

static void print_listener(void *arg, const struct admin_listener *l)
{
	(void)arg;
	put_field(l->name, false);
	put_field(l->protocol, false);
	printf("%d\t", l->port);
	put_field(l->tls, false);
	put_field(l->enabled ? "enabled" : "disabled", true);
}

static void print_queue(void *arg, const struct admin_queue_item *q)
{
	(void)arg;
	printf("%lld\t", (long long)q->id);
	put_field(q->sender, false);
	put_field(q->recipient, false);
	put_field(q->state, false);
	printf("%d\t", q->attempts);
	put_field(q->next_attempt, false);
	put_field(q->last_error, true);
}

/* ---------- commands ---------- */

static enum admin_status cmd_domain_add(struct ctl *c)
{
	return admin_domain_add(c->db, c->actor, c->args[0], &c->err);
}

static enum admin_status cmd_domain_del(struct ctl *c)
{
	return admin_domain_del(c->db, c->actor, c->args[0], &c->err);
}

static enum admin_status cmd_domain_list(struct ctl *c)
{
	return admin_domain_list(c->db, print_domain, NULL, &c->err);
}

static enum admin_status cmd_user_add(struct ctl *c)
{
	return admin_user_add(c->db, c->actor, c->args[0], c->password, c->passlen,
			      (c->opts_seen & OPT_QUOTA) ? c->quota : 0, &c->err);
}

static enum admin_status cmd_user_passwd(struct ctl *c)
{
	return admin_user_passwd(c->db, c->actor, c->args[0], c->password, c->passlen, &c->err);
}

static enum admin_status cmd_user_list(struct ctl *c)
{
	return admin_user_list(c->db, c->nargs > 0 ? c->args[0] : NULL, print_user, NULL, &c->err);
}

static enum admin_status cmd_user_del(struct ctl *c)
{
	return admin_user_del(c->db, c->actor, c->args[0], &c->err);
}

static enum admin_status cmd_user_disable(struct ctl *c)
{
	return admin_user_set_active(c->db, c->actor, c->args[0], false, &c->err);
}

static enum admin_status cmd_user_enable(struct ctl *c)
{
	return admin_user_set_active(c->db, c->actor, c->args[0], true, &c->err);
}

static enum admin_status cmd_alias_add(struct ctl *c)
{
	return admin_alias_add(c->db, c->actor, c->args[0], c->args[1], &c->err);
}

static enum admin_status cmd_alias_del(struct ctl *c)
{
	return admin_alias_del(c->db, c->actor, c->args[0], c->args[1], &c->err);
}

static enum admin_status cmd_alias_list(struct ctl *c)
{
	return admin_alias_list(c->db, c->nargs > 0 ? c->args[0] : NULL, print_alias, NULL, &c->err);
}

static enum admin_status cmd_listener_list(struct ctl *c)
{
	return admin_listener_list(c->db, print_listener, NULL, &c->err);
}

static struct admin_listener_change listener_change(const struct ctl *c)
{
	struct admin_listener_change ch = {
		.set_port = (c->opts_seen & OPT_PORT) != 0,
		.port = (int)c->port,	/* parsed with strnum, <= INT32_MAX */
		.tls = c->tls,
		.enable = c->enable,
	};
	return ch;
}

static enum admin_status cmd_listener_set(struct ctl *c)
{
	struct admin_listener_change ch = listener_change(c);

	return admin_listener_set(c->db, c->actor, c->args[0], &ch, &c->err);
}

static enum admin_status cmd_queue_list(struct ctl *c)
{
	return admin_queue_list(c->db, print_queue, NULL, &c->err);
}

/* ---------- panel admins ---------- */

static enum admin_status cmd_admin_add(struct ctl *c)
{
	return admin_admin_add(c->db, c->actor, c->args[0], c->password, c->passlen, &c->err);
}

static enum admin_status cmd_admin_passwd(struct ctl *c)
{
	return admin_admin_passwd(c->db, c->actor, c->args[0], c->password, c->passlen, &c->err);
}

static enum admin_status cmd_admin_totp_reset(struct ctl *c)
{
	return admin_admin_totp_reset(c->db, c->actor, c->args[0], &c->err);
}

/* ---------- certificates ---------- */

static void print_cert(void *arg, const struct admin_cert *c)
{
	char date[32];
	time_t t = (time_t)c->info->not_after;
	struct tm tm;

	(void)arg;
	if (gmtime_r(&t, &tm) == NULL || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		str_lcpy(date, "?", sizeof(date));
	printf("%lld\t%s\t%s\t", (long long)c->id, c->is_default ? "default" : "-", date);
	for (size_t i = 0; i < c->n_hostnames; i++)
		printf("%s%s", i > 0 ? "," : "", c->hostnames[i]);
	putchar('\t');
	for (size_t i = 0; i < c->info->n_names; i++)
		printf("%s%s", i > 0 ? "," : "", c->info->names[i]);
	putchar('\t');
	put_field(c->info->self_signed ? "self-signed" : c->info->issuer, true);
}

/* A whole PEM file of at most max octets into a malloc'd string. */
static char *read_pem(const char *path, size_t max, struct admin_err *err)
{
	FILE *f = fopen(path, "r");
	char *data;
	size_t n;

	if (f == NULL) {
		(void)str_fmt(err->msg, sizeof(err->msg), "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	data = xmalloc(max + 2);
	n = fread(data, 1, max + 1, f);
	fclose(f);
	if (n > max || memchr(data, '\0', n) != NULL) {
		(void)str_fmt(err->msg, sizeof(err->msg), "%s is not a PEM file of at most %zu bytes",
			      path, max);
		free(data);
		return NULL;
	}
	data[n] = '\0';
	return data;
}

/* --hostnames split at commas into names (at most LIMIT_CERT_HOSTNAMES). */
static size_t split_hostnames(char *list, const char **names)
{
	size_t n = 0;

	for (char *p = list; p != NULL && *p != '\0' && n < LIMIT_CERT_HOSTNAMES;) {
		char *comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		if (*p != '\0')
			names[n++] = p;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return n;
}

static enum admin_status cmd_cert_import(struct ctl *c)
{
	const char *names[LIMIT_CERT_HOSTNAMES];
	size_t n = split_hostnames(c->hostnames, names);
	const char *field = NULL;
	char *cert = read_pem(c->args[0], LIMIT_CERT_PEM, &c->err);
	char *key = cert != NULL ? read_pem(c->args[1], LIMIT_CERT_KEY_PEM, &c->err) : NULL;
	int64_t id = 0;
	enum admin_status st = ADMIN_FAIL;

	if (key != NULL) {
		st = admin_cert_import(c->db, c->actor, cert, key, names, n, c->make_default, &id,
				       &field, &c->err);
		sodium_memzero(key, strlen(key));
	}
	if (st == ADMIN_OK)
		printf("%lld\n", (long long)id);
	free(key);
	free(cert);
	return st;
}

static enum admin_status cmd_cert_generate(struct ctl *c)
{
	int64_t id = 0;
	enum admin_status st = admin_cert_generate(c->db, c->actor, c->args[0],
						   (c->opts_seen & OPT_DAYS) ? (int)c->days : 365,
						   c->make_default, &id, &c->err);

	if (st == ADMIN_OK)
		printf("%lld\n", (long long)id);
	return st;
}

static enum admin_status cmd_cert_list(struct ctl *c)
{
	return admin_cert_list(c->db, print_cert, NULL, &c->err);
}

/* The certificate id argument: > 0, or 0 with c->err set. */
static int64_t cert_id(struct ctl *c)
{
	uint64_t v;

	if (strnum_parse(c->args[0], INT64_MAX, &v) < 0 || v == 0) {
		str_lcpy(c->err.msg, "a certificate ID is a number (see cert list)", sizeof(c->err.msg));
		return 0;
	}
	return (int64_t)v;
}

static enum admin_status cmd_cert_del(struct ctl *c)
{
	int64_t id = cert_id(c);

	return id > 0 ? admin_cert_del(c->db, c->actor, id, &c->err) : ADMIN_FAIL;
}

static enum admin_status cmd_cert_set(struct ctl *c)
{
	const char *names[LIMIT_CERT_HOSTNAMES];
	size_t n = split_hostnames(c->hostnames, names);
	const char *field = NULL;
	int64_t id = cert_id(c);

	if (id == 0)
		return ADMIN_FAIL;
	return admin_cert_set(c->db, c->actor, id, c->hostnames != NULL ? names : NULL, n,
			      c->make_default, &field, &c->err);
}

/* --- cert acme: queue an order for posternd's ACME thread and wait --- */

struct acme_seen {
	char state[16];
	char step[128];
	char error[LIMIT_ACME_ERROR];
	char not_after[32];
	char hostname[LIMIT_DOMAIN + 1];
};

static void acme_seen_copy(void *arg, const struct db_acme_order *o)
{
	struct acme_seen *s = arg;

	str_lcpy(s->state, o->state, sizeof(s->state));
	str_lcpy(s->step, o->step, sizeof(s->step));
	str_lcpy(s->error, o->error, sizeof(s->error));
	str_lcpy(s->not_after, o->not_after, sizeof(s->not_after));
	str_lcpy(s->hostname, o->hostname, sizeof(s->hostname));
}

static enum admin_status ctl_db_fail(struct ctl *c, enum db_status st, const char *what)
{
	(void)str_fmt(c->err.msg, sizeof(c->err.msg), "%s: %s", what,
		      st == DB_TEMP ? "the database is unreachable" : db_error(c->db));
	return st == DB_TEMP ? ADMIN_UNAVAILABLE : ADMIN_FAIL;
}

static enum admin_status cmd_cert_acme(struct ctl *c)
{
	char host[LIMIT_DOMAIN + 1];
	const char *challenge = c->challenge ? c->challenge : "http-01";
	struct acme_seen seen;
	char last_step[128] = "";
	struct timespec tick = { 0, 250 * 1000000L };
	int64_t id = 0;
	enum db_status st;

	memset(&seen, 0, sizeof(seen));
	if (!admin_domain_check(c->args[0], host, sizeof(host), &c->err))
		return ADMIN_FAIL;
	if (strcmp(challenge, "http-01") != 0 && strcmp(challenge, "tls-alpn-01") != 0) {
		str_lcpy(c->err.msg, "--challenge must be http-01 or tls-alpn-01", sizeof(c->err.msg));
		return ADMIN_FAIL;
	}
	st = db_acme_order_request(c->db, host, challenge, &id);
	if (st != DB_OK)
		return ctl_db_fail(c, st, "cannot queue the ACME order");
	fprintf(stderr, "%s: ACME order %lld for %s queued (%s); waiting for posternd\n", ctl_prog,
		(long long)id, host, challenge);
	for (long waited = 0; waited < LIMIT_ACME_WAIT_S * 1000L; waited += 250) {
		st = db_acme_order_get(c->db, id, acme_seen_copy, &seen);
		if (st != DB_OK)
			return ctl_db_fail(c, st, "cannot read the ACME order");
		if (seen.step[0] != '\0' && strcmp(seen.step, last_step) != 0) {
			fprintf(stderr, "%s: %s\n", ctl_prog, seen.step);
			str_lcpy(last_step, seen.step, sizeof(last_step));
		}
		if (strcmp(seen.state, "valid") == 0) {
			put_field(seen.hostname, false);
			put_field("valid", false);
			put_field(seen.not_after, true);
			return ADMIN_OK;
		}
		if (strcmp(seen.state, "failed") == 0) {
			char safe[sizeof(c->err.msg)];
			str_printable(safe, sizeof(safe), seen.error, strlen(seen.error));
			(void)str_fmt(c->err.msg, sizeof(c->err.msg), "ACME order %lld for %s failed: %s",
				      (long long)id, host, safe);
			return ADMIN_FAIL;
		}
		if (waited == CTL_ACME_HINT_MS && strcmp(seen.state, "requested") == 0)
			fprintf(stderr, "%s: no posternd has taken the order yet (is posternd "
				"running on this database?)\n", ctl_prog);
		nanosleep(&tick, NULL);
	}
	(void)str_fmt(c->err.msg, sizeof(c->err.msg),
		      "ACME order %lld for %s still %s after %d s (see cert acme-status)",
		      (long long)id, host, seen.state, LIMIT_ACME_WAIT_S);
	return ADMIN_FAIL;
}

static void print_acme_order(void *arg, const struct db_acme_order *o)
{
	(void)arg;
	printf("%lld\t", (long long)o->id);
	put_field(o->hostname, false);
	put_field(o->challenge, false);
	put_field(o->state, false);
	put_field(o->step, false);
	put_field(o->not_after, false);
	put_field(o->updated_at, false);
	put_field(o->error, true);
}

static enum admin_status cmd_cert_acme_status(struct ctl *c)
{
	enum db_status st = db_acme_order_list(c->db, LIMIT_ACME_STATUS_ROWS, print_acme_order, NULL);
	return st == DB_OK ? ADMIN_OK : ctl_db_fail(c, st, "cannot list the ACME orders");
}

/* queue retry|drop|hold|release [ID]: ID missing = every row (retry only) */
static enum admin_status queue_op(struct ctl *c, enum admin_queue_op op)
{
	uint64_t id = 0;
	long long n = 0;

	if (c->nargs > 0 && strnum_parse(c->args[0], INT64_MAX, &id) < 0) {
		str_fmt(c->err.msg, sizeof(c->err.msg), "the queue id must be a number");
		return ADMIN_FAIL;
	}
	enum admin_status st = admin_queue_op(c->db, c->actor, op, c->nargs > 0 ? (int64_t)id : -1,
					      &n, &c->err);
	if (st == ADMIN_OK)
		printf("%lld\n", n);
	return st;
}

static enum admin_status cmd_queue_retry(struct ctl *c)
{
	return queue_op(c, ADMIN_QUEUE_RETRY);
}

static enum admin_status cmd_queue_drop(struct ctl *c)
{
	return queue_op(c, ADMIN_QUEUE_DROP);
}

static enum admin_status cmd_queue_hold(struct ctl *c)
{
	return queue_op(c, ADMIN_QUEUE_HOLD);
}

static enum admin_status cmd_queue_release(struct ctl *c)
{
	return queue_op(c, ADMIN_QUEUE_RELEASE);
}

/* relay set HOST [--port N] [--tls MODE] [--user NAME]: the password of
 * --user comes from stdin and is sealed under the data directory's key. */
static enum admin_status cmd_relay_set(struct ctl *c)
{
	struct relay r = { .set = true, .port = 587, .tls = RELAY_TLS_STARTTLS };
	const char *err = NULL;
	char safe[64];

	if (str_lcpy(r.host, c->args[0], sizeof(r.host)) >= sizeof(r.host) || r.host[0] == '\0' ||
	    strpbrk(r.host, " \t\r\n/@") != NULL) {
		str_fmt(c->err.msg, sizeof(c->err.msg), "bad relay host %s",
			str_printable(safe, sizeof(safe), c->args[0], strlen(c->args[0])));
		return ADMIN_FAIL;
	}
	if (c->opts_seen & OPT_PORT) {
		if (c->port < 1 || c->port > 65535) {
			str_fmt(c->err.msg, sizeof(c->err.msg), "the port must be from 1 to 65535");
			return ADMIN_FAIL;
		}
		r.port = (int)c->port;
	}
	if (c->tls != NULL && relay_tls_parse(c->tls, &r.tls) < 0) {
		str_fmt(c->err.msg, sizeof(c->err.msg), "--tls must be none, starttls or implicit");
		return ADMIN_FAIL;
	}
	if (c->user != NULL) {
		if (r.tls == RELAY_TLS_NONE) {
			str_fmt(c->err.msg, sizeof(c->err.msg),
				"AUTH needs TLS: use --tls starttls or implicit with --user");
			return ADMIN_FAIL;
		}
		if (str_lcpy(r.user, c->user, sizeof(r.user)) >= sizeof(r.user)) {
			str_fmt(c->err.msg, sizeof(c->err.msg), "the user name is too long");
			return ADMIN_FAIL;
		}
		/* XXX: seal.key is created with posternctl's owner when posternd
		 * never ran on this data directory */
		if (seal_init(c->data_dir, &err) < 0) {
			str_fmt(c->err.msg, sizeof(c->err.msg), "seal key: %s", err);
			return ADMIN_FAIL;
		}
		r.password = c->password;
	}
	enum db_status st = relay_save(c->db, &r);
	if (st != DB_OK) {
		str_fmt(c->err.msg, sizeof(c->err.msg), "cannot store the relay: %s", db_error(c->db));
		return st == DB_TEMP ? ADMIN_UNAVAILABLE : ADMIN_FAIL;
	}
	return ADMIN_OK;
}

static enum admin_status cmd_relay_show(struct ctl *c)
{
	struct relay r;
	enum db_status st = relay_load(c->db, &r);

	if (st != DB_OK) {
		str_fmt(c->err.msg, sizeof(c->err.msg), "cannot read the relay: %s", db_error(c->db));
		return st == DB_TEMP ? ADMIN_UNAVAILABLE : ADMIN_FAIL;
	}
	if (r.set) {
		put_field(r.host, false);
		printf("%d\t", r.port);
		put_field(relay_tls_name(r.tls), false);
		put_field(r.user, true);
	}
	relay_clear_secret(&r);
	return ADMIN_OK;
}

static enum admin_status cmd_relay_clear(struct ctl *c)
{
	enum db_status st = relay_delete(c->db);

	if (st != DB_OK) {
		str_fmt(c->err.msg, sizeof(c->err.msg), "cannot clear the relay: %s", db_error(c->db));
		return st == DB_TEMP ? ADMIN_UNAVAILABLE : ADMIN_FAIL;
	}
	return ADMIN_OK;
}

/* --- mailauth --- */

static void print_dkim(void *arg, const struct admin_dkim_key *k)
{
	printf("%s\t%s\t%s\t%s\t%s._domainkey.%s\t%s\n", k->domain, k->selector, k->keytype,
	       k->active ? "active" : "inactive", k->selector, k->domain, k->record);
}

static void print_alert(void *arg, const struct admin_alert *a)
{
	put_field(a->id, false);
	put_field(a->at, false);
	put_field(a->kind, false);
	put_field(a->account, false);
	put_field(a->detail, false);
	put_field(a->acknowledged ? "acknowledged" : "new", true);
}

/* The seal key under the data directory (DKIM private keys). */
static enum admin_status ctl_seal_init(struct ctl *c)
{
	struct config cfg;
	const char *error = NULL;
	int rc;

	if (config_load(&cfg, &error) < 0) {
		str_lcpy(c->err.msg, error, sizeof(c->err.msg));
		return ADMIN_FAIL;
	}
	rc = seal_init(cfg.data_dir, &error);
	config_free(&cfg);
	if (rc < 0) {
		if (str_fmt(c->err.msg, sizeof(c->err.msg), "the seal key: %s", error) < 0)
			str_lcpy(c->err.msg, "the seal key cannot be read", sizeof(c->err.msg));
		return ADMIN_FAIL;
	}
	return ADMIN_OK;
}

static enum admin_status cmd_dkim_generate(struct ctl *c)
{
	if (ctl_seal_init(c) != ADMIN_OK)
		return ADMIN_FAIL;
	return admin_dkim_generate(c->db, c->actor, c->args[0], c->selector, c->type, print_dkim,
				   NULL, &c->err);
}

static enum admin_status cmd_dkim_list(struct ctl *c)
{
	return admin_dkim_list(c->db, c->nargs > 0 ? c->args[0] : NULL, print_dkim, NULL, &c->err);
}

/* Test aid: signs the message on stdin with the keys of its From: domain,
 * exactly as the outbound queue runner does, and prints it signed. */
static enum admin_status cmd_dkim_sign(struct ctl *c)
{
	struct buf in;
	unsigned char chunk[8192];
	char *headers = NULL;
	size_t n;

	if (ctl_seal_init(c) != ADMIN_OK)
		return ADMIN_FAIL;
	buf_init(&in, LIMIT_SMTP_MESSAGE_SIZE);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		if (buf_append(&in, chunk, n) < 0) {
			buf_free(&in);
			str_lcpy(c->err.msg, "the message is too large", sizeof(c->err.msg));
			return ADMIN_FAIL;
		}
	}
	if (dkim_sign_message(c->db, buf_data(&in), buf_len(&in), &headers) < 0) {
		buf_free(&in);
		str_lcpy(c->err.msg, "signing failed", sizeof(c->err.msg));
		return ADMIN_FAIL;
	}
	if (headers == NULL) {
		buf_free(&in);
		str_lcpy(c->err.msg, "the From: domain has no DKIM key", sizeof(c->err.msg));
		return ADMIN_FAIL;
	}
	fputs(headers, stdout);
	fwrite(buf_data(&in), 1, buf_len(&in), stdout);
	free(headers);
	buf_free(&in);
	return ADMIN_OK;
}

static enum admin_status cmd_user_limits(struct ctl *c)
{
	long ph, rc;
	enum admin_status st = admin_send_limits(c->db, c->actor, c->args[0], c->per_hour,
						 c->rcpts, &ph, &rc, &c->err);
	char a[24], b[24];

	if (st != ADMIN_OK)
		return st;
	(void)str_fmt(a, sizeof(a), "%ld", ph);
	(void)str_fmt(b, sizeof(b), "%ld", rc);
	put_field(c->args[0], false);
	put_field(ph < 0 ? "default" : a, false);
	put_field(rc < 0 ? "default" : b, true);
	return ADMIN_OK;
}

static enum admin_status cmd_alerts(struct ctl *c)
{
	return admin_alerts_list(c->db, print_alert, NULL, &c->err);
}

static enum admin_status cmd_alert_ack(struct ctl *c)
{
	return admin_alert_ack(c->db, c->actor, c->args[0], &c->err);
}

static int ops_exit(struct ctl *c, enum ops_status st)
{
	static const int codes[] = {
		[OPS_OK] = EXIT_OK,
		[OPS_FAIL] = EXIT_FAILED,
		[OPS_UNAVAILABLE] = EXIT_UNREACHABLE,
		[OPS_UNHEALTHY] = EXIT_UNHEALTHY,
	};
	if (st != OPS_OK)
		fprintf(stderr, "%s: %s\n", ctl_prog, c->err.msg);
	return codes[st];
}

static int cmd_health(struct ctl *c)
{
	return ops_exit(c, ops_health(c->db, c->cfg.listen_address, LIMIT_HEALTH_CONNECT_MS,
				      stdout, &c->err));
}

static int cmd_migrate(struct ctl *c)
{
	return EXIT_OK;		/* connect_db() applied them */
}

static int cmd_backup(struct ctl *c)
{
	return ops_exit(c, ops_backup(&c->cfg, c->db, c->conninfo, c->args[0], &c->err));
}

static int cmd_restore(struct ctl *c)
{
	return ops_exit(c, ops_restore(&c->cfg, c->db, c->conninfo, c->args[0], &c->err));
}

static int cmd_import(struct ctl *c)
{
	c->import.password = c->password;
	return ops_exit(c, ops_import(c->db, &c->import, stdout, &c->err));
}

static int read_password(struct ctl *c);
static const char *opt_value(int argc, char **argv, int *i, const char *arg, size_t namelen);

/* import maildir|mbox PATH --to ADDRESS
 * import imap --host H --port P --user U --password-stdin --to ADDRESS
 *             [--tls implicit|starttls|none] [--ca-file FILE] */
static int parse_import(struct ctl *c, int argc, char **argv)
{
	static const char *const usage =
		"import maildir|mbox PATH --to ADDRESS, or import imap --host H --port P "
		"--user U --password-stdin --to ADDRESS [--tls implicit|starttls|none] "
		"[--ca-file FILE]";
	struct ops_import_req *r = &c->import;
	const char *path = NULL;
	bool pw_stdin = false;

	if (argc < 3)
		return usage_error("missing argument; usage: posternctl %s", usage);
	if (strcmp(argv[2], "maildir") == 0)
		r->kind = OPS_IMPORT_MAILDIR;
	else if (strcmp(argv[2], "mbox") == 0)
		r->kind = OPS_IMPORT_MBOX;
	else if (strcmp(argv[2], "imap") == 0)
		r->kind = OPS_IMPORT_IMAP;
	else
		return usage_error("import needs maildir, mbox or imap; usage: posternctl %s", usage);
	for (int i = 3; i < argc; i++) {
		static const char *const names[] = { "--to", "--host", "--port", "--user", "--tls",
						     "--ca-file" };
		const char **slots[] = { &r->to, &r->host, &r->port, &r->user, &r->tls,
					 &r->ca_file };
		const char *a = argv[i];
		bool done = false;

		if (strcmp(a, "--password-stdin") == 0 && r->kind == OPS_IMPORT_IMAP) {
			pw_stdin = true;
			continue;
		}
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && !done; k++) {
			size_t n = strlen(names[k]);
			if (strncmp(a, names[k], n) != 0 || (a[n] != '\0' && a[n] != '='))
				continue;
			if (k > 0 && r->kind != OPS_IMPORT_IMAP)
				break;
			*slots[k] = opt_value(argc, argv, &i, a, n);
			if (*slots[k] == NULL)
				return usage_error("%s needs a value", names[k]);
			done = true;
		}
		if (done)
			continue;
		if (a[0] == '-' && a[1] == '-') {
			char safe[64];
			return usage_error("unknown option %s for import",
					   str_printable(safe, sizeof(safe), a, strlen(a)));
		}
		if (path != NULL || r->kind == OPS_IMPORT_IMAP)
			return usage_error("too many arguments; usage: posternctl %s", usage);
		path = a;
	}
	r->path = path;
	if (r->to == NULL || (r->kind != OPS_IMPORT_IMAP && path == NULL) ||
	    (r->kind == OPS_IMPORT_IMAP && (r->host == NULL || r->user == NULL || !pw_stdin)))
		return usage_error("missing argument; usage: posternctl %s", usage);
	if (r->port == NULL)
		r->port = r->tls != NULL && strcmp(r->tls, "implicit") != 0 ? "143" : "993";
	if (r->tls != NULL && strcmp(r->tls, "implicit") != 0 && strcmp(r->tls, "starttls") != 0 &&
	    strcmp(r->tls, "none") != 0)
		return usage_error("--tls needs implicit, starttls or none");
	return pw_stdin ? read_password(c) : EXIT_OK;
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "domain", "add", 1, 1, 0, false, cmd_domain_add, "domain add NAME", NULL },
	{ "domain", "list", 0, 0, 0, false, cmd_domain_list, "domain list", NULL },
	{ "domain", "del", 1, 1, 0, false, cmd_domain_del, "domain del NAME", NULL },
	{ "user", "add", 1, 1, OPT_QUOTA, true, cmd_user_add,
	  "user add ADDRESS [--quota BYTES]", "password: first line of stdin" },
	{ "user", "passwd", 1, 1, 0, true, cmd_user_passwd,
	  "user passwd ADDRESS", "password: first line of stdin" },
	{ "user", "list", 0, 1, 0, false, cmd_user_list, "user list [DOMAIN]", NULL },
	{ "user", "del", 1, 1, 0, false, cmd_user_del, "user del ADDRESS", NULL },
	{ "user", "disable", 1, 1, 0, false, cmd_user_disable, "user disable ADDRESS", NULL },
	{ "user", "enable", 1, 1, 0, false, cmd_user_enable, "user enable ADDRESS", NULL },
	{ "alias", "add", 2, 2, 0, false, cmd_alias_add,
	  "alias add SOURCE DEST", "SOURCE @example.com = the domain's catch-all" },
	{ "alias", "list", 0, 1, 0, false, cmd_alias_list, "alias list [DOMAIN]", NULL },
	{ "alias", "del", 2, 2, 0, false, cmd_alias_del, "alias del SOURCE DEST", NULL },
	{ "listener", "list", 0, 0, 0, false, cmd_listener_list, "listener list", NULL },
	{ "listener", "set", 1, 1, OPT_PORT | OPT_TLS | OPT_ENABLE, false, cmd_listener_set,
	  "listener set NAME [--port N] [--tls none|starttls|implicit] [--enable|--disable]", NULL },
	{ "queue", "list", 0, 0, 0, false, cmd_queue_list, "queue list", NULL },
	{ "cert", "import", 2, 2, OPT_HOSTNAMES | OPT_DEFAULT, false, cmd_cert_import,
	  "cert import CERT.pem KEY.pem [--hostnames A,B] [--default]",
	  "chain (server certificate first) and unencrypted key; prints the ID" },
	{ "cert", "generate", 1, 1, OPT_DAYS | OPT_DEFAULT, false, cmd_cert_generate,
	  "cert generate HOSTNAME [--days N] [--default]", "self-signed; prints the ID" },
	{ "cert", "list", 0, 0, 0, false, cmd_cert_list, "cert list", NULL },
	{ "cert", "set", 1, 1, OPT_HOSTNAMES | OPT_DEFAULT, false, cmd_cert_set,
	  "cert set ID [--hostnames A,B] [--default]", "the names it serves (SNI)" },
	{ "cert", "del", 1, 1, 0, false, cmd_cert_del, "cert del ID", NULL },
	{ "admin", "add", 1, 1, 0, true, cmd_admin_add, "admin add NAME",
	  "panel admin; password: first line of stdin" },
	{ "admin", "passwd", 1, 1, 0, true, cmd_admin_passwd, "admin passwd NAME",
	  "password: first line of stdin; ends the admin's sessions" },
	{ "admin", "totp-reset", 1, 1, 0, false, cmd_admin_totp_reset, "admin totp-reset NAME",
	  "removes the second factor (lost authenticator)" },
	{ "cert", "acme", 1, 1, OPT_CHALLENGE, false, cmd_cert_acme,
	  "cert acme HOSTNAME [--challenge http-01|tls-alpn-01]",
	  "posternd issues it; waits and prints HOSTNAME, valid, NOT_AFTER" },
	{ "cert", "acme-status", 0, 0, 0, false, cmd_cert_acme_status, "cert acme-status",
	  "ID HOSTNAME CHALLENGE STATE STEP NOT_AFTER UPDATED ERROR, newest first" },
	{ "queue", "list", 0, 0, 0, false, cmd_queue_list, "queue list",
	  "id, sender, recipient, state, attempts, next attempt, last error" },
	{ "queue", "retry", 0, 1, 0, false, cmd_queue_retry, "queue retry [ID]",
	  "due now; no ID: every waiting entry" },
	{ "queue", "drop", 1, 1, 0, false, cmd_queue_drop, "queue drop ID", "no DSN is sent" },
	{ "queue", "hold", 1, 1, 0, false, cmd_queue_hold, "queue hold ID", NULL },
	{ "queue", "release", 1, 1, 0, false, cmd_queue_release, "queue release ID", NULL },
	{ "relay", "set", 1, 1, OPT_PORT | OPT_TLS | OPT_USER, false, cmd_relay_set,
	  "relay set HOST [--port N] [--tls starttls|implicit|none] [--user NAME]",
	  "smarthost for all outbound mail; --user: password on stdin" },
	{ "relay", "show", 0, 0, 0, false, cmd_relay_show, "relay show",
	  "host, port, tls, user (the password is never shown)" },
	{ "relay", "clear", 0, 0, 0, false, cmd_relay_clear, "relay clear",
	  "deliver to the recipients' MX hosts again" },
	{ "dkim", "generate", 1, 1, OPT_SELECTOR | OPT_TYPE, false, cmd_dkim_generate,
	  "dkim generate DOMAIN [--selector S] [--type rsa|ed25519|both]",
	  "prints the TXT record(s) to publish" },
	{ "dkim", "list", 0, 1, 0, false, cmd_dkim_list, "dkim list [DOMAIN]", NULL },
	{ "dkim", "sign", 0, 0, 0, false, cmd_dkim_sign, "dkim sign < MESSAGE",
	  "test aid: prints the message signed as it would leave" },
	{ "user", "limits", 1, 1, OPT_PER_HOUR | OPT_RCPTS, false, cmd_user_limits,
	  "user limits ADDRESS|DOMAIN [--per-hour N|default] [--rcpts N|default]", NULL },
	{ "alerts", "list", 0, 0, 0, false, cmd_alerts, "alerts list", "also: posternctl alerts" },
	{ "alerts", "ack", 1, 1, 0, false, cmd_alert_ack, "alerts ack ID", NULL },
};

static const struct ctl_ops_cmd ctl_ops_cmds[] = {
	{ { "health", NULL, 0, 0, 0, false, NULL, "health",
	    "database and enabled listeners; exit 4 when one is down" }, cmd_health, true, false, NULL },
	{ { "migrate", NULL, 0, 0, 0, false, NULL, "migrate", "apply the schema migrations" },
	  cmd_migrate, false, false, NULL },
	{ { "backup", NULL, 1, 1, 0, false, NULL, "backup DIR",
	    "pg_dump + seal.key + MANIFEST into DIR" }, cmd_backup, true, false, NULL },
	{ { "restore", NULL, 1, 1, 0, false, NULL, "restore DIR",
	    "into an empty database, then migrate" }, cmd_restore, true, true, NULL },
	{ { "import", NULL, 0, 0, 0, false, NULL, "import maildir|mbox PATH --to ADDRESS",
	    "copy mail in; repeatable without duplicates" }, cmd_import, false, false,
	  parse_import },
	{ { "import", NULL, 0, 0, 0, false, NULL,
	    "import imap --host H [--port P] --user U --password-stdin --to ADDRESS "
	    "[--tls implicit|starttls|none] [--ca-file FILE]", "password: first line of stdin" },
	  cmd_import, false, false, parse_import },
};

#define CTL_NOPS (sizeof(ctl_ops_cmds) / sizeof(ctl_ops_cmds[0]))

#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: posternctl COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		if (ctl_cmds[i].note != NULL)
			fprintf(f, "  %-34s %s\n", ctl_cmds[i].usage, ctl_cmds[i].note);
		else
			fprintf(f, "  %s\n", ctl_cmds[i].usage);
	}
	for (size_t i = 0; i < CTL_NOPS; i++) {
		const struct ctl_cmd *o = &ctl_ops_cmds[i].cmd;
		if (strlen(o->usage) > 34)
			fprintf(f, "  %s\n  %-34s %s\n", o->usage, "", o->note);
		else
			fprintf(f, "  %-34s %s\n", o->usage, o->note);
	}
	fprintf(f, "\nOutput is tab-separated, one row per line, no header.\n"
		   "Exit codes: 0 ok, 1 the request failed, 2 usage error, 3 database unreachable,\n"
		   "4 unhealthy (health).\n"
		   "Environment: POSTERN_DATABASE_URL (else the embedded cluster under\n"
		   "POSTERN_DATA_DIR, default ./var), POSTERN_SQL_DIR. See docs/CLI.md.\n");
}

/* ---------- arguments ---------- */

/* BYTES with an optional K, M, G or T suffix (powers of 1024). */
static int parse_quota(const char *s, int64_t *out)
{
	size_t len = strlen(s);
	uint64_t v, mult = 1;

	if (len > 1) {
		switch (s[len - 1]) {
		case 'K': case 'k': mult = 1ULL << 10; break;
		case 'M': case 'm': mult = 1ULL << 20; break;
		case 'G': case 'g': mult = 1ULL << 30; break;
		case 'T': case 't': mult = 1ULL << 40; break;
		default: break;
		}
		if (mult > 1)
			len--;
	}
	if (strnum_u64(s, len, INT64_MAX / mult, &v) < 0)
		return -1;
	*out = (int64_t)(v * mult);
	return 0;
}

/* A limit: a number, or "default" (-1). */
static int parse_limit(const char *v, long *out)
{
	uint64_t n;

	if (v == NULL)
		return -1;
	if (strcmp(v, "default") == 0) {
		*out = -1;
		return 0;
	}
	if (strnum_parse(v, INT32_MAX, &n) < 0)
		return -1;
	*out = (long)n;
	return 0;
}

/* Option value: "--opt VALUE" or "--opt=VALUE". */
static const char *opt_value(int argc, char **argv, int *i, const char *arg, size_t namelen)
{
	if (arg[namelen] == '=')
		return arg + namelen + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int parse_args(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	bool only_args = false;

	for (int i = cmd->verb != NULL ? 3 : 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v;

		if (!only_args && strcmp(a, "--") == 0) {
			only_args = true;
		} else if (!only_args && a[0] == '-' && a[1] == '-' && a[2] != '\0') {
			if ((cmd->opts & OPT_QUOTA) && (strcmp(a, "--quota") == 0 ||
							 strncmp(a, "--quota=", 8) == 0)) {
				v = opt_value(argc, argv, &i, a, 7);
				if (v == NULL || parse_quota(v, &c->quota) < 0)
					return usage_error("--quota needs a number of bytes (K, M, G, T "
							   "suffixes allowed)");
				c->opts_seen |= OPT_QUOTA;
			} else if ((cmd->opts & OPT_PORT) && (strcmp(a, "--port") == 0 ||
								strncmp(a, "--port=", 7) == 0)) {
				uint64_t p;
				v = opt_value(argc, argv, &i, a, 6);
				if (v == NULL || strnum_parse(v, INT32_MAX, &p) < 0)
					return usage_error("--port needs a number");
				c->port = (long)p;	/* admin.c checks 1..65535 */
				c->opts_seen |= OPT_PORT;
			} else if ((cmd->opts & OPT_TLS) && (strcmp(a, "--tls") == 0 ||
							       strncmp(a, "--tls=", 6) == 0)) {
				v = opt_value(argc, argv, &i, a, 5);
				if (v == NULL)
					return usage_error("--tls needs none, starttls or implicit");
				c->tls = v;
				c->opts_seen |= OPT_TLS;
			} else if ((cmd->opts & OPT_DAYS) && (strcmp(a, "--days") == 0 ||
								strncmp(a, "--days=", 7) == 0)) {
				uint64_t d;
				v = opt_value(argc, argv, &i, a, 6);
				if (v == NULL || strnum_parse(v, LIMIT_CERT_DAYS, &d) < 0 || d == 0)
					return usage_error("--days needs a number from 1 to %d",
							   LIMIT_CERT_DAYS);
				c->days = (long)d;
				c->opts_seen |= OPT_DAYS;
			} else if ((cmd->opts & OPT_HOSTNAMES) &&
				   (strcmp(a, "--hostnames") == 0 ||
				    strncmp(a, "--hostnames=", 12) == 0)) {
				v = opt_value(argc, argv, &i, a, 11);
				if (v == NULL || *v == '\0')
					return usage_error("--hostnames needs names separated by commas");
				free(c->hostnames);
				c->hostnames = xstrdup(v);
				c->opts_seen |= OPT_HOSTNAMES;
			} else if ((cmd->opts & OPT_DEFAULT) && strcmp(a, "--default") == 0) {
				c->make_default = true;
				c->opts_seen |= OPT_DEFAULT;
			} else if ((cmd->opts & OPT_CHALLENGE) &&
				   (strcmp(a, "--challenge") == 0 ||
				    strncmp(a, "--challenge=", 12) == 0)) {
				v = opt_value(argc, argv, &i, a, 11);
				if (v == NULL)
					return usage_error("--challenge needs http-01 or tls-alpn-01");
				c->challenge = v;
				c->opts_seen |= OPT_CHALLENGE;
			} else if ((cmd->opts & OPT_USER) && (strcmp(a, "--user") == 0 ||
								strncmp(a, "--user=", 7) == 0)) {
				v = opt_value(argc, argv, &i, a, 6);
				if (v == NULL || *v == '\0')
					return usage_error("--user needs a name");
				c->user = v;
				c->opts_seen |= OPT_USER;
			} else if ((cmd->opts & OPT_SELECTOR) &&
				   (strcmp(a, "--selector") == 0 || strncmp(a, "--selector=", 11) == 0)) {
				c->selector = opt_value(argc, argv, &i, a, 10);
				if (c->selector == NULL)
					return usage_error("--selector needs a value");
			} else if ((cmd->opts & OPT_TYPE) &&
				   (strcmp(a, "--type") == 0 || strncmp(a, "--type=", 7) == 0)) {
				c->type = opt_value(argc, argv, &i, a, 6);
				if (c->type == NULL)
					return usage_error("--type needs rsa, ed25519 or both");
			} else if ((cmd->opts & OPT_PER_HOUR) &&
				   (strcmp(a, "--per-hour") == 0 || strncmp(a, "--per-hour=", 11) == 0)) {
				v = opt_value(argc, argv, &i, a, 10);
				if (parse_limit(v, &c->per_hour) < 0)
					return usage_error("--per-hour needs a number or default");
				c->opts_seen |= OPT_PER_HOUR;
			} else if ((cmd->opts & OPT_RCPTS) &&
				   (strcmp(a, "--rcpts") == 0 || strncmp(a, "--rcpts=", 8) == 0)) {
				v = opt_value(argc, argv, &i, a, 7);
				if (parse_limit(v, &c->rcpts) < 0)
					return usage_error("--rcpts needs a number or default");
				c->opts_seen |= OPT_RCPTS;
			} else if ((cmd->opts & OPT_ENABLE) &&
				   (strcmp(a, "--enable") == 0 || strcmp(a, "--disable") == 0)) {
				int want = strcmp(a, "--enable") == 0;
				if (c->enable >= 0 && c->enable != want)
					return usage_error("--enable and --disable exclude each other");
				c->enable = want;
				c->opts_seen |= OPT_ENABLE;
			} else {
				char safe[64];
				return usage_error("unknown option %s for %s %s",
						   str_printable(safe, sizeof(safe), a, strlen(a)),
						   cmd->noun, cmd->verb != NULL ? cmd->verb : "");
			}
		} else {
			if (c->nargs == cmd->max_args)
				return usage_error("too many arguments; usage: posternctl %s", cmd->usage);
			c->args[c->nargs++] = a;
		}
	}
	if (c->nargs < cmd->min_args)
		return usage_error("missing argument; usage: posternctl %s", cmd->usage);
	if (cmd->run == cmd_user_limits && c->opts_seen == 0)
		return usage_error("user limits needs --per-hour or --rcpts");
	if (cmd->run == cmd_listener_set && c->opts_seen == 0)
		return usage_error("listener set needs --port, --tls, --enable or --disable");
	if (cmd->run == cmd_cert_set && c->opts_seen == 0)
		return usage_error("cert set needs --hostnames or --default");
	return EXIT_OK;
}

/* The first line of stdin, without its line ending; bounded, not echoed. */
static int read_password(struct ctl *c)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &old) == 0;
	bool too_long = false;
	int ch;

	if (tty) {
		fprintf(stderr, "Password: ");
		fflush(stderr);
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	c->passlen = 0;
	while ((ch = getchar()) != EOF && ch != '\n') {
		if (c->passlen < sizeof(c->password) - 1)
			c->password[c->passlen++] = (char)ch;
		else
			too_long = true;
	}
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (c->passlen > 0 && c->password[c->passlen - 1] == '\r')
		c->passlen--;
	c->password[c->passlen] = '\0';
	if (too_long || c->passlen > LIMIT_PASSWORD_MAX) {
		sodium_memzero(c->password, sizeof(c->password));
		fprintf(stderr, "%s: the password is too long (at most %d characters)\n", ctl_prog,
			LIMIT_PASSWORD_MAX);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

static const struct ctl_cmd *find_cmd(const char *noun, const char *verb, bool *noun_known_r)
{
	*noun_known_r = false;
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		if (strcmp(ctl_cmds[i].noun, noun) != 0)
			continue;
		*noun_known_r = true;
		if (verb != NULL && strcmp(ctl_cmds[i].verb, verb) == 0)
			return &ctl_cmds[i];
	}
	return NULL;
}

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

/* ---------- database ---------- */

/* Connects (and, unless the command says otherwise, migrates). With
 * POSTERN_DATABASE_URL unset, the embedded cluster under POSTERN_DATA_DIR
 * is reached through its socket while posternd runs. seal: the command
 * seals or unseals private keys (certificates). */
static int connect_db(struct ctl *c, bool migrate, bool start_embedded, bool seal)
{
	const char *error = NULL;
	bool embedded;

	if (config_load(&c->cfg, &error) < 0) {
		fprintf(stderr, "%s: %s\n", ctl_prog, error);
		return EXIT_FAILED;
	}
	c->cfg_loaded = true;
	c->data_dir = xstrdup(c->cfg.data_dir);
	if (seal && seal_init(c->cfg.data_dir, &error) < 0) {
		fprintf(stderr, "%s: the seal key for private keys: %s\n", ctl_prog, error);
		return EXIT_FAILED;
	}
	embedded = c->cfg.database_url == NULL;
	if (embedded && start_embedded) {
		if (pg_embedded_start(c->cfg.data_dir, c->cfg.pg_bindir, &c->conninfo, &error) < 0) {
			fprintf(stderr, "%s: cannot start the embedded database under %s (stop "
				"posternd first; run as its user, not root): %s\n", ctl_prog,
				c->cfg.data_dir, error);
			return EXIT_UNREACHABLE;
		}
	} else {
		c->conninfo = embedded ? pg_embedded_conninfo(c->cfg.data_dir) :
					 xstrdup(c->cfg.database_url);
	}
	if (c->conninfo == NULL) {
		fprintf(stderr, "%s: the data directory path %s is too long\n", ctl_prog,
			c->cfg.data_dir);
		return EXIT_FAILED;
	}
	c->db = db_open(c->conninfo, &error);
	if (c->db == NULL) {
		if (embedded)
			fprintf(stderr, "%s: cannot connect to the embedded database under %s (is "
				"posternd running? or set POSTERN_DATABASE_URL): %s\n", ctl_prog,
				c->cfg.data_dir, error);
		else
			fprintf(stderr, "%s: cannot connect to the database: %s\n", ctl_prog, error);
		return EXIT_UNREACHABLE;
	}
	if (migrate && db_migrate(c->db, c->cfg.sql_dir, &error) < 0) {
		bool down = !db_ok(c->db);
		fprintf(stderr, "%s: cannot bring the schema up to date: %s\n", ctl_prog, error);
		return down ? EXIT_UNREACHABLE : EXIT_FAILED;
	}
	return EXIT_OK;
}

static void disconnect_db(struct ctl *c)
{
	db_close(&c->db);
	pg_embedded_stop();	/* only when connect_db() started it */
	free(c->conninfo);
	c->conninfo = NULL;
	if (c->cfg_loaded)
		config_free(&c->cfg);
	c->cfg_loaded = false;
}

static void set_actor(struct ctl *c)
{
	const char *who = getenv("SUDO_USER");
	struct passwd *pw;

	if (who == NULL || *who == '\0') {
		pw = getpwuid(getuid());
		who = pw != NULL ? pw->pw_name : "?";
	}
	if (str_fmt(c->actor, sizeof(c->actor), "posternctl:%s", who) < 0)
		str_lcpy(c->actor, "posternctl", sizeof(c->actor));
}

static int run_ops(struct ctl *c, const struct ctl_ops_cmd *op, int argc, char **argv)
{
	int rc = op->parse != NULL ? op->parse(c, argc, argv) : parse_args(c, &op->cmd, argc, argv);

	if (rc != EXIT_OK)
		return rc;
	set_actor(c);
	rc = connect_db(c, !op->no_migrate, op->start_embedded, false);
	if (rc == EXIT_OK)
		rc = op->run(c);
	sodium_memzero(c->password, sizeof(c->password));
	disconnect_db(c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write the output\n", ctl_prog);
		return rc == EXIT_OK ? EXIT_FAILED : rc;
	}
	return rc;
}

/* The Docker convention: VAR_FILE names a file holding VAR's value (the
 * compose file passes the database password as PGPASSWORD_FILE). The
 * entrypoint does this for posternd; posternctl does it itself so that
 * `docker exec ... posternctl` and the HEALTHCHECK reach the same database.
 * VAR already set wins. 0, or -1 with a sentence on stderr. */
static int env_from_files(void)
{
	static const char *const vars[] = { "POSTERN_DATABASE_URL", "PGPASSWORD" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		char name[64], value[4096];
		const char *path;
		size_t len;
		FILE *f;

		if (str_fmt(name, sizeof(name), "%s_FILE", vars[i]) < 0)
			return -1;
		path = getenv(name);
		if (path == NULL || *path == '\0' || (getenv(vars[i]) != NULL && *getenv(vars[i])))
			continue;
		f = fopen(path, "re");
		if (f == NULL) {
			fprintf(stderr, "%s: %s: cannot read %s\n", ctl_prog, name, path);
			return -1;
		}
		len = fread(value, 1, sizeof(value) - 1, f);
		fclose(f);
		while (len > 0 && (value[len - 1] == '\n' || value[len - 1] == '\r'))
			len--;
		value[len] = '\0';
		if (setenv(vars[i], value, 1) < 0)
			return -1;
		sodium_memzero(value, sizeof(value));
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct ctl c;	/* static: the password buffer stays off the stack */
	const struct ctl_cmd *cmd;
	const char *level = getenv("POSTERN_LOG_LEVEL");
	enum admin_status st;
	bool noun_known;
	int rc;

	log_init(getenv("POSTERN_LOG_FORMAT"), level != NULL && *level != '\0' ? level : "error");
	if (env_from_files() < 0)
		return EXIT_FAILED;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    (i == 1 && is_help(argv[i]))) {
			usage(stdout);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
		}
	}
	if (argc == 2 && strcmp(argv[1], "alerts") == 0)
		cmd = find_cmd("alerts", "list", &noun_known);
	else
		cmd = find_cmd(argv[1], argc > 2 ? argv[2] : NULL, &noun_known);
	for (size_t i = 0; i < CTL_NOPS; i++)
		if (strcmp(ctl_ops_cmds[i].cmd.noun, argv[1]) == 0)
			return run_ops(&c, &ctl_ops_cmds[i], argc, argv);
	if (cmd == NULL) {
		char safe[64];
		if (!noun_known)
			return usage_error("unknown command %s",
					   str_printable(safe, sizeof(safe), argv[1], strlen(argv[1])));
		if (argc < 3)
			return usage_error("%s needs a subcommand", argv[1]);
		return usage_error("unknown subcommand %s %s", argv[1],
				   str_printable(safe, sizeof(safe), argv[2], strlen(argv[2])));
	}
	c.enable = -1;
	c.per_hour = c.rcpts = -2;
	rc = parse_args(&c, cmd, argc, argv);
	if (rc != EXIT_OK)
		return rc;
	if (cmd->run == cmd_listener_set) {
		struct admin_listener_change ch = listener_change(&c);
		if (!admin_listener_change_check(&ch, &c.err)) {
			fprintf(stderr, "%s: %s\n", ctl_prog, c.err.msg);
			return EXIT_FAILED;
		}
	}
	if ((cmd->password || (cmd->run == cmd_relay_set && c.user != NULL)) &&
	    (rc = read_password(&c)) != EXIT_OK)
		return rc;
	set_actor(&c);
	/* certificate commands seal and unseal private keys */
	rc = connect_db(&c, true, false, strcmp(cmd->noun, "cert") == 0);
	if (rc != EXIT_OK) {
		sodium_memzero(c.password, sizeof(c.password));
		disconnect_db(&c);
		return rc;
	}
	st = cmd->run(&c);
	sodium_memzero(c.password, sizeof(c.password));
	disconnect_db(&c);
	free(c.data_dir);
	free(c.hostnames);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write the output\n", ctl_prog);
		return EXIT_FAILED;
	}
	if (st == ADMIN_OK)
		return EXIT_OK;
	fprintf(stderr, "%s: %s\n", ctl_prog, c.err.msg);
	return st == ADMIN_UNAVAILABLE ? EXIT_UNREACHABLE : EXIT_FAILED;
}
