/* deliver.c - one batch of queue rows (one destination domain) over SMTP:
 * MX lookup (RFC 5321 5.1: MX in preference order, else the domain's own
 * A/AAAA; RFC 7505 null MX = permanent failure), each host's addresses in
 * turn until every recipient has an answer, one connection carrying every
 * message of the batch: EHLO, STARTTLS whenever offered (opportunistic,
 * RFC 3207 without certificate checks unless the domain has an MTA-STS
 * policy, RFC 8461: then only its mx hosts, and in enforce mode TLS with a
 * valid certificate for the MX name or no delivery; or DANE, RFC 7672:
 * DNSSEC-secure TLSA records of the MX host decide, before MTA-STS),
 * PIPELINING (RFC 2920) of MAIL and RCPT, SIZE (RFC 1870), 8BITMIME
 * (RFC 6152), SMTPUTF8 (RFC 6531), CHUNKING (RFC 3030 BDAT) when offered.
 * Loop detection: more than LIMIT_SMTP_RECEIVED_HOPS Received fields. */
#include "queue/queue_private.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <libpq-fe.h>
#include <openssl/ssl.h>

#include "config/limits.h"
#include "db/db.h"
#include "db/relay.h"
#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "mail/data.h"
#include "mail/dkim.h"

static SSL_CTX *deliver_tls_ctx;		/* opportunistic: no checks */
static SSL_CTX *deliver_tls_verify_ctx;	/* MTA-STS enforce: chain + name */
static SSL_CTX *deliver_tls_dane_ctx;	/* DANE (RFC 7672): TLSA records decide */

int queue_deliver_init(const struct queue_settings *cfg, const char **error_r)
{
	deliver_tls_ctx = SSL_CTX_new(TLS_client_method());
	deliver_tls_verify_ctx = SSL_CTX_new(TLS_client_method());
	if (deliver_tls_ctx == NULL || deliver_tls_verify_ctx == NULL) {
		*error_r = "cannot create the TLS client context";
		return -1;
	}
	SSL_CTX_set_min_proto_version(deliver_tls_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(deliver_tls_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(deliver_tls_verify_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(deliver_tls_verify_ctx, SSL_VERIFY_PEER, NULL);
	if ((cfg->ca_file != NULL
		     ? SSL_CTX_load_verify_locations(deliver_tls_verify_ctx, cfg->ca_file, NULL)
		     : SSL_CTX_set_default_verify_paths(deliver_tls_verify_ctx)) != 1) {
		*error_r = "cannot load the CA certificates (POSTERN_TLS_CA_FILE)";
		return -1;
	}
	/* the opportunistic context records the verdict for MTA-STS testing */
	if (cfg->ca_file != NULL)
		(void)SSL_CTX_load_verify_locations(deliver_tls_ctx, cfg->ca_file, NULL);
	else
		(void)SSL_CTX_set_default_verify_paths(deliver_tls_ctx);
	deliver_tls_dane_ctx = SSL_CTX_new(TLS_client_method());
	if (deliver_tls_dane_ctx == NULL || SSL_CTX_dane_enable(deliver_tls_dane_ctx) <= 0) {
		*error_r = "cannot create the DANE TLS context";
		return -1;
	}
	SSL_CTX_set_min_proto_version(deliver_tls_dane_ctx, TLS1_2_VERSION);
	if (mtasts_init(cfg) < 0) {
		*error_r = "cannot initialise libcurl";
		return -1;
	}
	return 0;
}

void queue_deliver_shutdown(void)
{
	SSL_CTX_free(deliver_tls_ctx);
	SSL_CTX_free(deliver_tls_verify_ctx);
	SSL_CTX_free(deliver_tls_dane_ctx);
	deliver_tls_ctx = deliver_tls_verify_ctx = deliver_tls_dane_ctx = NULL;
	mtasts_shutdown();
}

/* --- results --- */

static void row_result(struct queue_row *r, int cls, const char *status, const char *mta,
		       const char *diag)
{
	r->result = cls;
	str_lcpy(r->status, status, sizeof(r->status));
	str_lcpy(r->mta, mta, sizeof(r->mta));
	str_lcpy(r->diag, diag, sizeof(r->diag));
}

static void row_reply(struct queue_row *r, const struct smtpc_reply *rep, const char *mta)
{
	char status[16], diag[sizeof(r->diag)];
	int cls = rep->code / 100;
	smtpc_status(rep, status, sizeof(status));
	str_fmt(diag, sizeof(diag), "%d %s", rep->code, rep->text);
	row_result(r, cls == 2 ? 2 : cls == 5 ? 5 : 4, status, mta, diag);
}

/* Every row of [lo, hi) still without a result gets this one. */
static void rows_pending(struct queue_row *rows, size_t lo, size_t hi, int cls,
			 const char *status, const char *mta, const char *diag)
{
	for (size_t i = lo; i < hi; i++)
		if (rows[i].result == 0)
			row_result(&rows[i], cls, status, mta, diag);
}

static size_t rows_open(const struct queue_row *rows, size_t lo, size_t hi)
{
	size_t n = 0;
	for (size_t i = lo; i < hi; i++)
		n += rows[i].result == 0;
	return n;
}

static bool has_8bit(const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		if (s[i] & 0x80)
			return true;
	return false;
}

/* --- one message on an open session --- */

/* 0: the session may go on; -1: the connection broke (rows without a
 * result are tried on the next host). */
static int deliver_msg(struct smtpc *c, const char *mta, struct queue_row *rows,
		       struct queue_msg *m)
{
	struct smtpc_reply rep;
	bool utf8 = has_8bit(rows[m->lo].sender, strlen(rows[m->lo].sender));
	bool ok[LIMIT_QUEUE_BATCH] = { false };
	char line[LIMIT_ADDRESS + 128], params[96] = "";
	size_t accepted = 0;

	for (size_t i = m->lo; i < m->hi; i++)
		utf8 |= rows[i].result == 0 && has_8bit(rows[i].rcpt, strlen(rows[i].rcpt));
	if (utf8 && !(c->ext & SMTPC_EXT_SMTPUTF8)) {
		rows_pending(rows, m->lo, m->hi, 5, "5.6.7", mta,
			     "the remote server does not support SMTPUTF8 (RFC 6531)");
		return 0;
	}
	if ((c->ext & SMTPC_EXT_SIZE) && c->size_max > 0 && m->len > c->size_max) {
		char d[128];
		str_fmt(d, sizeof(d), "message of %zu octets over the remote limit of %llu",
			m->len, c->size_max);
		rows_pending(rows, m->lo, m->hi, 5, "5.3.4", mta, d);
		return 0;
	}
	str_fmt(params, sizeof(params), "%s%s",
		(c->ext & SMTPC_EXT_8BITMIME) && has_8bit(m->body, m->len) ? " BODY=8BITMIME" : "",
		utf8 ? " SMTPUTF8" : "");
	if (c->ext & SMTPC_EXT_SIZE) {
		char sz[40];
		str_fmt(sz, sizeof(sz), " SIZE=%zu", m->len);
		size_t pl = strlen(params);
		str_lcpy(params + pl, sz, sizeof(params) - pl);
	}
	str_fmt(line, sizeof(line), "MAIL FROM:<%s>%s", rows[m->lo].sender, params);
	bool pipe = (c->ext & SMTPC_EXT_PIPELINING) != 0;
	if (pipe) {
		/* RFC 2920: MAIL and every RCPT in one write, replies in order */
		struct buf cmds;
		int rc = 0;
		buf_init(&cmds, (size_t)(m->hi - m->lo + 1) * (LIMIT_ADDRESS + 128));
		rc |= buf_printf(&cmds, "%s\r\n", line);
		for (size_t i = m->lo; i < m->hi; i++)
			if (rows[i].result == 0)
				rc |= buf_printf(&cmds, "RCPT TO:<%s>\r\n", rows[i].rcpt);
		if (rc != 0)
			abort();	/* sized above */
		rc = smtpc_write(c, buf_data(&cmds), buf_len(&cmds));
		buf_free(&cmds);
		if (rc < 0 || smtpc_reply(c, LIMIT_SMTPC_CMD_MS, &rep) < 0)
			return -1;
	} else if (smtpc_cmd(c, LIMIT_SMTPC_CMD_MS, &rep, line) < 0) {
		return -1;
	}
	bool mail_ok = rep.code / 100 == 2;
	struct smtpc_reply mail_rep = rep;
	for (size_t i = m->lo; i < m->hi; i++) {
		if (rows[i].result != 0)
			continue;
		if (pipe) {
			if (smtpc_reply(c, LIMIT_SMTPC_CMD_MS, &rep) < 0)
				return -1;
		} else if (mail_ok) {
			str_fmt(line, sizeof(line), "RCPT TO:<%s>", rows[i].rcpt);
			if (smtpc_cmd(c, LIMIT_SMTPC_CMD_MS, &rep, line) < 0)
				return -1;
		}
		if (!mail_ok) {
			row_reply(&rows[i], &mail_rep, mta);
		} else if (rep.code / 100 == 2) {
			ok[i - m->lo] = true;
			accepted++;
		} else {
			row_reply(&rows[i], &rep, mta);
		}
	}
	if (accepted == 0) {
		if (mail_ok && smtpc_cmd(c, LIMIT_SMTPC_CMD_MS, &rep, "RSET") < 0)
			return -1;
		return 0;
	}
	if (c->ext & SMTPC_EXT_CHUNKING) {
		str_fmt(line, sizeof(line), "BDAT %zu LAST\r\n", m->len);
		if (smtpc_write(c, line, strlen(line)) < 0 || smtpc_write(c, m->body, m->len) < 0)
			return -1;
	} else {
		if (smtpc_cmd(c, LIMIT_SMTPC_DATA_INIT_MS, &rep, "DATA") < 0)
			return -1;
		if (rep.code != 354) {
			for (size_t i = m->lo; i < m->hi; i++)
				if (ok[i - m->lo])
					row_reply(&rows[i], &rep, mta);
			return 0;
		}
		if (smtpc_data(c, m->body, m->len) < 0)
			return -1;
	}
	if (smtpc_reply(c, LIMIT_SMTPC_DATA_END_MS, &rep) < 0)
		return -1;	/* XXX: outcome unknown: sent again later (a possible duplicate) */
	for (size_t i = m->lo; i < m->hi; i++)
		if (ok[i - m->lo])
			row_reply(&rows[i], &rep, mta);
	return 0;
}

/* --- one connection --- */

/* AUTH PLAIN (RFC 4954) to the smarthost; 0, or -1 with err set. */
static int deliver_auth(struct smtpc *c, const struct relay *relay, char *err, size_t errsize)
{
	struct smtpc_reply rep;
	size_t ul = strlen(relay->user), pl = strlen(relay->password);
	size_t n = ul + pl + 2;
	unsigned char *raw = malloc(n);
	char *line = malloc(BASE64_ENCODED_SIZE(n) + 16);
	int rc = -1;

	if (raw == NULL || line == NULL)
		abort();
	raw[0] = '\0';
	memcpy(raw + 1, relay->user, ul);
	raw[ul + 1] = '\0';
	memcpy(raw + ul + 2, relay->password, pl);
	memcpy(line, "AUTH PLAIN ", 11);
	base64_encode(raw, n, line + 11);
	if (smtpc_cmd(c, LIMIT_SMTPC_CMD_MS, &rep, line) < 0)
		str_fmt(err, errsize, "%s: %s", relay->host, c->error);
	else if (rep.code != 235)
		str_fmt(err, errsize, "%s refused AUTH: %d %s", relay->host, rep.code, rep.text);
	else
		rc = 0;
	sodium_memzero(raw, n);
	sodium_memzero(line, strlen(line));
	free(raw);
	free(line);
	return rc;
}

/* How one connection may use TLS. */
struct deliver_tls {
	const struct relay *relay;
	enum mtasts_mode sts;
	const struct dns_answer *tlsa;	/* DANE: usable TLSA records, or NULL */
	bool plain;		/* in: no STARTTLS (the retry after a failed handshake) */
	bool failed;		/* out: the handshake failed where plain text may follow */
};

static void deliver_session(struct smtpc *c, const char *host, struct queue_row *rows,
			    struct queue_msg *msgs, size_t n_msgs, const struct queue_settings *cfg,
			    struct deliver_tls *t, char *err, size_t errsize)
{
	const struct relay *relay = t->relay;
	enum mtasts_mode sts = t->sts;
	struct smtpc_reply rep;

	if (relay->set && relay->tls == RELAY_TLS_IMPLICIT &&
	    smtpc_tls(c, deliver_tls_ctx, host, NULL, NULL) < 0)
		goto broken;
	if (smtpc_reply(c, LIMIT_SMTPC_GREETING_MS, &rep) < 0)
		goto broken;
	if (rep.code != 220) {
		str_fmt(err, errsize, "%s greeted with %d %s", host, rep.code, rep.text);
		goto quit;
	}
	if (smtpc_ehlo(c, cfg->hostname, &rep) < 0)
		goto broken;
	if (rep.code / 100 != 2) {
		str_fmt(err, errsize, "%s refused EHLO/HELO: %d %s", host, rep.code, rep.text);
		goto quit;
	}
	if (t->tlsa != NULL && !(c->ext & SMTPC_EXT_STARTTLS)) {
		str_fmt(err, errsize, "%s does not offer STARTTLS (DANE TLSA records)", host);
		goto quit;
	}
	if (sts == MTASTS_ENFORCE && !(c->ext & SMTPC_EXT_STARTTLS)) {
		str_fmt(err, errsize, "%s does not offer STARTTLS (MTA-STS policy enforce)", host);
		goto quit;
	}
	if (relay->set && relay->tls == RELAY_TLS_STARTTLS && !(c->ext & SMTPC_EXT_STARTTLS)) {
		str_fmt(err, errsize, "relay %s does not offer STARTTLS", host);
		goto quit;
	}
	if ((c->ext & SMTPC_EXT_STARTTLS) && !t->plain &&
	    !(relay->set && relay->tls != RELAY_TLS_STARTTLS)) {
		if (smtpc_cmd(c, LIMIT_SMTPC_CMD_MS, &rep, "STARTTLS") < 0)
			goto broken;
		if (rep.code == 220) {
			SSL_CTX *ctx = t->tlsa != NULL	      ? deliver_tls_dane_ctx
				       : sts == MTASTS_ENFORCE ? deliver_tls_verify_ctx
							       : deliver_tls_ctx;
			if (smtpc_tls(c, ctx, host, sts != MTASTS_NONE || t->tlsa ? host : NULL,
				      t->tlsa) < 0) {
				if (t->tlsa != NULL)
					str_fmt(err, errsize, "%s: %s (DANE)", host, c->error);
				else if (sts == MTASTS_ENFORCE)
					str_fmt(err, errsize, "%s: %s (MTA-STS policy enforce)",
						host, c->error);
				else
					str_fmt(err, errsize, "%s: %s", host, c->error);
				/* opportunistic (RFC 7435): plain text beats no mail */
				t->failed = sts == MTASTS_NONE && !relay->set && t->tlsa == NULL;
				return;
			}
			if (sts == MTASTS_TESTING && SSL_get_verify_result(c->ssl) != X509_V_OK)
				log_warn("queue", "%s: certificate not valid (%s); delivered anyway "
					 "(MTA-STS policy testing)", host,
					 X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
			if (smtpc_ehlo(c, cfg->hostname, &rep) < 0)
				goto broken;
			if (rep.code / 100 != 2) {
				str_fmt(err, errsize, "%s refused EHLO after STARTTLS: %d %s", host,
					rep.code, rep.text);
				goto quit;
			}
			log_debug("queue", "%s: TLS %s", host, SSL_get_version(c->ssl));
		} else if (relay->set || sts == MTASTS_ENFORCE || t->tlsa != NULL) {
			str_fmt(err, errsize, "%s refused STARTTLS: %d %s", host, rep.code, rep.text);
			goto quit;
		}
	}
	if (relay->set && relay->password != NULL) {
		if (c->ssl == NULL) {
			str_fmt(err, errsize, "relay %s: AUTH refused without TLS", host);
			goto quit;
		}
		if (deliver_auth(c, relay, err, errsize) < 0)
			goto quit;
	}
	for (size_t m = 0; m < n_msgs; m++) {
		if (rows_open(rows, msgs[m].lo, msgs[m].hi) == 0)
			continue;
		if (deliver_msg(c, host, rows, &msgs[m]) < 0)
			goto broken;
	}
quit:
	(void)smtpc_cmd(c, LIMIT_SMTPC_CMD_MS, &rep, "QUIT");
	return;
broken:
	str_fmt(err, errsize, "%s: %s", host, c->error);
}

/* Addresses of host (AAAA then A) into sa; returns the count. */
static size_t deliver_addrs(const char *host, int port, struct sockaddr_storage *sa, size_t max,
			    char *err, size_t errsize)
{
	static const enum dns_type types[] = { DNS_T_AAAA, DNS_T_A };
	struct sockaddr_in *l4 = (struct sockaddr_in *)&sa[0];
	struct sockaddr_in6 *l6 = (struct sockaddr_in6 *)&sa[0];
	size_t n = 0;

	memset(&sa[0], 0, sizeof(sa[0]));
	if (inet_pton(AF_INET, host, &l4->sin_addr) == 1) {	/* a relay given by address */
		l4->sin_family = AF_INET;
		l4->sin_port = htons((uint16_t)port);
		return 1;
	}
	if (inet_pton(AF_INET6, host, &l6->sin6_addr) == 1) {
		l6->sin6_family = AF_INET6;
		l6->sin6_port = htons((uint16_t)port);
		return 1;
	}

	for (size_t t = 0; t < 2; t++) {
		struct dns_answer *a = NULL;
		enum dns_result r = dns_lookup(host, types[t], &a);
		for (size_t i = 0; r == DNS_OK && i < a->n && n < max; i++, n++) {
			memset(&sa[n], 0, sizeof(sa[n]));
			if (types[t] == DNS_T_A) {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&sa[n];
				s4->sin_family = AF_INET;
				s4->sin_port = htons((uint16_t)port);
				s4->sin_addr = a->rr[i].u.a;
			} else {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa[n];
				s6->sin6_family = AF_INET6;
				s6->sin6_port = htons((uint16_t)port);
				s6->sin6_addr = a->rr[i].u.aaaa;
			}
		}
		if (r == DNS_TEMPFAIL)
			str_fmt(err, errsize, "%s: DNS lookup failed: %s", host, a->why);
		dns_answer_free(&a);
	}
	if (n == 0 && err[0] == '\0')
		str_fmt(err, errsize, "%s: no address", host);
	return n;
}

/* DANE (RFC 7672 2.2): TLSA records of _port._tcp.host. 0 with *tlsa_r
 * set to a DNSSEC-secure answer holding records (DANE applies) or NULL
 * (no records, or an insecure answer: opportunistic TLS); -1 when the
 * lookup failed or was bogus (the host is not used). */
static int deliver_tlsa(const char *host, int port, struct dns_answer **tlsa_r, char *err,
			size_t errsize)
{
	char name[DNS_NAME_MAX + 1];
	struct dns_answer *a = NULL;

	*tlsa_r = NULL;
	if (str_fmt(name, sizeof(name), "_%d._tcp.%s", port, host) < 0)
		return 0;
	enum dns_result r = dns_lookup(name, DNS_T_TLSA, &a);
	if (r == DNS_TEMPFAIL) {
		str_fmt(err, errsize, "%s: TLSA lookup failed (%s)", host, a->why);
		dns_answer_free(&a);
		return -1;
	}
	if (r == DNS_OK && a->sec == DNS_SEC_SECURE) {
		log_debug("queue", "%s: %zu TLSA record(s): DANE", host, a->n);
		*tlsa_r = a;
		return 0;
	}
	dns_answer_free(&a);
	return 0;
}

static bool deliver_loop(struct queue_row *rows, struct queue_msg *m)
{
	struct mail_received_counter rc;
	mail_received_init(&rc);
	mail_received_feed(&rc, m->body, m->len);
	if (rc.count <= LIMIT_SMTP_RECEIVED_HOPS)
		return false;
	rows_pending(rows, m->lo, m->hi, 5, "5.4.6", "",
		     "mail loop: too many Received header fields");
	return true;
}

static void deliver_load(struct db *db, struct queue_row *rows, struct queue_msg *m)
{
	char blob[24];
	enum db_status st;

	str_fmt(blob, sizeof(blob), "%lld", (long long)rows[m->lo].blob);
	const char *p[1] = { blob };
	PGresult *res = db_exec_binary(db, STMT_QUEUE_BLOB, 1, p, NULL, NULL, &st);
	if (st == DB_OK && PQntuples(res) == 1) {
		const unsigned char *b = (const unsigned char *)PQgetvalue(res, 0, 0);
		size_t len = (size_t)PQgetlength(res, 0, 0);
		char *sig = NULL;
		/* DKIM (helper mailauth): signed at every attempt, with every
		 * active key of the From: domain; unsigned when it has none,
		 * or (logged) when signing fails */
		if (dkim_sign_message(db, b, len, &sig) < 0)
			log_warn("queue", "queue id %lld: DKIM signing failed; sent unsigned",
				 (long long)rows[m->lo].id);
		size_t sl = sig != NULL ? strlen(sig) : 0;
		m->len = sl + len;
		m->body = xmalloc(m->len + 1);
		if (sl > 0)
			memcpy(m->body, sig, sl);
		memcpy(m->body + sl, b, len);
		free(sig);
	} else {
		rows_pending(rows, m->lo, m->hi, 4, "4.3.0", "", "message body not readable");
	}
	PQclear(res);
}

void queue_deliver(struct db *db, struct queue_row *rows, struct queue_msg *msgs, size_t n_msgs,
		   const struct queue_settings *cfg, int stop_fd)
{
	const char *domain = strrchr(rows[msgs[0].lo].rcpt, '@');
	size_t n_rows = msgs[n_msgs - 1].hi;
	char err[SMTPC_TEXT_MAX + 64] = "";
	char hosts[LIMIT_DNS_RECORDS][DNS_NAME_MAX + 1];
	size_t n_hosts = 0, open = 0;
	struct relay relay;
	struct mtasts_policy sts = { .mode = MTASTS_NONE };
	bool mx_secure = false;
	int port = cfg->port;

	for (size_t m = 0; m < n_msgs; m++) {
		deliver_load(db, rows, &msgs[m]);
		if (msgs[m].body != NULL)
			(void)deliver_loop(rows, &msgs[m]);
	}
	if (domain == NULL || domain[1] == '\0') {
		rows_pending(rows, 0, n_rows, 5, "5.1.3", "", "bad recipient address");
		return;
	}
	domain++;
	if (relay_load(db, &relay) != DB_OK) {
		rows_pending(rows, 0, n_rows, 4, "4.3.0", "", "cannot read the relay setting");
		return;
	}
	if (relay.set) {
		str_lcpy(hosts[n_hosts++], relay.host, sizeof(hosts[0]));
		port = relay.port;
		goto send;
	}
	/* XXX: address-literal recipients ([192.0.2.1]) are routed as names */
	struct dns_answer *mx = NULL;
	enum dns_result mr = dns_lookup(domain, DNS_T_MX, &mx);
	/* XXX: DANE for an implicit MX (no MX records) needs the secure
	 * NODATA proof and secure address records; not used for now */
	mx_secure = mr == DNS_OK && mx->sec == DNS_SEC_SECURE;
	switch (mr) {
	case DNS_OK:
		if (mx->n == 1 && mx->rr[0].u.mx.host[0] == '\0') {
			rows_pending(rows, 0, n_rows, 5, "5.1.10", "",
				     "556 5.1.10 the recipient's domain accepts no mail (null MX, "
				     "RFC 7505)");
			dns_answer_free(&mx);
			return;
		}
		for (size_t i = 0; i < mx->n && n_hosts < LIMIT_DNS_RECORDS; i++)
			if (mx->rr[i].u.mx.host[0] != '\0')
				str_lcpy(hosts[n_hosts++], mx->rr[i].u.mx.host, sizeof(hosts[0]));
		break;
	case DNS_NODATA:
		str_lcpy(hosts[n_hosts++], domain, sizeof(hosts[0]));	/* implicit MX */
		break;
	case DNS_NXDOMAIN:
		rows_pending(rows, 0, n_rows, 5, "5.1.2", "", "the recipient's domain does not exist");
		dns_answer_free(&mx);
		return;
	default:
		str_fmt(err, sizeof(err), "MX lookup for %s failed: %s", domain, mx->why);
		rows_pending(rows, 0, n_rows, 4, "4.4.3", "", err);
		dns_answer_free(&mx);
		return;
	}
	dns_answer_free(&mx);
	mtasts_get(db, domain, &sts);
	if (sts.mode == MTASTS_ENFORCE) {
		size_t keep = 0;
		for (size_t h = 0; h < n_hosts; h++)
			if (mtasts_mx_match(&sts, hosts[h]))
				memmove(hosts[keep++], hosts[h], sizeof(hosts[0]));
			else
				log_info("queue", "%s: MX %s not in the MTA-STS policy: skipped", domain,
					 hosts[h]);
		n_hosts = keep;
		if (n_hosts == 0) {
			rows_pending(rows, 0, n_rows, 4, "4.7.5", "",
				     "no MX host matches the domain's MTA-STS policy (enforce)");
			return;
		}
	}
send:
	for (size_t h = 0; h < n_hosts && (open = rows_open(rows, 0, n_rows)) > 0; h++) {
		struct sockaddr_storage sa[8];
		struct dns_answer *tlsa = NULL;
		if (!relay.set && mx_secure && deliver_tlsa(hosts[h], port, &tlsa, err, sizeof(err)) < 0)
			continue;	/* RFC 7672 2.2: a failed TLSA lookup skips the host */
		size_t na = deliver_addrs(hosts[h], port, sa, 8, err, sizeof(err));
		for (size_t a = 0; a < na && rows_open(rows, 0, n_rows) > 0; a++) {
			struct deliver_tls t = { .relay = &relay, .sts = sts.mode, .tlsa = tlsa };
			socklen_t len = sa[a].ss_family == AF_INET ? sizeof(struct sockaddr_in)
								   : sizeof(struct sockaddr_in6);
			do {
				struct smtpc c;
				if (t.failed) {
					log_info("queue", "%s: TLS handshake failed; again in plain "
						 "text", hosts[h]);
					t.plain = true;
					t.failed = false;
				}
				if (smtpc_connect(&c, (struct sockaddr *)&sa[a], len, stop_fd) < 0)
					str_fmt(err, sizeof(err), "%s: %s", hosts[h], c.error);
				else
					deliver_session(&c, hosts[h], rows, msgs, n_msgs, cfg, &t, err,
							sizeof(err));
				smtpc_close(&c);
			} while (t.failed && !t.plain);
		}
		dns_answer_free(&tlsa);
	}
	rows_pending(rows, 0, n_rows, 4, "4.4.1", "", err[0] ? err : "no host to try");
	relay_clear_secret(&relay);
}
