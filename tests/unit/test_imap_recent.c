/* test_imap_recent.c - the session's \Recent set (core/imap/recent.c, RFC
 * 3501 2.3.2): marking claimed UID ranges over the view (ascending, no
 * duplicates, only UIDs the view holds), removal on expunge, the flag bit
 * and its "\Recent" in FLAGS, none in IMAP4rev2, the job snapshot, and the
 * claim that runs no statement when the sync found nothing unclaimed (a NULL
 * db would crash if it did). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/session.h"

static void set_view(struct imap_session *s, const uint32_t *uids, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->sel.uids = malloc(n * sizeof(uint32_t));
	memcpy(s->sel.uids, uids, n * sizeof(uint32_t));
	s->sel.n = s->sel.alloc = n;
}

static void expect(const struct imap_session *s, const uint32_t *want, size_t n)
{
	assert_int_equal(s->sel.n_recent, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s->sel.recent[i], want[i]);
}

static void test_mark_and_remove(void **state)
{
	static const uint32_t view[] = { 1, 2, 3, 5, 8, 9, 40 };
	struct imap_session s;

	(void)state;
	set_view(&s, view, 7);
	imap_recent_mark(&s, 0, 0, 0);	/* no claim */
	imap_recent_mark(&s, 0, 7, 7);
	expect(&s, NULL, 0);
	imap_recent_mark(&s, 0, 2, 6);	/* [2, 6): 4 is not in the view */
	expect(&s, (const uint32_t[]){ 2, 3, 5 }, 3);
	imap_recent_mark(&s, 0, 3, 9);	/* overlapping: no duplicate */
	expect(&s, (const uint32_t[]){ 2, 3, 5, 8 }, 4);
	imap_recent_mark(&s, 5, 1, INT64_MAX);	/* from view index 5 on (EXAMINE) */
	expect(&s, (const uint32_t[]){ 2, 3, 5, 8, 9, 40 }, 6);
	imap_recent_remove(&s, 5);
	imap_recent_remove(&s, 4);	/* not a member */
	imap_recent_remove(&s, 40);
	expect(&s, (const uint32_t[]){ 2, 3, 8, 9 }, 4);
	assert_int_equal(imap_recent_flags(&s, 8, IMAP_FLAG_SEEN),
			 IMAP_FLAG_SEEN | IMAP_FLAG_RECENT);
	assert_int_equal(imap_recent_flags(&s, 1, 0), 0);
	s.rev2 = true;	/* RFC 9051: no \Recent */
	assert_int_equal(imap_recent_flags(&s, 8, 0), 0);
	free(s.sel.uids);
	free(s.sel.recent);
}

static void test_growth(void **state)
{
	enum { N = 1000 };
	uint32_t *view = malloc(N * sizeof(uint32_t));
	struct imap_session s;

	(void)state;
	for (uint32_t i = 0; i < N; i++)
		view[i] = 2 * i + 1;
	set_view(&s, view, N);
	for (int64_t from = 1; from < 2 * N; from += 10)	/* many small claims */
		imap_recent_mark(&s, 0, from, from + 10);
	assert_int_equal(s.sel.n_recent, N);
	assert_true(s.sel.recent_alloc <= 2 * N);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(s.sel.recent[i], view[i]);
	free(view);
	free(s.sel.uids);
	free(s.sel.recent);
}

static void test_flags_and_snapshot(void **state)
{
	static const uint32_t view[] = { 4, 6 };
	struct imap_session s;
	struct imap_job j;
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	imap_flags_write(&b, IMAP_FLAG_SEEN | IMAP_FLAG_RECENT, "$Work");
	assert_int_equal(buf_len(&b), strlen("FLAGS (\\Seen \\Recent $Work)"));
	assert_memory_equal(buf_data(&b), "FLAGS (\\Seen \\Recent $Work)", buf_len(&b));
	buf_free(&b);
	set_view(&s, view, 2);
	memset(&j, 0, sizeof(j));
	imap_recent_snapshot(&s, &j);	/* empty set: nothing copied */
	assert_null(j.recent);
	assert_int_equal(imap_recent_job_flags(&j, 4, 0), 0);
	imap_recent_mark(&s, 0, 6, 7);
	imap_recent_snapshot(&s, &j);
	assert_int_equal(j.n_recent, 1);
	assert_int_equal(imap_recent_job_flags(&j, 6, IMAP_FLAG_DRAFT),
			 IMAP_FLAG_DRAFT | IMAP_FLAG_RECENT);
	assert_int_equal(imap_recent_job_flags(&j, 4, 0), 0);
	free(j.recent);
	j.recent = NULL;
	s.rev2 = true;
	imap_recent_snapshot(&s, &j);
	assert_null(j.recent);
	free(s.sel.uids);
	free(s.sel.recent);
}

static void test_claim_without_statement(void **state)
{
	struct imap_job j;

	(void)state;
	memset(&j, 0, sizeof(j));
	j.sync_st = DB_OK;
	j.sync_res.uidnext = 10;
	j.sync_res.recent_uid = 4;
	imap_recent_claim(&j, NULL);	/* EXAMINE (claim_recent false) */
	j.claim_recent = true;
	j.sync_res.recent_uid = 10;	/* everything claimed already: a plain NOOP */
	imap_recent_claim(&j, NULL);
	j.sync_res.recent_uid = 4;
	j.sync_st = DB_TEMP;	/* the sync failed */
	imap_recent_claim(&j, NULL);
	j.sync_st = DB_OK;
	j.sync_res.gone = true;
	imap_recent_claim(&j, NULL);
	assert_int_equal(j.sync_res.claim_from, 0);
	assert_int_equal(j.sync_res.claim_to, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mark_and_remove),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_flags_and_snapshot),
		cmocka_unit_test(test_claim_without_statement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
