/* brake.h - the database side of the abuse brakes on submission: an
 * account's outbound limits (its own, else its domain's, else LIMIT_SEND_*),
 * its sends of the last hour, the alerts when it hits the hourly limit and
 * the hold of its queued mail when it keeps hitting it. Worker threads. */
#ifndef POSTERN_DB_BRAKE_H
#define POSTERN_DB_BRAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

struct db_brake {
	uint64_t per_hour;	/* messages per hour allowed */
	uint64_t rcpts;		/* recipients per message allowed */
	uint64_t sent;		/* messages sent in the last hour */
	bool over;		/* sent >= per_hour: refuse this message */
	uint64_t hits;		/* limit hits in the last hour (when over) */
	uint64_t held;		/* queue rows held now (when hits reached the limit) */
};

/* Limits and usage of an account; when it is over its hourly limit, records
 * the hit and, at LIMIT_SEND_HOLD_AFTER hits within an hour, holds its
 * queued mail (alerts 'send_limit' / 'queue_held'). */
enum db_status db_brake_check(struct db *db, int64_t account_id, struct db_brake *out);
/* Records one accepted submission (the hourly count); now and then purges
 * rows older than LIMIT_SEND_LOG_DAYS. */
enum db_status db_brake_log(struct db *db, int64_t account_id, const char *sender, size_t rcpts);

#endif
