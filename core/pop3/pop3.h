/* pop3.h - the POP3 server protocol (RFC 1939, 2449, 2595, 5034). */
#ifndef POSTERN_POP3_POP3_H
#define POSTERN_POP3_POP3_H

#include "net/conn.h"

extern const struct conn_proto pop3_proto;

#endif
