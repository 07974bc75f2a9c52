/* test_web.c - unit tests of the admin panel's pure parts: the route table
 * (exact paths, one-segment parameters, 404 vs 405, no nested segments)
 * and the public routes outside /api (autoconfiguration, MTA-STS, metrics),
 * and the login failure throttle (per key, at LIMIT-1 / LIMIT, window
 * expiry, reset, a full table replacing its oldest entry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/limits.h"
#include "web/web.h"

/* The public routes outside /api: the autoconfiguration documents, the
 * MTA-STS policy and /metrics; everything else there stays static/404. */
static void test_route_public(void **state)
{
	const char *param;
	bool known;
	const struct web_route *r;

	(void)state;
	r = web_route_find("GET", "/mail/config-v1.1.xml", &param, &known);
	assert_non_null(r);
	assert_false(r->flags & WEB_AUTH);
	assert_non_null(web_route_find("GET", "/.well-known/autoconfig/mail/config-v1.1.xml",
				       &param, &known));
	r = web_route_find("POST", "/autodiscover/autodiscover.xml", &param, &known);
	assert_non_null(r);
	assert_true(r->flags & WEB_RAW_BODY);
	assert_null(web_route_find("GET", "/autodiscover/autodiscover.xml", &param, &known));
	assert_true(known);	/* 405 */
	assert_non_null(web_route_find("GET", "/apple/mobileconfig", &param, &known));
	assert_non_null(web_route_find("GET", "/.well-known/mta-sts.txt", &param, &known));
	r = web_route_find("GET", "/metrics", &param, &known);
	assert_non_null(r);
	assert_false(r->flags & WEB_AUTH);	/* its own check: session or bearer token */
	assert_null(web_route_find("GET", "/app.js", &param, &known));
	assert_false(known);	/* static, not a route */
	assert_null(web_route_find("GET", "/mail/config-v1.1.xml/x", &param, &known));
	/* certificates: exact generate path and one-segment ids */
	assert_non_null(web_route_find("POST", "/api/v1/certificates/generate", &param, &known));
	r = web_route_find("PATCH", "/api/v1/certificates/12", &param, &known);
	assert_non_null(r);
	assert_string_equal(param, "12");
	assert_null(web_route_find("POST", "/api/v1/certificates/12", &param, &known));
	assert_true(known);
}

static void test_route_exact(void **state)
{
	const char *param;
	bool known;
	const struct web_route *r = web_route_find("GET", "/api/v1/domains", &param, &known);

	assert_non_null(r);
	assert_true(known);
	assert_null(param);
	assert_true(r->flags & WEB_AUTH);
	r = web_route_find("POST", "/api/v1/login", &param, &known);
	assert_non_null(r);
	assert_false(r->flags & WEB_AUTH);
	assert_true(r->flags & WEB_HASH);
	/* trailing slash, case and prefixes are other paths */
	assert_null(web_route_find("GET", "/api/v1/domains/", &param, &known));
	assert_null(web_route_find("GET", "/API/v1/domains", &param, &known));
	assert_false(known);
	assert_null(web_route_find("GET", "/api/v1/domainsx", &param, &known));
	assert_false(known);
}

static void test_route_param(void **state)
{
	const char *param;
	bool known;
	const struct web_route *r =
		web_route_find("DELETE", "/api/v1/domains/example.com", &param, &known);

	assert_non_null(r);
	assert_string_equal(param, "example.com");
	r = web_route_find("PATCH", "/api/v1/accounts/a@b.test", &param, &known);
	assert_non_null(r);
	assert_string_equal(param, "a@b.test");
	assert_true(r->flags & WEB_HASH);
	/* no empty and no nested segment */
	assert_null(web_route_find("DELETE", "/api/v1/domains/", &param, &known));
	assert_null(web_route_find("DELETE", "/api/v1/domains/a/b", &param, &known));
	assert_false(known);
	assert_null(param);
}

/* "prefix/{id}/suffix" routes: one segment, then exactly the suffix */
static void test_route_suffix(void **state)
{
	const char *param;
	bool known;
	const struct web_route *r;

	(void)state;
	r = web_route_find("POST", "/api/v1/alerts/7/ack", &param, &known);
	assert_non_null(r);
	assert_true(r->flags & WEB_AUTH);
	assert_string_equal(param, "7/ack");
	assert_non_null(web_route_find("POST", "/api/v1/queue/42/release", &param, &known));
	assert_null(web_route_find("GET", "/api/v1/alerts/7/ack", &param, &known));
	assert_true(known);	/* 405 */
	assert_null(web_route_find("POST", "/api/v1/alerts//ack", &param, &known));
	assert_null(web_route_find("POST", "/api/v1/alerts/7/ack/x", &param, &known));
	assert_null(web_route_find("POST", "/api/v1/alerts/7/a/ack", &param, &known));
	assert_null(web_route_find("POST", "/api/v1/alerts/7", &param, &known));
	assert_false(known);
	assert_null(web_route_find("POST", "/api/v1/queue/7/hold", &param, &known));
	assert_non_null(web_route_find("GET", "/api/v1/alerts", &param, &known));
}

static void test_route_method(void **state)
{
	const char *param;
	bool known;

	assert_null(web_route_find("PUT", "/api/v1/domains", &param, &known));
	assert_true(known);	/* 405, not 404 */
	assert_null(web_route_find("GET", "/api/v1/domains/x", &param, &known));
	assert_true(known);
	assert_null(web_route_find("GET", "/api/v1/nothing", &param, &known));
	assert_false(known);
}

static void test_throttle_limit(void **state)
{
	unsigned retry = 0;
	time_t now = 1000000;

	web_throttle_clear();
	for (int i = 0; i < LIMIT_WEB_LOGIN_FAILS_USER - 1; i++)
		web_throttle_fail("user:a", now);
	assert_false(web_throttle_blocked("user:a", LIMIT_WEB_LOGIN_FAILS_USER, now, &retry));
	web_throttle_fail("user:a", now);
	assert_true(web_throttle_blocked("user:a", LIMIT_WEB_LOGIN_FAILS_USER, now + 10, &retry));
	assert_int_equal(retry, LIMIT_WEB_LOGIN_WINDOW_S - 10);
	/* other keys are independent */
	assert_false(web_throttle_blocked("user:b", LIMIT_WEB_LOGIN_FAILS_USER, now, &retry));
	assert_false(web_throttle_blocked("ip:127.0.0.1", 1, now, &retry));
	/* the window ends */
	assert_true(web_throttle_blocked("user:a", LIMIT_WEB_LOGIN_FAILS_USER,
					 now + LIMIT_WEB_LOGIN_WINDOW_S - 1, &retry));
	assert_false(web_throttle_blocked("user:a", LIMIT_WEB_LOGIN_FAILS_USER,
					  now + LIMIT_WEB_LOGIN_WINDOW_S, &retry));
}

static void test_throttle_reset_and_full(void **state)
{
	unsigned retry = 0;
	time_t now = time(NULL);
	char key[32];

	web_throttle_clear();
	web_throttle_fail("user:x", now);
	assert_true(web_throttle_blocked("user:x", 1, now, &retry));
	web_throttle_reset("user:x");
	assert_false(web_throttle_blocked("user:x", 1, now, &retry));

	/* one more key than the table holds: the oldest goes, nothing breaks */
	web_throttle_fail("user:first", now - 5);
	for (int i = 0; i < LIMIT_WEB_THROTTLE_ENTRIES; i++) {
		snprintf(key, sizeof(key), "ip:%d", i);
		web_throttle_fail(key, now);
	}
	assert_false(web_throttle_blocked("user:first", 1, now, &retry));
	assert_true(web_throttle_blocked("ip:0", 1, now, &retry));
	snprintf(key, sizeof(key), "ip:%d", LIMIT_WEB_THROTTLE_ENTRIES - 1);
	assert_true(web_throttle_blocked(key, 1, now, &retry));
	web_throttle_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_exact),
		cmocka_unit_test(test_route_public),
		cmocka_unit_test(test_route_param),
		cmocka_unit_test(test_route_method),
		cmocka_unit_test(test_route_suffix),
		cmocka_unit_test(test_throttle_limit),
		cmocka_unit_test(test_throttle_reset_and_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
