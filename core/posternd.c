/* posternd.c - the mail daemon's main: bootstrap settings, privilege drop,
 * database (embedded or external) and migrations, certificates, worker
 * pools, listeners, then the loop. Signals arrive through a signalfd in the
 * loop: SIGTERM/SIGINT shut down gracefully (listeners closed, sessions say
 * goodbye, exit once no conn and no job is left, or after LIMIT_SHUTDOWN_MS),
 * SIGHUP and NOTIFY config_changed reload listeners and certificates from
 * the database through a DB job (SIGHUP also wakes the ACME thread, as do
 * NOTIFY acme_requested and an hourly renewal timer), SIGCHLD notices an
 * embedded PostgreSQL that died. Start-up is the only place where the loop
 * thread talks to libpq synchronously (nothing is served yet). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "acme/service.h"
#include "auth/login.h"
#include "auth/seal.h"
#include "config/config.h"
#include "config/limits.h"
#include "config/privdrop.h"
#include "db/db.h"
#include "db/embedded.h"
#include "db/listen.h"
#include "db/store.h"
#include "dns/dns.h"
#include "imap/imap.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "net/conn.h"
#include "net/listener.h"
#include "net/loop.h"
#include "net/tls.h"
#include "pop3/pop3.h"
#include "smtp/rcpt_cache.h"
#include "queue/queue.h"
#include "smtp/smtp.h"
#include "web/server.h"
#include "work/work.h"

#define MAIN_CERT_DAYS 825		/* CA/B forum ceiling for server certificates */
#define MAIN_DB_CONNECT_TRIES_MS (30 * 1000)	/* external database not up yet (compose) */
#define MAIN_MAX_LISTENERS 64
#define MAIN_SHUTDOWN_POLL_MS 50

static struct config main_cfg;
static char *main_conninfo;
static bool main_embedded;
static bool main_shutting_down;
static int main_exit_code;
static int main_sigfd = -1;
static struct loop_timer *main_shutdown_timer;
static struct loop_timer *main_poll_timer;
static bool main_reload_running, main_reload_again;
static struct loop_timer *main_acme_timer;

/* --- listener state on stderr --- */

static const char *main_tls_text(enum tls_mode t)
{
	return t == TLS_MODE_IMPLICIT ? "implicit TLS" : t == TLS_MODE_STARTTLS ? "STARTTLS" : "no TLS";
}

static void main_print_listeners(void)
{
	struct listener_status st[MAIN_MAX_LISTENERS];
	size_t n = listener_status(st, MAIN_MAX_LISTENERS);

	for (size_t i = 0; i < n; i++) {
		const struct listener_spec *s = &st[i].spec;
		if (st[i].up && st[i].error[0] == '\0')
			log_info("posternd", "%-15s %-5s port %-5d %-12s up", s->name, s->protocol,
				 s->port, main_tls_text(s->tls));
		else if (st[i].up)
			log_info("posternd", "%-15s %-5s port %-5d %-12s up (%s)", s->name, s->protocol,
				 s->port, main_tls_text(s->tls), st[i].error);
		else
			log_info("posternd", "%-15s %-5s port %-5d %-12s off: %s", s->name,
				 s->protocol, s->port, main_tls_text(s->tls), st[i].error);
	}
}

/* --- reload: listeners and certificates from the database --- */

struct main_reload_job {
	struct job job;
	struct listener_spec *specs;
	size_t n_specs;
	struct tls_cert_pem *certs;
	size_t n_certs;
	enum db_status st_listeners, st_certs;
	char *hostname;
};

static void main_reload(void);

static void main_reload_run(struct job *j, struct db *db)
{
	struct main_reload_job *r = (struct main_reload_job *)j;
	if (db == NULL) {
		r->st_listeners = r->st_certs = DB_TEMP;
		return;
	}
	r->st_listeners = db_listeners_load(db, &r->specs, &r->n_specs);
	r->st_certs = db_certs_load(db, r->hostname, &r->certs, &r->n_certs);
}

static void main_reload_done(struct job *j)
{
	struct main_reload_job *r = (struct main_reload_job *)j;

	main_reload_running = false;
	if (!main_shutting_down) {
		if (r->st_certs == DB_OK && r->n_certs > 0) {
			const char *err = NULL;
			if (tls_load(r->certs, r->n_certs, &err) < 0)
				log_warn("posternd", "certificates not reloaded: %s", err);
			else
				web_server_certs(r->certs, r->n_certs);
		} else if (r->st_certs != DB_OK) {
			log_warn("posternd", "reload: cannot read certificates (database status %d)",
				 (int)r->st_certs);
		}
		if (r->st_listeners == DB_OK) {
			listener_apply(r->specs, r->n_specs);
		} else {
			log_warn("posternd", "reload: cannot read listeners (database status %d)",
				 (int)r->st_listeners);
		}
	}
	if (r->certs != NULL)
		db_certs_free(r->certs, r->n_certs);
	free(r->specs);
	free(r->hostname);
	free(r);
	if (main_reload_again && !main_shutting_down) {
		main_reload_again = false;
		main_reload();
	}
}

static void main_reload(void)
{
	if (main_shutting_down)
		return;
	if (main_reload_running) {
		main_reload_again = true; /* one more pass after the running one */
		return;
	}
	struct main_reload_job *r = xcalloc(1, sizeof(*r));
	r->job.run = main_reload_run;
	r->job.done = main_reload_done;
	r->hostname = xstrdup(main_cfg.hostname);
	if (work_submit_db(&r->job) < 0) {
		log_warn("posternd", "reload: job queue full, not reloaded");
		free(r->hostname);
		free(r);
		return;
	}
	main_reload_running = true;
}

static void main_on_notify(const char *channel, const char *payload)
{
	if (strcmp(channel, "mailbox_changed") == 0) {
		imap_notify_mailbox(payload);
		return;
	}
	if (strcmp(channel, "directory_changed") == 0) {
		rcpt_cache_flush();
		return;
	}
	if (strcmp(channel, "lost") == 0) {
		rcpt_cache_enable(false);	/* changes would go unheard */
		return;
	}
	if (strcmp(channel, "reconnected") == 0) {
		rcpt_cache_enable(true);
		imap_notify_all();
	}
	if (strcmp(channel, "acme_requested") == 0 || strcmp(channel, "reconnected") == 0)
		acme_service_kick();
	if (strcmp(channel, "config_changed") == 0 || strcmp(channel, "reconnected") == 0) {
		log_debug("posternd", "%s: reloading listeners and certificates", channel);
		main_reload();
	}
}

/* --- ACME renewals: the timer only wakes the ACME thread --- */

static void main_acme_tick(void *arg)
{
	main_acme_timer = loop_timer_add(LIMIT_ACME_RENEW_CHECK_MS, main_acme_tick, NULL);
	acme_service_kick();
}

/* --- shutdown --- */

static void main_shutdown_check(void)
{
	if (main_shutting_down && conn_count() == 0 && work_pending() == 0)
		loop_stop();
}

/* Idle hooks run in registration order, so conns freed by a later hook
 * are only seen on the next iteration: poll too, the loop may be asleep. */
static void main_shutdown_poll(void *arg)
{
	main_poll_timer = loop_timer_add(MAIN_SHUTDOWN_POLL_MS, main_shutdown_poll, NULL);
	main_shutdown_check();
}

/* XXX: conns still open here are not closed one by one: the process exits
 * and the kernel closes their sockets. */
static void main_shutdown_deadline(void *arg)
{
	main_shutdown_timer = NULL;
	log_warn("posternd", "%zu connection(s) and %u job(s) left after %d s: stopping anyway",
		 conn_count(), work_pending(), LIMIT_SHUTDOWN_MS / 1000);
	loop_stop();
}

static void main_begin_shutdown(int code)
{
	if (main_shutting_down)
		return;
	main_shutting_down = true;
	main_exit_code = code;
	log_info("posternd", "shutting down (%zu connection(s) open)", conn_count());
	listener_close_all();
	conn_shutdown_all();
	main_shutdown_timer = loop_timer_add(LIMIT_SHUTDOWN_MS, main_shutdown_deadline, NULL);
	main_poll_timer = loop_timer_add(MAIN_SHUTDOWN_POLL_MS, main_shutdown_poll, NULL);
	loop_on_idle(main_shutdown_check);
}

/* --- signals --- */

static void main_check_child(void)
{
	pid_t pid = pg_embedded_pid();
	if (pid <= 0)
		return;
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	/* WNOWAIT: leave the reaping to pg_embedded_stop(). */
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid &&
	    !main_shutting_down) {
		log_error("posternd", "the embedded PostgreSQL (pid %d) exited (%s %d): stopping",
			  (int)pid, si.si_code == CLD_EXITED ? "status" : "signal", si.si_status);
		main_begin_shutdown(1);
	}
}

static void main_on_signal(void *arg, uint32_t events)
{
	struct signalfd_siginfo si;

	for (;;) {
		ssize_t n = read(main_sigfd, &si, sizeof(si));
		if (n != (ssize_t)sizeof(si))
			break;
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			main_begin_shutdown(0);
			break;
		case SIGHUP:
			log_info("posternd", "SIGHUP: reloading listeners and certificates");
			main_reload();
			acme_service_kick(); /* and look for ACME renewals now */
			break;
		case SIGCHLD:
			main_check_child();
			break;
		default:
			break;
		}
	}
}

static int main_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	/* Blocked before any thread starts, so only the signalfd sees them. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	main_sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (main_sigfd < 0)
		return -1;
	return loop_add(main_sigfd, EPOLLIN, main_on_signal, NULL);
}

/* --- start-up --- */


/* The start-up connection, retried while an external server comes up. */
static struct db *main_db_connect(void)
{
	const char *err = NULL;
	struct timespec ts = { 0, 200 * 1000000L };
	int waited = 0;

	for (;;) {
		struct db *db = db_open(main_conninfo, &err);
		if (db != NULL)
			return db;
		if (main_embedded || waited >= MAIN_DB_CONNECT_TRIES_MS) {
			log_error("posternd", "cannot connect to the database: %s", err ? err : "error");
			return NULL;
		}
		if (waited == 0)
			log_warn("posternd", "database not reachable yet (%s), retrying for %d s",
				 err ? err : "error", MAIN_DB_CONNECT_TRIES_MS / 1000);
		nanosleep(&ts, NULL);
		waited += 200;
	}
}

/* A first self-signed certificate so every TLS port works at once. */
static int main_ensure_cert(struct db *db)
{
	long long count = 0, not_after = 0;
	char *cert = NULL, *key = NULL;
	enum db_status st = db_cert_count(db, &count);

	if (st != DB_OK) {
		log_error("posternd", "cannot count certificates: %s", db_error(db));
		return -1;
	}
	if (count > 0)
		return 0;
	if (tls_generate_selfsigned(main_cfg.hostname, MAIN_CERT_DAYS, &cert, &key) < 0)
		return -1;
	tls_cert_not_after(cert, &not_after);
	const char *hosts[] = { main_cfg.hostname };
	st = db_cert_insert(db, hosts, 1, cert, key, not_after);
	OPENSSL_cleanse(key, strlen(key));
	free(key);
	free(cert);
	if (st != DB_OK && st != DB_CONFLICT) {
		log_error("posternd", "cannot store the self-signed certificate: %s", db_error(db));
		return -1;
	}
	log_info("posternd", "generated a self-signed certificate for %s (%d days)",
		 main_cfg.hostname, MAIN_CERT_DAYS);
	return 0;
}

/* Everything that needs the start-up database connection. */
static int main_bootstrap_db(struct listener_spec **specs_r, size_t *n_specs_r)
{
	const char *err = NULL;
	struct tls_cert_pem *certs = NULL;
	size_t n_certs = 0;
	int rc = -1;

	struct db *db = main_db_connect();
	if (db == NULL)
		return -1;
	if (db_migrate(db, main_cfg.sql_dir, &err) < 0) {
		log_error("posternd", "database migration failed (%s): %s", main_cfg.sql_dir, err);
		goto out;
	}
	if (seal_init(main_cfg.data_dir, &err) < 0) {
		log_error("posternd", "seal key: %s", err);
		goto out;
	}
	if (main_ensure_cert(db) < 0)
		goto out;
	if (db_certs_load(db, main_cfg.hostname, &certs, &n_certs) != DB_OK) {
		log_error("posternd", "cannot load certificates: %s", db_error(db));
		goto out;
	}
	if (tls_load(certs, n_certs, &err) < 0)
		log_warn("posternd", "no TLS: %s (STARTTLS and implicit TLS ports refuse clients)", err);
	db_certs_free(certs, n_certs);
	if (db_listeners_load(db, specs_r, n_specs_r) != DB_OK) {
		log_error("posternd", "cannot load listeners: %s", db_error(db));
		goto out;
	}
	rc = 0;
out:
	db_close(&db);
	return rc;
}

int main(int argc, char **argv)
{
	const char *err = NULL;
	struct listener_spec *specs = NULL;
	size_t n_specs = 0;

	if (argc > 1) {
		fprintf(stderr, "usage: %s (settings come from POSTERN_* environment variables)\n",
			argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	log_init(NULL, NULL);
	if (config_load(&main_cfg, &err) < 0) {
		log_error("posternd", "%s", err);
		return 1;
	}
	config_set(&main_cfg);
	log_init(main_cfg.log_format, main_cfg.log_level);
	log_info("posternd", "starting as %s", main_cfg.hostname);

	if (geteuid() == 0) {
		if (privdrop_to_user(main_cfg.user, main_cfg.data_dir, &err) < 0) {
			log_error("posternd", "%s", err);
			return 1;
		}
		log_info("posternd", "running as user %s (keeping CAP_NET_BIND_SERVICE)",
			 main_cfg.user);
	} else if (fs_mkdirs(main_cfg.data_dir, 0750) < 0) {
		log_error("posternd", "cannot create %s: %s", main_cfg.data_dir, strerror(errno));
		return 1;
	}

	if (main_cfg.database_url == NULL) {
		main_embedded = true;
		if (pg_embedded_start(main_cfg.data_dir, main_cfg.pg_bindir, &main_conninfo, &err) < 0) {
			log_error("posternd", "%s", err);
			return 1;
		}
	} else {
		main_conninfo = xstrdup(main_cfg.database_url);
	}

	if (tls_init() < 0 || loop_init() < 0 || main_signals() < 0) {
		log_error("posternd", "cannot initialise the loop: %s", strerror(errno));
		goto fail;
	}
	if (dns_init(main_cfg.dns_server, main_cfg.dns_trust_anchor, &err) < 0) {
		log_error("posternd", "%s", err);
		goto fail;
	}
	if (main_bootstrap_db(&specs, &n_specs) < 0)
		goto fail;
	if (work_init(main_conninfo, main_cfg.db_workers, LIMIT_AUTH_WORKERS) < 0) {
		log_error("posternd", "cannot start the worker threads");
		goto fail;
	}
	struct queue_settings qs = {
		.runners = main_cfg.queue_runners,
		.port = main_cfg.smtp_out_port,
		.retry_s = main_cfg.queue_retry_s,
		.lifetime_s = main_cfg.queue_lifetime_s,
		.delay_notice_s = main_cfg.queue_delay_notice_s,
		.hostname = main_cfg.hostname,
		.mta_sts_port = main_cfg.mta_sts_port,
		.ca_file = main_cfg.tls_ca_file,
	};
	if (queue_start(main_conninfo, &qs) < 0) {
		log_error("posternd", "cannot start the queue runners");
		goto fail;
	}
	if (auth_login_init() < 0) {
		log_error("posternd", "cannot initialise logins");
		goto fail;
	}
	listener_register_proto("smtp", &smtp_proto);
	listener_register_proto("pop3", &pop3_proto);
	listener_register_proto("imap", &imap_proto);
	listener_set_address(main_cfg.listen_address);
	listener_apply(specs, n_specs);
	xfree(specs);
	main_print_listeners();
	log_info("posternd", "data directory: %s", main_cfg.data_dir);
	log_info("posternd", "database: %s", main_embedded ? "embedded" : "external");
	if (db_listen_start(main_conninfo, main_on_notify) < 0)
		log_warn("posternd", "LISTEN connection not started: reloads need SIGHUP");
	/* the panel is optional: mail keeps flowing when it cannot start */
	if (web_server_start(main_cfg.admin_listen, main_conninfo, &err) < 0)
		log_warn("posternd", "admin panel not started (%s): %s", main_cfg.admin_listen, err);
	if (acme_service_start(main_conninfo, &main_cfg) < 0)
		log_warn("posternd", "ACME thread not started: no certificates from ACME");
	main_acme_tick(NULL); /* orders queued while posternd was down, and renewals */

	loop_run();

	web_server_stop();
	acme_service_stop();
	listener_close_all();
	loop_timer_cancel(&main_acme_timer);
	loop_timer_cancel(&main_shutdown_timer);
	loop_timer_cancel(&main_poll_timer);
	queue_stop();
	work_shutdown();
	dns_shutdown();
	db_listen_stop();
	pg_embedded_stop();
	loop_destroy();
	if (main_sigfd >= 0)
		close(main_sigfd);
	log_info("posternd", "posternd stopped");
	free(main_conninfo);
	config_free(&main_cfg);
	return main_exit_code;

fail:
	free(specs);
	queue_stop();
	work_shutdown();
	pg_embedded_stop();
	free(main_conninfo);
	config_free(&main_cfg);
	return 1;
}
