/* health.c - posternctl health: the database answers (the listener rows are
 * read from it) and every enabled listener of posternd accepts a TCP
 * connection on POSTERN_LISTEN_ADDRESS within a bounded time
 * (LIMIT_HEALTH_CONNECT_MS each). Used by the Docker HEALTHCHECK and by
 * monitoring; it only connects and closes, it speaks no protocol, so it
 * leaves nothing in posternd's logs but a connection closed before the
 * greeting. */
#include "ops/ops.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "config/limits.h"
#include "lib/str.h"

#define HEALTH_MAX_LISTENERS 32

struct health_row {
	char name[32];
	int port;
};

struct health_list {
	struct health_row rows[HEALTH_MAX_LISTENERS];
	size_t n;
};

static void health_collect(void *arg, const struct admin_listener *l)
{
	struct health_list *hl = arg;

	if (!l->enabled || hl->n == HEALTH_MAX_LISTENERS)
		return;
	str_lcpy(hl->rows[hl->n].name, l->name, sizeof(hl->rows[hl->n].name));
	hl->rows[hl->n].port = l->port;
	hl->n++;
}

/* The address a client uses to reach a listener bound to addr. */
static const char *health_target(const char *addr)
{
	if (addr == NULL || *addr == '\0' || strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "*") == 0)
		return "127.0.0.1";
	if (strcmp(addr, "::") == 0 || strcmp(addr, "[::]") == 0)
		return "::1";
	return addr;
}

/* Non-blocking connect bounded by timeout_ms; NULL when it succeeded, else a
 * reason (static text). */
static const char *health_connect(const struct addrinfo *ai, int timeout_ms)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	const char *why = NULL;

	if (fd < 0)
		return "cannot create a socket";
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			why = strerror(errno);
		} else {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int soerr = 0;
			socklen_t len = sizeof(soerr);
			int n = poll(&p, 1, timeout_ms);
			if (n == 0)
				why = "no answer in time";
			else if (n < 0)
				why = strerror(errno);
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
				why = strerror(errno);
			else if (soerr != 0)
				why = strerror(soerr);
		}
	}
	close(fd);
	return why;
}

static const char *health_probe(const char *host, int port, int timeout_ms)
{
	struct addrinfo hints, *res = NULL;
	char service[8];
	const char *why = "no address";

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (str_fmt(service, sizeof(service), "%d", port) < 0)
		return "bad port";
	if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL)
		return "cannot resolve the listen address";
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		why = health_connect(ai, timeout_ms);
		if (why == NULL)
			break;
	}
	freeaddrinfo(res);
	return why;
}

enum ops_status ops_health(struct db *db, const char *listen_address, int timeout_ms, FILE *out,
			   struct admin_err *err)
{
	struct health_list hl = { .n = 0 };
	const char *host = health_target(listen_address);
	enum admin_status st;
	bool down = false;

	st = admin_listener_list(db, health_collect, &hl, err);
	if (st != ADMIN_OK)
		return st == ADMIN_UNAVAILABLE ? OPS_UNAVAILABLE : OPS_FAIL;
	for (size_t i = 0; i < hl.n; i++) {
		const char *why = health_probe(host, hl.rows[i].port, timeout_ms);
		if (why == NULL) {
			fprintf(out, "%s\t%d\tup\n", hl.rows[i].name, hl.rows[i].port);
		} else {
			fprintf(out, "%s\t%d\tdown\t%s\n", hl.rows[i].name, hl.rows[i].port, why);
			if (!down)
				(void)str_fmt(err->msg, sizeof(err->msg),
					      "listener %s (port %d on %s) does not accept connections: %s",
					      hl.rows[i].name, hl.rows[i].port, host, why);
			down = true;
		}
	}
	return down ? OPS_UNHEALTHY : OPS_OK;
}
