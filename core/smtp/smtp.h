/* smtp.h - the SMTP server protocol for the listener table. One proto
 * serves every SMTP listener; the listener's name picks the role:
 * "smtp" = MX (port 25: hosted domains only, no AUTH), any other name
 * ("submission", "submission-alt", "smtps") = submission (RFC 6409: AUTH
 * required before MAIL, only after TLS). */
#ifndef POSTERN_SMTP_SMTP_H
#define POSTERN_SMTP_SMTP_H

#include "net/conn.h"

extern const struct conn_proto smtp_proto;

#endif
