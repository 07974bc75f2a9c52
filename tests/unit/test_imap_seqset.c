/* test_imap_seqset.c - sequence sets (core/imap/seqset.c): syntax, 0, "*",
 * reversed ranges, numbers past 2^32-1, "$", normalisation, membership,
 * iteration under a max, formatting, and LIMIT_IMAP_SEQSET_RANGES at
 * limit - 1, limit and limit + 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/limits.h"
#include "imap/seqset.h"

/* Parses s, resolves with max and returns it formatted ("ERR" on error). */
static const char *norm(const char *s, uint32_t max)
{
	static char out[256];
	struct imap_seqset *set;
	const char *err;
	struct buf b;

	if (imap_seqset_parse(s, strlen(s), &set, &err) < 0) {
		assert_null(set);
		return "ERR";
	}
	imap_seqset_resolve(set, max);
	buf_init(&b, sizeof(out) - 1);
	assert_int_equal(imap_seqset_write(set, &b), 0);
	memcpy(out, buf_data(&b), buf_len(&b));
	out[buf_len(&b)] = '\0';
	buf_free(&b);
	imap_seqset_free(&set);
	assert_null(set);
	return out;
}

static void test_parse(void **state)
{
	(void)state;
	assert_string_equal(norm("1", 10), "1");
	assert_string_equal(norm("1:3,5", 10), "1:3,5");
	assert_string_equal(norm("5:1", 10), "1:5");
	assert_string_equal(norm("7:9,1:2,3,8", 10), "1:3,7:9");
	assert_string_equal(norm("1:*", 10), "1:10");
	assert_string_equal(norm("*", 10), "10");
	assert_string_equal(norm("*:5", 10), "5:10");
	assert_string_equal(norm("20:*", 10), "10:20");	/* RFC 9051: "*" may be below */
	assert_string_equal(norm("*", 0), "");
	assert_string_equal(norm("1:*,5", 0), "1,5");
	assert_string_equal(norm("4294967295", 10), "4294967295");
	assert_string_equal(norm("1:4294967295", 10), "1:4294967295");
	assert_string_equal(norm("4294967294:4294967295,1", 10), "1,4294967294:4294967295");
	assert_string_equal(norm("4294967296", 10), "ERR");
	assert_string_equal(norm("99999999999999999999999", 10), "ERR");
	assert_string_equal(norm("0", 10), "ERR");
	assert_string_equal(norm("0:5", 10), "ERR");
	assert_string_equal(norm("01", 10), "ERR");
	assert_string_equal(norm("", 10), "ERR");
	assert_string_equal(norm(",", 10), "ERR");
	assert_string_equal(norm("1,", 10), "ERR");
	assert_string_equal(norm(",1", 10), "ERR");
	assert_string_equal(norm("1:", 10), "ERR");
	assert_string_equal(norm(":1", 10), "ERR");
	assert_string_equal(norm("1:2:3", 10), "ERR");
	assert_string_equal(norm("1::2", 10), "ERR");
	assert_string_equal(norm("-1", 10), "ERR");
	assert_string_equal(norm("1 2", 10), "ERR");
	assert_string_equal(norm("**", 10), "ERR");
	assert_string_equal(norm("$,1", 10), "ERR");
	assert_string_equal(norm("$$", 10), "ERR");
	{
		struct imap_seqset *set;
		const char *err;

		assert_int_equal(imap_seqset_parse("$", 1, &set, &err), 0);
		assert_true(set->searchres);
		assert_int_equal(set->count, 0);
		imap_seqset_free(&set);
	}
}

static void test_contains_iterate(void **state)
{
	struct imap_seqset *set;
	struct imap_seqset_iter it;
	const char *err;
	uint32_t n, got[16];
	size_t k = 0;

	(void)state;
	assert_int_equal(imap_seqset_parse("2:4,9,6,7,4294967295", 20, &set, &err), 0);
	assert_true(set->resolved);
	assert_false(imap_seqset_contains(set, 1));
	assert_true(imap_seqset_contains(set, 2));
	assert_true(imap_seqset_contains(set, 4));
	assert_false(imap_seqset_contains(set, 5));
	assert_true(imap_seqset_contains(set, 7));
	assert_false(imap_seqset_contains(set, 8));
	assert_true(imap_seqset_contains(set, 4294967295u));
	assert_int_equal(imap_seqset_last(set), 4294967295u);
	assert_int_equal(imap_seqset_size(set), 7);
	imap_seqset_iter_init(&it);
	while (imap_seqset_next(set, 8, &it, &n)) {
		assert_true(k < 16);
		got[k++] = n;
	}
	assert_int_equal(k, 5);
	assert_int_equal(got[0], 2);
	assert_int_equal(got[2], 4);
	assert_int_equal(got[3], 6);
	assert_int_equal(got[4], 7);
	imap_seqset_free(&set);

	/* whole range to 2^32-1 iterates without overflow when max is high */
	assert_int_equal(imap_seqset_parse("4294967294:*", 12, &set, &err), 0);
	assert_false(set->resolved);
	imap_seqset_resolve(set, 4294967295u);
	imap_seqset_iter_init(&it);
	k = 0;
	while (imap_seqset_next(set, 4294967295u, &it, &n))
		k++;
	assert_int_equal(k, 2);
	imap_seqset_free(&set);

	set = imap_seqset_create();
	imap_seqset_add(set, 5, 3);
	imap_seqset_add(set, 1, 1);
	imap_seqset_add(set, 2, 2);
	imap_seqset_resolve(set, 0);
	assert_int_equal(set->count, 1);
	assert_int_equal(imap_seqset_size(set), 5);
	imap_seqset_free(&set);
}

static void test_limit(void **state)
{
	size_t len = (size_t)LIMIT_IMAP_SEQSET_RANGES * 12 + 16;
	char *s = malloc(len);

	(void)state;
	assert_non_null(s);
	for (size_t count = LIMIT_IMAP_SEQSET_RANGES - 1; count <= LIMIT_IMAP_SEQSET_RANGES + 1;
	     count++) {
		struct imap_seqset *set;
		const char *err = NULL;
		size_t n = 0;

		for (size_t i = 0; i < count; i++)
			n += (size_t)snprintf(s + n, len - n, "%s%zu", i ? "," : "", 2 * i + 1);
		if (count <= LIMIT_IMAP_SEQSET_RANGES) {
			assert_int_equal(imap_seqset_parse(s, n, &set, &err), 0);
			assert_int_equal(set->count, count);
			assert_true(imap_seqset_contains(set, 2 * (uint32_t)count - 1));
			assert_false(imap_seqset_contains(set, 2));
			imap_seqset_free(&set);
		} else {
			assert_int_equal(imap_seqset_parse(s, n, &set, &err), -1);
			assert_string_equal(err, "[LIMIT] Too many ranges in sequence set");
		}
	}
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_contains_iterate),
		cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
