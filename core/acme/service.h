/* service.h - posternd's ACME thread: takes requested orders from the
 * acme_orders table (posternctl, the panel, renewals), runs them with
 * acme/client.h and installs the certificates. The loop only kicks it
 * (NOTIFY acme_requested, the renewal timer); all network and database
 * work of ACME happens on this thread, never on the loop. */
#ifndef POSTERN_ACME_SERVICE_H
#define POSTERN_ACME_SERVICE_H

struct config;

/* Starts the thread with its own database connection (opened lazily from
 * conninfo). 0 or -1. */
int acme_service_start(const char *conninfo, const struct config *cfg);
/* Asks the thread to queue due renewals and run requested orders. Any
 * thread; cheap (a condition variable). */
void acme_service_kick(void);
/* Stops and joins the thread (an order under way is abandoned: it stays
 * 'running' and a later renewal pass takes it up again). */
void acme_service_stop(void);

#endif
