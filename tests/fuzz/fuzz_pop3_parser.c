/* fuzz_pop3_parser.c - libFuzzer target for the POP3 command reader and the
 * RETR/TOP output (core/pop3/parser.c, stuff.c). The first byte picks the
 * piece size the input is fed in; every line must be bounded and every
 * stuffed body must end in ".\r\n" with no lone "." line before it.
 *   clang -g -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icore \
 *     tests/fuzz/fuzz_pop3_parser.c core/pop3/parser.c core/pop3/stuff.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/parser.h"
#include "pop3/stuff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_stuffed(const uint8_t *data, size_t size, size_t cap)
{
	unsigned char *wire = malloc(2 * size + POP3_STUFF_END_MAX + 1);
	struct pop3_stuff st;
	size_t off = 0, w = 0, i;

	if (wire == NULL)
		abort();
	pop3_stuff_init(&st);
	while (off < size) {
		size_t used = 0;

		w += pop3_stuff_run(&st, data + off, size - off, &used, wire + w, cap);
		if (used == 0)
			abort();
		off += used;
	}
	w += pop3_stuff_end(&st, wire + w);
	if (w < 3 || memcmp(wire + w - 3, ".\r\n", 3) != 0)
		abort();
	/* Only the terminator may be a line holding a lone ".". */
	for (i = 0; i < w; i++) {
		if (wire[i] != '\n')
			continue;
		if (i + 1 < w - 3 && wire[i + 1] == '.' && i + 3 < w && wire[i + 2] == '\r' &&
		    wire[i + 3] == '\n')
			abort();
		if (i == 0 || wire[i - 1] != '\r')
			abort();	/* every LF goes out as CRLF */
	}
	free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_parser p;
	size_t step, off = 0;

	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	data++;
	size--;
	pop3_parser_init(&p, 64);
	while (off < size) {
		size_t n = size - off < step ? size - off : step, used = 0;
		struct pop3_cmd cmd;
		const char *error = NULL;
		int r;

		r = pop3_parser_read(&p, data + off, n, &used, &cmd, &error);
		if (used > n || (r == 0 && used != n) || (r != 0 && used == 0))
			abort();
		if (r < 0 && error == NULL)
			abort();
		if (r == 1 && (cmd.line.len + 1 > 64 || cmd.n_args * 2 > cmd.line.len + 1 ||
			       cmd.line.p[cmd.line.len] != '\0'))
			abort();
		off += used;
	}
	check_stuffed(data, size, step + 1);
	if (pop3_top_len(data, size, step % 4) > size)
		abort();
	return 0;
}
