/* net_private.h - what listener.c and conn.c tell each other; nothing
 * outside core/net/ includes this. A conn keeps a reference on the
 * listener that accepted it, so its name, port and TLS mode stay readable
 * after a reload closed or replaced that listener. */
#ifndef POSTERN_NET_NET_PRIVATE_H
#define POSTERN_NET_NET_PRIVATE_H

#include "net/conn.h"
#include "net/listener.h"

/* Takes over fd (non-blocking, just accepted) for listener l. peer is the
 * client address as text, IPv4-mapped IPv6 shown as IPv4. Applies the
 * connection limits, then starts TLS (implicit) or opens the session. */
void conn_accept(int fd, struct listener *l, const char *peer, int peer_port);

void listener_ref(struct listener *l);
void listener_unref(struct listener **l);
const struct listener_spec *listener_spec_of(const struct listener *l);
const struct conn_proto *listener_proto_of(const struct listener *l);
/* Live connection count of the listener (for listener_status). */
void listener_conn_delta(struct listener *l, int delta);

#endif
