/* brake.c - outbound limits of submission accounts (DESIGN: abuse brakes):
 * messages per hour counted in send_log, recipients per message, both per
 * account or per domain (NULL = LIMIT_SEND_PER_HOUR / LIMIT_SEND_RCPTS).
 * An account over its hourly limit gets an alert row (at most
 * LIMIT_SEND_HOLD_AFTER an hour); at that many, its queued mail is held
 * (queue.state = 'held', released with posternctl queue) and a 'queue_held'
 * alert is written once until acknowledged. XXX: the hourly count is read
 * at MAIL and written after the COMMIT, so parallel sessions of one account
 * can pass the limit by the number of messages in flight. */
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "config/limits.h"
#include "db/brake.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/strnum.h"

static uint64_t col_u64(const PGresult *res, int col, uint64_t dflt)
{
	uint64_t v;

	if (PQgetisnull(res, 0, col) || strnum_parse(PQgetvalue(res, 0, col), UINT64_MAX, &v) < 0)
		return dflt;
	return v;
}

enum db_status db_brake_check(struct db *db, int64_t account_id, struct db_brake *out)
{
	char id[24], detail[96], after[16];
	enum db_status st;
	PGresult *res;

	*out = (struct db_brake){ .per_hour = LIMIT_SEND_PER_HOUR, .rcpts = LIMIT_SEND_RCPTS };
	(void)str_fmt(id, sizeof(id), "%lld", (long long)account_id);
	{
		const char *params[1] = { id };
		res = db_exec(db, STMT_SEND_LIMITS, 1, params, NULL, NULL, &st);
	}
	if (st != DB_OK || PQntuples(res) != 1) {
		PQclear(res);
		return st != DB_OK ? st : DB_ERROR;
	}
	out->per_hour = col_u64(res, 0, LIMIT_SEND_PER_HOUR);
	out->rcpts = col_u64(res, 1, LIMIT_SEND_RCPTS);
	out->sent = col_u64(res, 2, 0);
	PQclear(res);
	out->over = out->sent >= out->per_hour;
	if (!out->over)
		return DB_OK;
	(void)str_fmt(detail, sizeof(detail), "%llu messages in the last hour (limit %llu)",
		      (unsigned long long)out->sent, (unsigned long long)out->per_hour);
	(void)str_fmt(after, sizeof(after), "%d", LIMIT_SEND_HOLD_AFTER);
	{
		const char *params[3] = { id, detail, after };
		res = db_exec(db, STMT_SEND_LIMIT_HIT, 3, params, NULL, NULL, &st);
	}
	if (st == DB_OK && PQntuples(res) == 1)
		out->hits = col_u64(res, 0, 0);
	PQclear(res);
	if (st != DB_OK || out->hits < LIMIT_SEND_HOLD_AFTER)
		return st;
	{
		const char *params[1] = { id };
		res = db_exec(db, STMT_SEND_HOLD, 1, params, NULL, NULL, &st);
	}
	if (st == DB_OK && PQntuples(res) == 1) {
		out->held = col_u64(res, 0, 0);
		if (col_u64(res, 1, 0) > 0)
			log_warn("brake", "account %lld keeps hitting its sending limit: %llu queued "
				 "message(s) held", (long long)account_id,
				 (unsigned long long)out->held);
	}
	PQclear(res);
	return st;
}

enum db_status db_brake_log(struct db *db, int64_t account_id, const char *sender, size_t rcpts)
{
	char id[24], n[24], days[16];
	enum db_status st;
	const char *params[3] = { id, sender, n };

	(void)str_fmt(id, sizeof(id), "%lld", (long long)account_id);
	(void)str_fmt(n, sizeof(n), "%zu", rcpts);
	PQclear(db_exec(db, STMT_SEND_LOG, 3, params, NULL, NULL, &st));
	if (st == DB_OK && randombytes_uniform(1000) == 0) {
		const char *p[1] = { days };
		(void)str_fmt(days, sizeof(days), "%d", LIMIT_SEND_LOG_DAYS);
		PQclear(db_exec(db, STMT_SEND_LOG_PURGE, 1, p, NULL, NULL, &st));
	}
	return st;
}
