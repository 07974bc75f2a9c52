/* fuzz_search_text.c - libFuzzer target for what the search index and
 * SORT/THREAD compute from a message: mime_search_text (RFC 2047, QP,
 * base64, charsets), mime_date_parse, the base subject, address keys and
 * message-id lists of core/imap/sort.c, and both THREAD algorithms over
 * messages cut from the input. Invariants: every text is valid UTF-8 within
 * its cap; a base subject never grows; threading reports every message.
 *   make fuzz && build/fuzz/fuzz_search_text -max_total_time=60 \
 *     tests/fuzz/corpus/search */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/sort.h"
#include "mail/mime.h"
#include "mail/mime_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_utf8(const struct buf *b, size_t cap)
{
	const unsigned char *p = buf_data(b);
	size_t n = buf_len(b);

	if (n > cap)
		abort();
	for (size_t i = 0; i < n;) {
		size_t k = p[i] < 0x80 ? 1 : p[i] < 0xc2 ? 0 : p[i] < 0xe0 ? 2 : p[i] < 0xf0 ? 3
			 : p[i] < 0xf5 ? 4 : 0;

		if (k == 0 || i + k > n || p[i] == 0)
			abort();
		for (size_t j = 1; j < k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				abort();
		i += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_tree *t = mime_parse(data, size);
	struct buf h, b, s, mb, d;
	struct imap_thread_msg m[8];
	char *str = malloc(size + 1), *words[8];
	size_t nw = 0;
	int64_t at, day;
	bool reply;

	buf_init(&h, 4096);
	buf_init(&b, 4096);
	mime_search_text(t, data, size, &h, &b);
	check_utf8(&h, 4096);
	check_utf8(&b, 4096);
	mime_utf8_fold((char *)buf_data(&b), buf_len(&b));
	check_utf8(&b, 4096);
	mime_tree_free(&t);
	(void)mime_date_parse(data, size, &at, &day);

	/* the input as a NUL-free string for the sort helpers */
	for (size_t i = 0; i < size; i++)
		str[i] = data[i] != 0 ? (char)data[i] : ' ';
	str[size] = '\0';
	buf_init(&s, size + 1);
	imap_sort_base_subject(str, &s, &reply);
	if (buf_len(&s) > size)
		abort();
	buf_init(&mb, 256);
	buf_init(&d, 256);
	imap_sort_addr_keys(str, &mb, &d);

	/* up to 8 messages: lines "<id> <refs...>", subject = the line */
	for (char *p = strtok(str, "\n"); p != NULL && nw < 8; p = strtok(NULL, "\n"))
		words[nw++] = p;
	for (size_t i = 0; i < nw; i++) {
		m[i].id = (uint32_t)i + 1;
		m[i].date = (int64_t)(words[i][0] % 4);
		m[i].subject = words[i];
		m[i].reply = (words[i][0] & 1) != 0;
		m[i].message_id = words[i];
		m[i].refs = nw > 1 ? words[(i + 1) % nw] : "";
	}
	for (int alg = 0; alg < 2; alg++) {
		struct buf out;
		unsigned seen = 0;

		buf_init(&out, 64 * 1024);
		if ((alg ? imap_thread_references(m, nw, &out) : imap_thread_orderedsubject(m, nw, &out)) <
		    0)
			abort();
		for (size_t i = 0; i < buf_len(&out); i++)
			if (buf_data(&out)[i] >= '1' && buf_data(&out)[i] <= '8')
				seen++;
		if (seen != nw)
			abort();
		buf_free(&out);
	}
	buf_free(&h);
	buf_free(&b);
	buf_free(&s);
	buf_free(&mb);
	buf_free(&d);
	free(str);
	return 0;
}
