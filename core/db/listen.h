/* listen.h - the one asynchronous libpq connection in the loop thread:
 * LISTEN mailbox_changed and config_changed, with non-blocking reconnect
 * (PQconnectStart/PQconnectPoll) and back-off. After every (re)connect the
 * callback is called with channel "reconnected" (NOTIFYs may have been
 * missed: reload). */
#ifndef POSTERN_DB_LISTEN_H
#define POSTERN_DB_LISTEN_H

typedef void db_notify_fn(const char *channel, const char *payload);

int db_listen_start(const char *conninfo, db_notify_fn *fn);
void db_listen_stop(void);

#endif
