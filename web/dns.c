/* dns.c - the DNS records a hosted domain should publish, computed from
 * POSTERN_HOSTNAME, the live listeners and the dkim_keys table: MX, SPF
 * (RFC 7208), DKIM (RFC 6376 3.6.1, one TXT per active selector), DMARC
 * (RFC 7489), the SRV records of RFC 6186 and RFC 8314 (implicit TLS
 * preferred; a disabled service gets the "not offered" target "."), the
 * autoconfig/autodiscover names, MTA-STS (RFC 8461: the _mta-sts TXT, the
 * mta-sts host, and the policy served at /.well-known/mta-sts.txt) and
 * TLS-RPT (RFC 8460). Values are shown as zone-file text, names fully
 * qualified. With check=1 each record is also looked up (dns_check.c). */
#include "web/web.h"

#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "config/config.h"
#include "lib/str.h"

#define WEB_MTA_STS_MAX_AGE 604800	/* one week, RFC 8461 3.2 suggests weeks */

static void web_dns_add(json_t *list, const char *type, const char *name, const char *value,
			const char *note)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "name", web_jstr(name));
	json_object_set_new(o, "value", web_jstr(value));
	json_object_set_new(o, "note", json_string(note));
	json_array_append_new(list, o);
}

/* The MTA-STS policy text (mode testing until the operator knows every
 * sender sees a valid certificate). */
static int web_mta_sts_policy(char *out, size_t size, const char *hostname)
{
	return str_fmt(out, size, "version: STSv1\r\nmode: testing\r\nmx: %s\r\nmax_age: %d\r\n",
		       hostname, WEB_MTA_STS_MAX_AGE);
}

/* One SRV record: implicit (RFC 8314) or STARTTLS service of protocol. */
static void web_dns_srv(json_t *list, const struct web_setup *s, const char *service,
			const char *protocol, bool implicit, const char *domain)
{
	const struct web_setup_entry *e = NULL;
	char name[LIMIT_DOMAIN + 32], value[320];

	for (size_t i = 0; i < s->n && e == NULL; i++)
		if (strcmp(s->entries[i].protocol, protocol) == 0 &&
		    s->entries[i].implicit == implicit)
			e = &s->entries[i];
	(void)str_fmt(name, sizeof(name), "_%s._tcp.%s.", service, domain);
	if (e != NULL)
		(void)str_fmt(value, sizeof(value), "%d 1 %d %s.", implicit ? 0 : 10, e->port,
			      s->hostname);
	else
		str_lcpy(value, "0 0 0 .", sizeof(value));
	web_dns_add(list, "SRV", name, value,
		    e == NULL ? "not offered: the target \".\" tells clients so (RFC 6186 3.4)"
		    : implicit ? "RFC 8314: implicit TLS, preferred (lower priority number)"
			       : "RFC 6186: STARTTLS");
}

void web_api_dns_get(struct web_req *req, struct web_reply *rep)
{
	static __thread struct web_setup s;
	char dom[LIMIT_DOMAIN + 1], name[LIMIT_DOMAIN + 80], value[1200], policy[600];
	unsigned char hash[crypto_hash_sha256_BYTES];
	const char *d = web_req_arg(req, "domain");
	const char *params[1] = { dom };
	struct admin_err err;
	enum db_status st;
	PGresult *res;
	json_t *list;

	if (d == NULL || !admin_domain_check(d, dom, sizeof(dom), &err)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "domain", "%s",
				d == NULL ? "domain is required" : err.msg);
		return;
	}
	res = db_exec(req->db, STMT_DOMAIN_BY_NAME, 1, params, NULL, NULL, &st);
	if (st != DB_OK || web_setup_load(req->db, &s, &err) != ADMIN_OK) {
		PQclear(res);
		web_db_down(rep);
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "domain", "domain %s is not hosted here", dom);
		return;
	}
	PQclear(res);
	list = json_array();
	(void)str_fmt(name, sizeof(name), "%s.", dom);
	(void)str_fmt(value, sizeof(value), "10 %s.", s.hostname);
	web_dns_add(list, "MX", name, value, "mail for the domain goes to this server");
	web_dns_add(list, "TXT", name, "\"v=spf1 mx -all\"",
		    "SPF: only the domain's MX hosts send its mail");

	res = db_exec(req->db, STMT_PANEL_DKIM_LIST, 1, params, NULL, NULL, &st);
	for (int i = 0; st == DB_OK && i < PQntuples(res); i++) {
		const char *p = PQgetvalue(res, i, 1);
		/* an Ed25519 key is 32 bytes: 44 base64 characters (RFC 8463) */
		(void)str_fmt(name, sizeof(name), "%s._domainkey.%s.", PQgetvalue(res, i, 0), dom);
		if (str_fmt(value, sizeof(value), "\"v=DKIM1; k=%s; p=%s\"",
			    strlen(p) == 44 ? "ed25519" : "rsa", p) < 0)
			str_lcpy(value, "(key too long to show)", sizeof(value));
		web_dns_add(list, "TXT", name, value, "DKIM public key of this selector");
	}
	if (st == DB_OK && PQntuples(res) == 0) {
		(void)str_fmt(name, sizeof(name), "<selector>._domainkey.%s.", dom);
		web_dns_add(list, "TXT", name, "(none yet)",
			    "generate a DKIM key first: posternctl dkim generate");
	}
	PQclear(res);
	if (st != DB_OK) {
		json_decref(list);
		web_db_down(rep);
		return;
	}

	(void)str_fmt(name, sizeof(name), "_dmarc.%s.", dom);
	(void)str_fmt(value, sizeof(value), "\"v=DMARC1; p=none; rua=mailto:postmaster@%s\"", dom);
	web_dns_add(list, "TXT", name, value,
		    "DMARC: start with p=none, move to quarantine once reports look clean");

	web_dns_srv(list, &s, "submissions", "smtp", true, dom);
	web_dns_srv(list, &s, "imaps", "imap", true, dom);
	web_dns_srv(list, &s, "pop3s", "pop3", true, dom);
	web_dns_srv(list, &s, "submission", "smtp", false, dom);
	web_dns_srv(list, &s, "imap", "imap", false, dom);
	web_dns_srv(list, &s, "pop3", "pop3", false, dom);

	(void)str_fmt(value, sizeof(value), "%s.", s.hostname);
	(void)str_fmt(name, sizeof(name), "autoconfig.%s.", dom);
	web_dns_add(list, "CNAME", name, value,
		    "Thunderbird fetches http://autoconfig.<domain>/mail/config-v1.1.xml");
	(void)str_fmt(name, sizeof(name), "autodiscover.%s.", dom);
	web_dns_add(list, "CNAME", name, value,
		    "Outlook posts to https://autodiscover.<domain>/autodiscover/autodiscover.xml");

	(void)web_mta_sts_policy(policy, sizeof(policy), s.hostname);
	crypto_hash_sha256(hash, (const unsigned char *)policy, strlen(policy));
	(void)str_fmt(name, sizeof(name), "_mta-sts.%s.", dom);
	(void)str_fmt(value, sizeof(value), "\"v=STSv1; id=%02x%02x%02x%02x%02x%02x%02x%02x\"",
		      hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7]);
	web_dns_add(list, "TXT", name, value,
		    "MTA-STS (RFC 8461); id changes whenever the policy does");
	(void)str_fmt(name, sizeof(name), "mta-sts.%s.", dom);
	(void)str_fmt(value, sizeof(value), "%s.", s.hostname);
	web_dns_add(list, "CNAME", name, value,
		    "serves https://mta-sts.<domain>/.well-known/mta-sts.txt (needs a certificate "
		    "naming mta-sts.<domain>)");
	(void)str_fmt(name, sizeof(name), "_smtp._tls.%s.", dom);
	(void)str_fmt(value, sizeof(value), "\"v=TLSRPTv1; rua=mailto:postmaster@%s\"", dom);
	web_dns_add(list, "TXT", name, value, "TLS reporting (RFC 8460)");

	const char *check = web_req_arg(req, "check");
	if (check != NULL && strcmp(check, "1") == 0)
		web_dns_check(list);
	web_reply_json(rep, MHD_HTTP_OK, json_pack("{s:s,s:o,s:o}", "domain", dom, "hostname",
						   web_jstr(s.hostname), "records", list));
}

/* GET /.well-known/mta-sts.txt (RFC 8461 3.2): the same policy for every
 * hosted domain, text/plain. */
void web_mta_sts(struct web_req *req, struct web_reply *rep)
{
	const struct config *cfg = config_get();
	char policy[600];
	char *data;

	(void)req;
	if (web_mta_sts_policy(policy, sizeof(policy), cfg != NULL && cfg->hostname != NULL
				? cfg->hostname : "localhost") < 0) {
		web_reply_error(rep, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "policy too long");
		return;
	}
	data = strdup(policy);
	if (data == NULL)
		abort();
	web_reply_raw(rep, MHD_HTTP_OK, "text/plain; charset=utf-8", data, strlen(data));
}
