/* stats.c - event counters (stats.h): one relaxed atomic each; the values
 * only ever grow (Prometheus counters), so no ordering is needed between
 * them. */
#include "lib/stats.h"

#include <stdatomic.h>

static _Atomic uint64_t stats_values[STATS__COUNT];

void stats_add(enum stats_id id, uint64_t n)
{
	if ((unsigned)id < STATS__COUNT)
		atomic_fetch_add_explicit(&stats_values[id], n, memory_order_relaxed);
}

uint64_t stats_get(enum stats_id id)
{
	if ((unsigned)id >= STATS__COUNT)
		return 0;
	return atomic_load_explicit(&stats_values[id], memory_order_relaxed);
}
