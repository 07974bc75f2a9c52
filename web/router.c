/* router.c - the method + path table of the JSON API (STYLE rule 5: the
 * flags say what a route needs: a session and CSRF token, an argon2id
 * slot, a path parameter). Paths are matched exactly, or as a prefix
 * followed by exactly one non-empty segment (no '/') for WEB_PARAM routes;
 * a WEB_PARAM path "prefix/{id}/suffix" takes the segment between (req->param
 * then runs on into the suffix: the handler reads it up to its '/').
 * Everything under /api/ that is not here is a 404 (or 405); the few
 * public paths outside /api/ (autoconfiguration) are here too. */
#include "web/web.h"

#include <string.h>

static const struct web_route web_routes[] = {
	{ "POST", "/api/v1/login", WEB_HASH, web_api_login },
	{ "POST", "/api/v1/logout", WEB_AUTH, web_api_logout },
	{ "GET", "/api/v1/me", WEB_AUTH, web_api_me },
	{ "GET", "/api/v1/dashboard", WEB_AUTH, web_api_dashboard },
	{ "GET", "/api/v1/domains", WEB_AUTH, web_api_domains_get },
	{ "POST", "/api/v1/domains", WEB_AUTH, web_api_domains_post },
	{ "DELETE", "/api/v1/domains/", WEB_AUTH | WEB_PARAM, web_api_domains_delete },
	{ "GET", "/api/v1/accounts", WEB_AUTH, web_api_accounts_get },
	{ "POST", "/api/v1/accounts", WEB_AUTH | WEB_HASH, web_api_accounts_post },
	{ "PATCH", "/api/v1/accounts/", WEB_AUTH | WEB_HASH | WEB_PARAM, web_api_accounts_patch },
	{ "DELETE", "/api/v1/accounts/", WEB_AUTH | WEB_PARAM, web_api_accounts_delete },
	{ "GET", "/api/v1/aliases", WEB_AUTH, web_api_aliases_get },
	{ "POST", "/api/v1/aliases", WEB_AUTH, web_api_aliases_post },
	{ "DELETE", "/api/v1/aliases", WEB_AUTH, web_api_aliases_delete },
	{ "GET", "/api/v1/listeners", WEB_AUTH, web_api_listeners_get },
	{ "PATCH", "/api/v1/listeners/", WEB_AUTH | WEB_PARAM, web_api_listeners_patch },
	{ "GET", "/api/v1/queue", WEB_AUTH, web_api_queue_get },
	{ "GET", "/api/v1/audit", WEB_AUTH, web_api_audit_get },
	{ "GET", "/api/v1/totp", WEB_AUTH, web_api_totp_get },
	{ "POST", "/api/v1/totp/enroll", WEB_AUTH, web_api_totp_enroll },
	{ "POST", "/api/v1/totp/confirm", WEB_AUTH, web_api_totp_confirm },
	{ "POST", "/api/v1/totp/disable", WEB_AUTH, web_api_totp_disable },
	{ "GET", "/api/v1/client-setup", WEB_AUTH, web_api_setup_get },
	{ "GET", "/api/v1/dns-records", WEB_AUTH, web_api_dns_get },
	{ "GET", "/api/v1/certificates", WEB_AUTH, web_api_certs_get },
	{ "POST", "/api/v1/certificates", WEB_AUTH, web_api_certs_post },
	{ "POST", "/api/v1/certificates/generate", WEB_AUTH, web_api_certs_generate },
	{ "PATCH", "/api/v1/certificates/", WEB_AUTH | WEB_PARAM, web_api_certs_patch },
	{ "DELETE", "/api/v1/certificates/", WEB_AUTH | WEB_PARAM, web_api_certs_delete },
	/* public client autoconfiguration (setup.c), outside /api */
	{ "GET", "/mail/config-v1.1.xml", 0, web_autoconfig },
	{ "GET", "/.well-known/autoconfig/mail/config-v1.1.xml", 0, web_autoconfig },
	{ "POST", "/autodiscover/autodiscover.xml", WEB_RAW_BODY, web_autodiscover },
	{ "POST", "/Autodiscover/Autodiscover.xml", WEB_RAW_BODY, web_autodiscover },
	{ "GET", "/apple/mobileconfig", 0, web_mobileconfig },
	{ "GET", "/.well-known/mta-sts.txt", 0, web_mta_sts },
	/* its own check: an admin session or POSTERN_METRICS_TOKEN (metrics.c) */
	{ "GET", "/metrics", 0, web_metrics },
	/* acme (api_acme.c) */
	{ "GET", "/api/v1/certificates/acme", WEB_AUTH, web_api_acme_get },
	{ "POST", "/api/v1/certificates/acme", WEB_AUTH, web_api_acme_post },
	/* alerts and held queue rows (api_alerts.c) */
	{ "GET", "/api/v1/alerts", WEB_AUTH, web_api_alerts_get },
	{ "POST", "/api/v1/alerts/{id}/ack", WEB_AUTH | WEB_PARAM, web_api_alerts_ack },
	{ "POST", "/api/v1/queue/{id}/release", WEB_AUTH | WEB_PARAM, web_api_queue_release },
};

/* Matches path against one route; *param_r set for WEB_PARAM. */
static bool web_route_match(const struct web_route *r, const char *path, const char **param_r)
{
	const char *brace = strchr(r->path, '{'), *suffix = NULL, *slash;
	size_t n = brace != NULL ? (size_t)(brace - r->path) : strlen(r->path);

	if (!(r->flags & WEB_PARAM))
		return strcmp(r->path, path) == 0;
	if (strncmp(r->path, path, n) != 0 || path[n] == '\0' || path[n] == '/')
		return false;
	if (brace != NULL)
		suffix = strchr(brace, '}') + 1;	/* table text: always has one */
	slash = strchr(path + n, '/');
	if (suffix == NULL ? slash != NULL : slash == NULL || strcmp(slash, suffix) != 0)
		return false;
	*param_r = path + n;
	return true;
}

const struct web_route *web_route_find(const char *method, const char *path,
				       const char **param_r, bool *path_known_r)
{
	*path_known_r = false;
	*param_r = NULL;
	for (size_t i = 0; i < sizeof(web_routes) / sizeof(web_routes[0]); i++) {
		const char *param = NULL;
		if (!web_route_match(&web_routes[i], path, &param))
			continue;
		*path_known_r = true;
		if (strcmp(web_routes[i].method, method) == 0) {
			*param_r = param;
			return &web_routes[i];
		}
	}
	return NULL;
}
