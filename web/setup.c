/* setup.c - client setup: the settings table of a hosted domain (server
 * name, port and security of IMAP, POP3 and SMTP submission, from the live
 * listeners table; implicit TLS first, RFC 8314 section 5.1), and the
 * automatic configuration endpoints built from it: Thunderbird autoconfig
 * (clientConfig 1.1, GET /mail/config-v1.1.xml and the .well-known path),
 * Outlook POX autodiscover (POST /autodiscover/autodiscover.xml), and an
 * unsigned Apple configuration profile (/apple/mobileconfig?email=).
 * Plain-text listeners and the MX listener ("smtp", port 25) are never
 * offered; among equals the standard listener (submission) comes before an
 * alternate (submission-alt). Every value placed in XML is escaped. */
#include "web/web.h"

#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "config/config.h"
#include "lib/buf.h"
#include "lib/str.h"

#define WEB_SETUP_XML_MAX (64 * 1024)	/* one generated document */

struct web_setup_acc {
	struct web_setup *s;
};

/* Implicit TLS first (RFC 8314), then the standard listeners before
 * alternates such as submission-alt, then by port. */
static int web_setup_rank(const struct web_setup_entry *e)
{
	static const char *const standard[] = { "smtps", "submission", "imaps", "imap", "pop3s",
						"pop3" };
	int rank = e->implicit ? 0 : 2;

	for (size_t i = 0; i < sizeof(standard) / sizeof(standard[0]); i++)
		if (strcmp(e->listener, standard[i]) == 0)
			return rank;
	return rank + 1;
}

static int web_setup_cmp(const void *a, const void *b)
{
	const struct web_setup_entry *x = a, *y = b;
	int c = strcmp(x->protocol, y->protocol);

	if (c != 0)
		return c;
	if (web_setup_rank(x) != web_setup_rank(y))
		return web_setup_rank(x) - web_setup_rank(y);
	return x->port - y->port;
}

static void web_setup_add(void *arg, const struct admin_listener *l)
{
	struct web_setup *s = arg;
	struct web_setup_entry *e;

	if (!l->enabled || strcmp(l->tls, "none") == 0 || s->n >= WEB_SETUP_MAX)
		return;
	/* the MX listener takes mail from other servers, not from clients */
	if (strcmp(l->protocol, "smtp") == 0 && strcmp(l->name, "smtp") == 0)
		return;
	e = &s->entries[s->n++];
	str_lcpy(e->protocol, l->protocol, sizeof(e->protocol));
	str_lcpy(e->listener, l->name, sizeof(e->listener));
	e->port = l->port;
	e->implicit = strcmp(l->tls, "implicit") == 0;
}

enum admin_status web_setup_load(struct db *db, struct web_setup *s, struct admin_err *err)
{
	const struct config *cfg = config_get();
	enum admin_status as;

	memset(s, 0, sizeof(*s));
	str_lcpy(s->hostname, cfg != NULL && cfg->hostname != NULL ? cfg->hostname : "localhost",
		 sizeof(s->hostname));
	as = admin_listener_list(db, web_setup_add, s, err);
	if (as == ADMIN_OK)
		qsort(s->entries, s->n, sizeof(s->entries[0]), web_setup_cmp);
	return as;
}

const struct web_setup_entry *web_setup_best(const struct web_setup *s, const char *protocol)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->entries[i].protocol, protocol) == 0)
			return &s->entries[i];
	return NULL;
}

/* 1 hosted and active, 0 not hosted, -1 database down. */
static int web_setup_hosted(struct db *db, const char *domain)
{
	const char *params[1] = { domain };
	enum db_status st;
	PGresult *res = db_exec(db, STMT_DOMAIN_BY_NAME, 1, params, NULL, NULL, &st);
	int rc = st != DB_OK ? -1 : PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] == 't';

	PQclear(res);
	return rc;
}

/* ---------- the panel's JSON ---------- */

void web_api_setup_get(struct web_req *req, struct web_reply *rep)
{
	static __thread struct web_setup s;
	char dom[LIMIT_DOMAIN + 1];
	const char *d = web_req_arg(req, "domain");
	struct admin_err err;
	json_t *list, *o;
	int hosted;

	if (d == NULL || !admin_domain_check(d, dom, sizeof(dom), &err)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "domain", "%s",
				d == NULL ? "domain is required" : err.msg);
		return;
	}
	hosted = web_setup_hosted(req->db, dom);
	if (hosted < 0 || web_setup_load(req->db, &s, &err) != ADMIN_OK) {
		web_db_down(rep);
		return;
	}
	if (hosted == 0) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "domain", "domain %s is not hosted here", dom);
		return;
	}
	list = json_array();
	for (size_t i = 0; i < s.n; i++) {
		const struct web_setup_entry *e = &s.entries[i];
		json_t *x = json_object();
		json_object_set_new(x, "protocol", json_string(e->protocol));
		json_object_set_new(x, "direction", json_string(strcmp(e->protocol, "smtp") == 0 ?
								 "outgoing" : "incoming"));
		json_object_set_new(x, "server", web_jstr(s.hostname));
		json_object_set_new(x, "port", json_integer(e->port));
		json_object_set_new(x, "security", json_string(e->implicit ? "SSL/TLS" : "STARTTLS"));
		json_object_set_new(x, "listener", web_jstr(e->listener));
		json_array_append_new(list, x);
	}
	o = json_object();
	json_object_set_new(o, "domain", json_string(dom));
	json_object_set_new(o, "server", web_jstr(s.hostname));
	json_object_set_new(o, "username", json_string("the full email address"));
	json_object_set_new(o, "authentication", json_string("normal password"));
	json_object_set_new(o, "settings", list);
	web_reply_json(rep, MHD_HTTP_OK, o);
}

/* ---------- XML helpers ---------- */

/* Appends s with &, <, >, " and ' escaped. */
static void web_xml_text(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': (void)buf_append_str(b, "&amp;"); break;
		case '<': (void)buf_append_str(b, "&lt;"); break;
		case '>': (void)buf_append_str(b, "&gt;"); break;
		case '"': (void)buf_append_str(b, "&quot;"); break;
		case '\'': (void)buf_append_str(b, "&apos;"); break;
		default: (void)buf_append(b, s, 1); break;
		}
	}
}

static void web_xml_elem(struct buf *b, const char *indent, const char *tag, const char *text)
{
	(void)buf_printf(b, "%s<%s>", indent, tag);
	web_xml_text(b, text);
	(void)buf_printf(b, "</%s>\n", tag);
}

/* Sends b as the reply (taking its memory). */
static void web_xml_reply(struct web_reply *rep, struct buf *b, const char *type)
{
	size_t len = buf_len(b);
	char *data = malloc(len + 1);

	if (data == NULL)
		abort();
	memcpy(data, buf_data(b), len);
	data[len] = '\0';
	buf_free(b);
	web_reply_raw(rep, MHD_HTTP_OK, type, data, len);
}

/* The address argument checked: 0 (local/domain filled) or -1 with rep. */
static int web_setup_address(struct web_reply *rep, const char *field, const char *address,
			     char *local, char *domain)
{
	struct admin_err err;

	if (address == NULL || *address == '\0') {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, field, "%s is required", field);
		return -1;
	}
	if (!admin_address_check(address, false, local, domain, &err)) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, field, "%s", err.msg);
		return -1;
	}
	return 0;
}

/* Loads the settings for a hosted domain: 0, or -1 with rep (404/503). */
static int web_setup_for(struct web_req *req, struct web_reply *rep, const char *domain,
			 struct web_setup *s)
{
	struct admin_err err;
	int hosted = web_setup_hosted(req->db, domain);

	if (hosted < 0 || web_setup_load(req->db, s, &err) != ADMIN_OK) {
		web_db_down(rep);
		return -1;
	}
	if (hosted == 0) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, "domain", "domain %s is not hosted here",
				domain);
		return -1;
	}
	return 0;
}

/* ---------- Thunderbird autoconfig ---------- */

void web_autoconfig(struct web_req *req, struct web_reply *rep)
{
	static __thread struct web_setup s;
	char local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1], port[8];
	const char *email = web_req_arg(req, "emailaddress");
	struct admin_err err;
	struct buf b;

	if (email != NULL && *email != '\0') {
		if (web_setup_address(rep, "emailaddress", email, local, domain) < 0)
			return;
	} else {
		/* autoconfig.<domain>/mail/config-v1.1.xml without the address */
		const char *host = web_req_header(req, MHD_HTTP_HEADER_HOST);
		char h[LIMIT_DOMAIN + 16];
		str_lcpy(h, host != NULL ? host : "", sizeof(h));
		h[strcspn(h, ":")] = '\0';
		if (strncmp(h, "autoconfig.", 11) != 0 ||
		    !admin_domain_check(h + 11, domain, sizeof(domain), &err)) {
			web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "emailaddress",
					"emailaddress is required");
			return;
		}
	}
	if (web_setup_for(req, rep, domain, &s) < 0)
		return;
	buf_init(&b, WEB_SETUP_XML_MAX);
	(void)buf_append_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			     "<clientConfig version=\"1.1\">\n  <emailProvider id=\"");
	web_xml_text(&b, domain);
	(void)buf_append_str(&b, "\">\n");
	web_xml_elem(&b, "    ", "domain", domain);
	web_xml_elem(&b, "    ", "displayName", domain);
	web_xml_elem(&b, "    ", "displayShortName", domain);
	/* incoming first (IMAP before POP3), each protocol implicit TLS first */
	for (int out = 0; out < 2; out++) {
		for (size_t i = 0; i < s.n; i++) {
			const struct web_setup_entry *e = &s.entries[i];
			bool smtp = strcmp(e->protocol, "smtp") == 0;
			if (smtp != (out == 1))
				continue;
			(void)str_fmt(port, sizeof(port), "%d", e->port);
			(void)buf_printf(&b, "    <%s type=\"%s\">\n",
					 smtp ? "outgoingServer" : "incomingServer", e->protocol);
			web_xml_elem(&b, "      ", "hostname", s.hostname);
			web_xml_elem(&b, "      ", "port", port);
			web_xml_elem(&b, "      ", "socketType", e->implicit ? "SSL" : "STARTTLS");
			web_xml_elem(&b, "      ", "authentication", "password-cleartext");
			web_xml_elem(&b, "      ", "username", "%EMAILADDRESS%");
			(void)buf_printf(&b, "    </%s>\n", smtp ? "outgoingServer" : "incomingServer");
		}
	}
	(void)buf_append_str(&b, "  </emailProvider>\n</clientConfig>\n");
	web_xml_reply(rep, &b, "application/xml; charset=utf-8");
}

/* ---------- Outlook POX autodiscover ---------- */

/* The text of <EMailAddress> in the request (case-insensitive tag), into
 * out; false when absent or too long. Not an XML parser: the request
 * schema has exactly this one element of interest and no nesting in it. */
static bool web_autodiscover_email(const unsigned char *body, size_t len, char *out, size_t size)
{
	static const char open[] = "<emailaddress>", close[] = "</emailaddress>";
	size_t start = 0, end;

	for (; start + sizeof(open) - 1 <= len; start++)
		if (str_casestarts((const char *)body + start, len - start, open))
			break;
	if (start + sizeof(open) - 1 > len)
		return false;
	start += sizeof(open) - 1;
	for (end = start; end + sizeof(close) - 1 <= len; end++)
		if (str_casestarts((const char *)body + end, len - end, close))
			break;
	if (end + sizeof(close) - 1 > len || end - start >= size)
		return false;
	memcpy(out, body + start, end - start);
	out[end - start] = '\0';
	/* surrounding blanks are allowed by the schema */
	while (*out == ' ' || *out == '\t' || *out == '\r' || *out == '\n')
		memmove(out, out + 1, strlen(out));
	for (size_t n = strlen(out); n > 0 && strchr(" \t\r\n", out[n - 1]) != NULL; n--)
		out[n - 1] = '\0';
	return true;
}

static void web_autodiscover_protocol(struct buf *b, const struct web_setup *s,
				      const struct web_setup_entry *e, const char *type,
				      const char *email)
{
	char port[8];

	(void)str_fmt(port, sizeof(port), "%d", e->port);
	(void)buf_append_str(b, "      <Protocol>\n");
	web_xml_elem(b, "        ", "Type", type);
	web_xml_elem(b, "        ", "Server", s->hostname);
	web_xml_elem(b, "        ", "Port", port);
	web_xml_elem(b, "        ", "DomainRequired", "off");
	web_xml_elem(b, "        ", "LoginName", email);
	web_xml_elem(b, "        ", "SPA", "off");
	web_xml_elem(b, "        ", "SSL", "on");
	web_xml_elem(b, "        ", "Encryption", e->implicit ? "SSL" : "TLS");
	web_xml_elem(b, "        ", "AuthRequired", "on");
	if (strcmp(type, "SMTP") == 0)
		web_xml_elem(b, "        ", "UsePOPAuth", "off");
	(void)buf_append_str(b, "      </Protocol>\n");
}

void web_autodiscover(struct web_req *req, struct web_reply *rep)
{
	static __thread struct web_setup s;
	char email[LIMIT_ADDRESS + 1], local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1];
	static const struct {
		const char *protocol, *type;
	} order[] = { { "imap", "IMAP" }, { "pop3", "POP3" }, { "smtp", "SMTP" } };
	struct buf b;

	if (!web_autodiscover_email(req->raw_body, req->raw_len, email, sizeof(email))) {
		web_reply_error(rep, MHD_HTTP_BAD_REQUEST, "EMailAddress",
				"the request has no EMailAddress element");
		return;
	}
	if (web_setup_address(rep, "EMailAddress", email, local, domain) < 0 ||
	    web_setup_for(req, rep, domain, &s) < 0)
		return;
	buf_init(&b, WEB_SETUP_XML_MAX);
	(void)buf_append_str(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			     "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/"
			     "autodiscover/responseschema/2006\">\n"
			     "  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/"
			     "outlook/responseschema/2006a\">\n"
			     "    <Account>\n"
			     "      <AccountType>email</AccountType>\n"
			     "      <Action>settings</Action>\n");
	/* one per type, the preferred (implicit TLS) one */
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct web_setup_entry *e = web_setup_best(&s, order[i].protocol);
		if (e != NULL)
			web_autodiscover_protocol(&b, &s, e, order[i].type, email);
	}
	(void)buf_append_str(&b, "    </Account>\n  </Response>\n</Autodiscover>\n");
	web_xml_reply(rep, &b, "application/xml; charset=utf-8");
}

/* ---------- Apple configuration profile ---------- */

static void web_plist_key(struct buf *b, const char *key, const char *type, const char *value)
{
	(void)buf_printf(b, "      <key>%s</key>\n", key);
	if (strcmp(type, "true") == 0 || strcmp(type, "false") == 0) {
		(void)buf_printf(b, "      <%s/>\n", type);
		return;
	}
	(void)buf_printf(b, "      <%s>", type);
	web_xml_text(b, value);
	(void)buf_printf(b, "</%s>\n", type);
}

/* A random RFC 4122 version 4 UUID, upper-case as Apple writes them. */
static void web_uuid(char out[37])
{
	unsigned char r[16];

	randombytes_buf(r, sizeof(r));
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	(void)str_fmt(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
		      "%02X%02X%02X%02X%02X%02X", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
		      r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

void web_mobileconfig(struct web_req *req, struct web_reply *rep)
{
	static __thread struct web_setup s;
	char local[LIMIT_LOCAL_PART + 1], domain[LIMIT_DOMAIN + 1];
	char port_in[8], port_out[8], uuid1[37], uuid2[37], ident[LIMIT_DOMAIN + 64];
	const char *email = web_req_arg(req, "email");
	const struct web_setup_entry *in, *out;
	struct buf b;

	if (web_setup_address(rep, "email", email, local, domain) < 0 ||
	    web_setup_for(req, rep, domain, &s) < 0)
		return;
	in = web_setup_best(&s, "imap");
	if (in == NULL)
		in = web_setup_best(&s, "pop3");
	out = web_setup_best(&s, "smtp");
	if (in == NULL || out == NULL) {
		web_reply_error(rep, MHD_HTTP_NOT_FOUND, NULL, "no TLS listener for %s is enabled",
				in == NULL ? "IMAP or POP3" : "SMTP submission");
		return;
	}
	(void)str_fmt(port_in, sizeof(port_in), "%d", in->port);
	(void)str_fmt(port_out, sizeof(port_out), "%d", out->port);
	(void)str_fmt(ident, sizeof(ident), "postern.%s", domain);
	web_uuid(uuid1);
	web_uuid(uuid2);
	buf_init(&b, WEB_SETUP_XML_MAX);
	(void)buf_append_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			     "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
			     "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
			     "<plist version=\"1.0\">\n<dict>\n  <key>PayloadContent</key>\n"
			     "  <array>\n    <dict>\n");
	web_plist_key(&b, "EmailAccountDescription", "string", email);
	web_plist_key(&b, "EmailAccountName", "string", email);
	web_plist_key(&b, "EmailAccountType", "string",
		      strcmp(in->protocol, "imap") == 0 ? "EmailTypeIMAP" : "EmailTypePOP");
	web_plist_key(&b, "EmailAddress", "string", email);
	web_plist_key(&b, "IncomingMailServerAuthentication", "string", "EmailAuthPassword");
	web_plist_key(&b, "IncomingMailServerHostName", "string", s.hostname);
	web_plist_key(&b, "IncomingMailServerPortNumber", "integer", port_in);
	web_plist_key(&b, "IncomingMailServerUseSSL", in->implicit ? "true" : "false", "");
	web_plist_key(&b, "IncomingMailServerUsername", "string", email);
	web_plist_key(&b, "OutgoingMailServerAuthentication", "string", "EmailAuthPassword");
	web_plist_key(&b, "OutgoingMailServerHostName", "string", s.hostname);
	web_plist_key(&b, "OutgoingMailServerPortNumber", "integer", port_out);
	web_plist_key(&b, "OutgoingMailServerUseSSL", out->implicit ? "true" : "false", "");
	web_plist_key(&b, "OutgoingMailServerUsername", "string", email);
	web_plist_key(&b, "OutgoingPasswordSameAsIncomingPassword", "true", "");
	web_plist_key(&b, "PayloadDescription", "string", "Email account");
	web_plist_key(&b, "PayloadDisplayName", "string", email);
	(void)buf_append_str(&b, "      <key>PayloadIdentifier</key>\n      <string>");
	web_xml_text(&b, ident);
	(void)buf_append_str(&b, ".account</string>\n");
	web_plist_key(&b, "PayloadType", "string", "com.apple.mail.managed");
	web_plist_key(&b, "PayloadUUID", "string", uuid2);
	web_plist_key(&b, "PayloadVersion", "integer", "1");
	(void)buf_append_str(&b, "    </dict>\n  </array>\n");
	/* the outer dictionary is indented like the inner one: same helper */
	web_plist_key(&b, "PayloadDisplayName", "string", domain);
	web_plist_key(&b, "PayloadIdentifier", "string", ident);
	web_plist_key(&b, "PayloadRemovalDisallowed", "false", "");
	web_plist_key(&b, "PayloadType", "string", "Configuration");
	web_plist_key(&b, "PayloadUUID", "string", uuid1);
	web_plist_key(&b, "PayloadVersion", "integer", "1");
	(void)buf_append_str(&b, "</dict>\n</plist>\n");
	(void)str_fmt(rep->attachment, sizeof(rep->attachment), "%s.mobileconfig", domain);
	web_xml_reply(rep, &b, "application/x-apple-aspen-config");
}
