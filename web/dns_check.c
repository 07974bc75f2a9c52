/* dns_check.c - the live check of the DNS records page: each record is
 * looked up through core/dns (blocking, so on a thread of its own, all in
 * parallel) and compared with the value to publish: "ok", "different" (with
 * what was found), "missing" (NXDOMAIN/NODATA) or "unknown" (no answer).
 * The request waits LIMIT_DNS_CHECK_MS at most; lookups still running then
 * finish on their detached threads, and the last one frees the batch;
 * web_dns_check_drain() waits for them before core/dns shuts down.
 * XXX: threads are capped per request, not across concurrent requests
 * (only a logged-in admin can ask). */
#include "web/web.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/limits.h"
#include "dns/dns.h"
#include "lib/mem.h"
#include "lib/str.h"

struct web_dns_job {
	enum dns_type type;
	char name[LIMIT_DOMAIN + 80];
	char want[1200];
	const char *status;	/* NULL until answered */
	json_t *found;		/* zone-file text of the records found */
	struct web_dns_batch *batch;
};

struct web_dns_batch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t refs;		/* running threads, plus one for the request */
	size_t n;
	struct web_dns_job jobs[LIMIT_DNS_CHECK_RECORDS];
};

/* detached lookup threads still running, for web_dns_check_drain() */
static pthread_mutex_t web_dns_running_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t web_dns_running_cond = PTHREAD_COND_INITIALIZER;
static size_t web_dns_running;

static const struct {
	const char *name;
	enum dns_type type;
} web_dns_types[] = {
	{ "MX", DNS_T_MX }, { "TXT", DNS_T_TXT }, { "SRV", DNS_T_SRV }, { "CNAME", DNS_T_CNAME },
};

static void web_dns_batch_unref(struct web_dns_batch *b)
{
	pthread_mutex_lock(&b->lock);
	bool last = --b->refs == 0;
	pthread_mutex_unlock(&b->lock);
	if (!last)
		return;
	for (size_t i = 0; i < b->n; i++)
		json_decref(b->jobs[i].found);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	xfree(b);
}

/* The first tag of a TXT value ("v=spf1" of "v=spf1 mx -all", "v=DKIM1"
 * of "v=DKIM1; k=rsa"): its length in text. */
static size_t web_dns_tag_len(const char *text)
{
	return strcspn(text, "; ");
}

/* rr of answer a as zone-file text in out; false when it does not fit. */
static bool web_dns_rr_text(const struct dns_answer *a, const struct dns_rr *rr, char *out,
			    size_t size)
{
	switch (a->type) {
	case DNS_T_MX:
		return str_fmt(out, size, "%u %s.", rr->u.mx.pref, rr->u.mx.host) >= 0;
	case DNS_T_SRV:
		return str_fmt(out, size, "%u %u %u %s.", rr->u.srv.prio, rr->u.srv.weight,
			       rr->u.srv.port, rr->u.srv.target) >= 0;
	case DNS_T_CNAME:
		return str_fmt(out, size, "%s.", rr->u.name) >= 0;
	case DNS_T_TXT:
		return str_fmt(out, size, "\"%s\"", rr->u.txt.text) >= 0;
	default:
		return false;
	}
}

/* Compares answer a with job j's value; sets j->status and j->found. A TXT
 * record counts only when it starts with the same tag (an apex holds other
 * TXT records than SPF). */
static void web_dns_compare(struct web_dns_job *j, const struct dns_answer *a)
{
	static __thread char text[LIMIT_DNS_TXT + 4];
	size_t tag = j->type == DNS_T_TXT ? web_dns_tag_len(j->want + 1) : 0;
	bool match = false;

	j->found = json_array();
	for (size_t i = 0; i < a->n; i++) {
		if (!web_dns_rr_text(a, &a->rr[i], text, sizeof(text)))
			continue;
		if (j->type == DNS_T_TXT) {
			if (strncasecmp(text + 1, j->want + 1, tag) != 0 ||
			    (text[1 + tag] != ';' && text[1 + tag] != ' ' && text[1 + tag] != '"'))
				continue;
			match = match || strcmp(text, j->want) == 0;
		} else {
			match = match || str_caseeq(text, j->want);
		}
		json_array_append_new(j->found, web_jstr(text));
	}
	j->status = match ? "ok" : json_array_size(j->found) > 0 ? "different" : "missing";
}

static void *web_dns_job_run(void *arg)
{
	struct web_dns_job *j = arg;
	struct web_dns_batch *b = j->batch;
	struct dns_answer *a = NULL;
	const char *status = NULL;

	switch (dns_lookup(j->name, j->type, &a)) {
	case DNS_OK:
		break;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		status = "missing";
		break;
	default:
		status = "unknown";
		break;
	}
	pthread_mutex_lock(&b->lock);
	if (status != NULL)
		j->status = status;
	else
		web_dns_compare(j, a);
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	dns_answer_free(&a);
	web_dns_batch_unref(b);
	pthread_mutex_lock(&web_dns_running_lock);
	if (--web_dns_running == 0)
		pthread_cond_broadcast(&web_dns_running_cond);
	pthread_mutex_unlock(&web_dns_running_lock);
	return NULL;
}

void web_dns_check_drain(void)
{
	pthread_mutex_lock(&web_dns_running_lock);
	while (web_dns_running > 0)
		pthread_cond_wait(&web_dns_running_cond, &web_dns_running_lock);
	pthread_mutex_unlock(&web_dns_running_lock);
}

/* The job of record o; false when it cannot be checked (a placeholder). */
static bool web_dns_job_init(struct web_dns_job *j, json_t *o)
{
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *value = json_string_value(json_object_get(o, "value"));
	size_t i;

	if (type == NULL || name == NULL || value == NULL || strchr(name, '<') != NULL ||
	    value[0] == '(')
		return false;
	for (i = 0; i < sizeof(web_dns_types) / sizeof(web_dns_types[0]); i++)
		if (strcmp(web_dns_types[i].name, type) == 0)
			break;
	if (i == sizeof(web_dns_types) / sizeof(web_dns_types[0]))
		return false;
	j->type = web_dns_types[i].type;
	if (j->type == DNS_T_TXT && (value[0] != '"' || strlen(value) < 2))
		return false;
	return str_lcpy(j->name, name, sizeof(j->name)) < sizeof(j->name) &&
	       str_lcpy(j->want, value, sizeof(j->want)) < sizeof(j->want);
}

void web_dns_check(json_t *records)
{
	struct web_dns_batch *b = xcalloc(1, sizeof(*b));
	size_t idx[LIMIT_DNS_CHECK_RECORDS], done;
	struct timespec until;
	pthread_attr_t attr;
	pthread_condattr_t ca;
	json_t *o;
	size_t i;

	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	b->refs = 1;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	json_array_foreach(records, i, o) {
		struct web_dns_job *j = &b->jobs[b->n];
		pthread_t t;

		if (b->n == LIMIT_DNS_CHECK_RECORDS || !web_dns_job_init(j, o)) {
			if (b->n == LIMIT_DNS_CHECK_RECORDS)
				json_object_set_new(o, "check", json_string("unknown"));
			continue;
		}
		j->batch = b;
		idx[b->n++] = i;
		pthread_mutex_lock(&b->lock);
		b->refs++;
		pthread_mutex_unlock(&b->lock);
		pthread_mutex_lock(&web_dns_running_lock);
		web_dns_running++;
		pthread_mutex_unlock(&web_dns_running_lock);
		if (pthread_create(&t, &attr, web_dns_job_run, j) != 0) {
			j->status = "unknown";
			web_dns_batch_unref(b);
			pthread_mutex_lock(&web_dns_running_lock);
			web_dns_running--;
			pthread_mutex_unlock(&web_dns_running_lock);
		}
	}
	pthread_attr_destroy(&attr);

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += LIMIT_DNS_CHECK_MS / 1000;
	until.tv_nsec += (long)(LIMIT_DNS_CHECK_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->lock);
	for (;;) {
		done = 0;
		for (i = 0; i < b->n; i++)
			done += b->jobs[i].status != NULL;
		if (done == b->n || pthread_cond_timedwait(&b->cond, &b->lock, &until) != 0)
			break;
	}
	for (i = 0; i < b->n; i++) {
		struct web_dns_job *j = &b->jobs[i];
		o = json_array_get(records, idx[i]);
		json_object_set_new(o, "check", json_string(j->status != NULL ? j->status
									    : "unknown"));
		if (j->status != NULL && strcmp(j->status, "different") == 0)
			json_object_set_new(o, "found", json_deep_copy(j->found));
	}
	pthread_mutex_unlock(&b->lock);
	web_dns_batch_unref(b);
}
