/* fuzz_imap_parser.c - libFuzzer target for the IMAP input layer
 * (core/imap/parser.c, seqset.c, mutf7.c). The first byte picks the piece
 * size and how literals are answered (accept / take / refuse); small limits
 * make every limit reachable. Checks: progress on every call, every tree
 * EOL-terminated and within max_args/max_list_depth, seqsets normalised,
 * and mutf7 decode -> encode giving the input back.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icore \
 *     tests/fuzz/fuzz_imap_parser.c core/imap/parser.c core/imap/seqset.c \
 *     core/imap/mutf7.c core/lib/buf.c core/lib/str.c core/lib/strnum.c core/lib/mem.c \
 *     -o build/fuzz_imap_parser
 *   build/fuzz_imap_parser -max_total_time=60 tests/fuzz/corpus/imap */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/mutf7.h"
#include "imap/parser.h"
#include "imap/seqset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned int check_args(const struct imap_arg *a, unsigned int count, unsigned int depth,
			       unsigned int max_depth)
{
	unsigned int n = 0;

	if (depth > max_depth || a[count].type != IMAP_ARG_EOL)
		abort();
	for (unsigned int i = 0; i < count; i++) {
		n++;
		if (a[i].type == IMAP_ARG_EOL)
			abort();
		if (a[i].type == IMAP_ARG_LIST)
			n += check_args(a[i].list, a[i].list_count, depth + 1, max_depth);
		else if (a[i].str == NULL)
			abort();
		if (a[i].type == IMAP_ARG_ATOM) {
			struct imap_seqset *set;
			const char *err;

			if (imap_seqset_parse(a[i].str, a[i].len, &set, &err) == 0) {
				imap_seqset_resolve(set, 100);
				for (size_t k = 1; k < set->count; k++)
					if ((uint64_t)set->ranges[k - 1].hi + 1 >= set->ranges[k].lo)
						abort();
				imap_seqset_free(&set);
			}
		}
	}
	return n;
}

static void check_mutf7(const uint8_t *data, size_t size)
{
	struct buf a, b;

	buf_init(&a, 4 * size + 16);
	buf_init(&b, 4 * size + 16);
	if (imap_mutf7_decode((const char *)data, size, &a) == 0) {
		if (imap_mutf7_encode((const char *)buf_data(&a), buf_len(&a), &b) < 0 ||
		    buf_len(&b) != size || memcmp(buf_data(&b), data, size) != 0)
			abort();
	}
	buf_reset(&a);
	if (imap_mutf7_encode((const char *)data, size, &a) == 0) {
		buf_reset(&b);
		if (imap_mutf7_decode((const char *)buf_data(&a), buf_len(&a), &b) < 0 ||
		    buf_len(&b) != size || memcmp(buf_data(&b), data, size) != 0)
			abort();
	}
	buf_free(&a);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_params params;
	struct imap_parser *p;
	size_t step, off = 0;
	uint64_t to_take = 0;
	unsigned int policy;

	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	policy = (data[0] >> 4) % 3;
	data++;
	size--;
	imap_parser_params_default(&params, (policy & 1) != 0);
	params.max_line = 256;
	params.max_command = 1024;
	params.max_literal = 512;
	params.max_args = 40;
	params.max_list_depth = 3;
	params.literal_minus = (size & 1) != 0;
	params.utf8 = (size & 2) != 0;
	p = imap_parser_create(&params);
	while (off < size) {
		size_t n = size - off < step ? size - off : step, used = 0;
		struct imap_cmd cmd;
		int r;

		if (to_take > 0) {
			size_t t = n < to_take ? n : (size_t)to_take;

			to_take -= t;
			off += t;
			continue;
		}
		r = imap_parser_read(p, data + off, n, &used, &cmd);
		if (used > n || (r == IMAP_PARSE_MORE && used != n))
			abort();
		off += used;
		if (r == IMAP_PARSE_DONE) {
			if (cmd.tag == NULL || cmd.name == NULL ||
			    check_args(cmd.args, cmd.n_args, 0, params.max_list_depth) > params.max_args)
				abort();
		} else if (r == IMAP_PARSE_ERROR) {
			if (cmd.error.text == NULL)
				abort();
			if (cmd.error.close)
				break;
		} else if (r == IMAP_PARSE_LITERAL) {
			if (policy == 0 && imap_parser_literal_accept(p) == 0)
				continue;
			if (policy == 1 || (policy == 0 && !cmd.literal.sync)) {
				imap_parser_literal_take(p);
				to_take = cmd.literal.size;
			} else {
				imap_parser_literal_refuse(p);
			}
		}
	}
	imap_parser_free(&p);
	check_mutf7(data, size);
	return 0;
}
