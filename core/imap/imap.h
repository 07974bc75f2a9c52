/* imap.h - the IMAP4rev1 server protocol (RFC 3501 with IDLE, UIDPLUS,
 * MOVE, UNSELECT, NAMESPACE, ID, ENABLE, SPECIAL-USE, CHILDREN, LITERAL+,
 * SASL-IR, CONDSTORE, QRESYNC, QUOTA, STATUS=SIZE, APPENDLIMIT,
 * LIST-EXTENDED, LIST-STATUS, UTF8=ACCEPT, NOTIFY) and the hook that
 * LISTEN/NOTIFY mailbox_changed calls. */
#ifndef POSTERN_IMAP_IMAP_H
#define POSTERN_IMAP_IMAP_H

#include "net/conn.h"

extern const struct conn_proto imap_proto;

/* NOTIFY mailbox_changed '<id>' (payload as received): every session
 * with that mailbox selected syncs now when idling, or at its next
 * command. Loop thread. */
void imap_notify_mailbox(const char *payload);
/* The LISTEN connection came back (NOTIFYs may have been missed). */
void imap_notify_all(void);

#endif
