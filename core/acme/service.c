/* service.c - the ACME thread of posternd. Woken by acme_service_kick()
 * (NOTIFY acme_requested, the hourly renewal timer, start-up), it queues
 * renewals for ACME certificates ending within LIMIT_ACME_RENEW_DAYS, then
 * claims requested orders one at a time (SKIP LOCKED: several nodes share
 * the work) and runs each to the end, writing every step and the CA's
 * error into acme_orders. The account key lives sealed in acme_accounts,
 * one per directory URL. Its own PGconn, reopened after a failure.
 * An order runs under a session advisory lock: when its node dies, the
 * next pass of any node (start-up, NOTIFY, SIGHUP, the hourly timer)
 * starts it again. XXX: the CA's validation must reach the node that runs
 * the order (one node behind the name, or port 80/443 forwarded to it). */
#include "acme/service.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "acme/client.h"
#include "acme/jws.h"
#include "config/config.h"
#include "config/limits.h"
#include "db/acme.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

static struct {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool kicked;
	atomic_bool stop;
	char *conninfo;
	struct acme_settings settings;
	struct db *db;
} acme_svc = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

struct acme_job {
	int64_t id;
	const char *hostname;
};

static void acme_progress(void *arg, const char *step)
{
	struct acme_job *j = arg;
	char host[80];

	str_printable(host, sizeof(host), j->hostname, strlen(j->hostname));
	log_info("acme", "order %lld for %s: %s", (long long)j->id, host, step);
	if (db_acme_step(acme_svc.db, j->id, step) != DB_OK)
		log_warn("acme", "cannot record the progress of order %lld", (long long)j->id);
}

/* The account for the directory, made when missing. 0 or -1. */
static int acme_account_load(struct acme_account *acct, bool *fresh_r, char *err, size_t errsize)
{
	char *pem = NULL, *url = NULL;

	*fresh_r = false;
	if (db_acme_account_get(acme_svc.db, acme_svc.settings.directory, &pem, &url) != DB_OK) {
		str_lcpy(err, "cannot read the ACME account from the database", errsize);
		return -1;
	}
	if (pem != NULL) {
		acct->key = acme_key_from_pem(pem);
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
		acct->url = url;
		if (acct->key == NULL) {
			str_lcpy(err, "the stored ACME account key is unreadable", errsize);
			return -1;
		}
		return 0;
	}
	acct->key = acme_key_new();
	acct->url = NULL;
	*fresh_r = true;
	if (acct->key == NULL) {
		str_lcpy(err, "cannot generate an ACME account key", errsize);
		return -1;
	}
	return 0;
}

static void acme_run_order(int64_t id, const char *hostname, const char *challenge)
{
	struct acme_job job = { .id = id, .hostname = hostname };
	struct acme_account acct = { 0 };
	struct acme_cert cert = { 0 };
	char err[LIMIT_ACME_ERROR];
	bool fresh = false;
	int rc;

	rc = acme_account_load(&acct, &fresh, err, sizeof(err));
	if (rc == 0) {
		char *url_before = acct.url ? xstrdup(acct.url) : NULL;
		rc = acme_issue(&acme_svc.settings, &acct, hostname, challenge, acme_progress, &job,
				&acme_svc.stop, &cert, err, sizeof(err));
		bool changed = acct.url != NULL &&
			       (url_before == NULL || strcmp(url_before, acct.url) != 0);
		free(url_before);
		if (changed) { /* new, or registered again */
			char *pem = acme_key_pem(acct.key);
			if (pem == NULL || db_acme_account_put(acme_svc.db, acme_svc.settings.directory,
							       pem, acct.url) != DB_OK)
				log_warn("acme", "cannot store the new ACME account");
			if (pem != NULL)
				OPENSSL_cleanse(pem, strlen(pem));
			free(pem);
		}
	}
	if (rc == 0) {
		enum db_status st = db_acme_install(acme_svc.db, id, hostname, cert.chain_pem, cert.key_pem,
				     cert.not_after);
		if (st == DB_OK)
			log_info("acme", "order %lld: certificate installed", (long long)id);
		else
			(void)str_fmt(err, sizeof(err), "cannot store the certificate (database status %d)",
				      (int)st);
		rc = st == DB_OK ? 0 : -1;
	}
	if (rc < 0) {
		log_warn("acme", "order %lld failed: %s", (long long)id, err);
		if (db_acme_fail(acme_svc.db, id, err) != DB_OK)
			log_warn("acme", "cannot record the failure of order %lld", (long long)id);
	}
	acme_cert_clear(&cert);
	EVP_PKEY_free(acct.key);
	free(acct.url);
}

/* One pass: renewals, then every requested order. */
static void acme_pass(void)
{
	const char *err = NULL;
	int due = 0;

	if (acme_svc.db != NULL && !db_ok(acme_svc.db))
		db_close(&acme_svc.db);
	if (acme_svc.db == NULL) {
		acme_svc.db = db_open(acme_svc.conninfo, &err);
		if (acme_svc.db == NULL) {
			log_warn("acme", "no database connection: %s", err ? err : "error");
			return;
		}
	}
	if (db_acme_renew_due(acme_svc.db, LIMIT_ACME_RENEW_DAYS, &due) != DB_OK)
		log_warn("acme", "cannot look for certificates to renew: %s", db_error(acme_svc.db));
	else if (due > 0)
		log_info("acme", "%d certificate(s) due for renewal", due);
	while (!atomic_load(&acme_svc.stop)) {
		int64_t id;
		char *host, *challenge;
		if (db_acme_claim(acme_svc.db, &id, &host, &challenge) != DB_OK) {
			log_warn("acme", "cannot take an order: %s", db_error(acme_svc.db));
			return;
		}
		if (id == 0)
			return;
		acme_run_order(id, host, challenge);
		db_acme_release(acme_svc.db, id);
		free(host);
		free(challenge);
	}
}

static void *acme_thread(void *arg)
{
	for (;;) {
		pthread_mutex_lock(&acme_svc.mu);
		while (!acme_svc.kicked && !atomic_load(&acme_svc.stop))
			pthread_cond_wait(&acme_svc.cond, &acme_svc.mu);
		acme_svc.kicked = false;
		pthread_mutex_unlock(&acme_svc.mu);
		if (atomic_load(&acme_svc.stop))
			break;
		acme_pass();
	}
	db_close(&acme_svc.db);
	return NULL;
}

int acme_service_start(const char *conninfo, const struct config *cfg)
{
	if (acme_client_init() < 0)
		return -1;
	acme_svc.conninfo = xstrdup(conninfo);
	acme_svc.settings = (struct acme_settings){
		.directory = cfg->acme_directory,
		.ca_file = cfg->acme_ca_file,
		.email = cfg->acme_email,
		.listen_address = cfg->listen_address,
		.http_port = cfg->acme_http_port,
		.tls_port = cfg->acme_tls_port,
	};
	atomic_store(&acme_svc.stop, false);
	if (pthread_create(&acme_svc.thread, NULL, acme_thread, NULL) != 0) {
		xfree(acme_svc.conninfo);
		return -1;
	}
	acme_svc.started = true;
	return 0;
}

void acme_service_kick(void)
{
	if (!acme_svc.started)
		return;
	pthread_mutex_lock(&acme_svc.mu);
	acme_svc.kicked = true;
	pthread_cond_signal(&acme_svc.cond);
	pthread_mutex_unlock(&acme_svc.mu);
}

void acme_service_stop(void)
{
	if (!acme_svc.started)
		return;
	pthread_mutex_lock(&acme_svc.mu);
	atomic_store(&acme_svc.stop, true);
	pthread_cond_signal(&acme_svc.cond);
	pthread_mutex_unlock(&acme_svc.mu);
	pthread_join(acme_svc.thread, NULL);
	acme_svc.started = false;
	xfree(acme_svc.conninfo);
}
