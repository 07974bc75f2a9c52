/* listener.h - the listening sockets, kept in step with the listeners table.
 * listener_apply() diffs the wanted set against what is bound: a new or
 * changed port is bound first, and only when that worked the old socket is
 * closed, so a port that cannot be bound leaves the old listener running. */
#ifndef POSTERN_NET_LISTENER_H
#define POSTERN_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "net/conn.h"

struct listener_spec {
	char name[32];		/* "smtp", "submission", "smtps", "submission-alt", "pop3", ... */
	char protocol[8];	/* "smtp", "pop3", "imap" */
	int port;
	enum tls_mode tls;
	bool enabled;
};

struct listener_status {
	struct listener_spec spec;
	bool up;
	char error[128];	/* why it is not up */
	size_t connections;
};

/* The protocol table: name -> struct conn_proto. Registered at start. */
void listener_register_proto(const char *protocol, const struct conn_proto *proto);
/* address: the IPv4/IPv6 literal to bind (POSTERN_LISTEN_ADDRESS). */
void listener_set_address(const char *address);
/* Brings the bound set in line with specs. Logs each change. */
void listener_apply(const struct listener_spec *specs, size_t n);
/* Current state, for logs and metrics; returns count written. */
size_t listener_status(struct listener_status *out, size_t max);
/* The same state, callable from any thread (the panel's dashboard and
 * /metrics): a copy the loop publishes under a mutex whenever it changes
 * (apply, shutdown, each accepted or closed connection). */
size_t listener_snapshot(struct listener_status *out, size_t max);
/* Stops accepting everywhere (shutdown). */
void listener_close_all(void);

#endif
