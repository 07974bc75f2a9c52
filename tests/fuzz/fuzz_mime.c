/* fuzz_mime.c - libFuzzer target for core/mail/mime*.c: the input is a
 * message. Invariants: every part lies inside the message and its body
 * follows its header; ENVELOPE/BODY/BODYSTRUCTURE render; the serialisation
 * parses back to the same string; every section label resolves to its part;
 * a random section spec (the input's first line) never crashes the lookup.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icore \
 *     tests/fuzz/fuzz_mime.c core/mail/mime.c core/mail/mime_rfc822.c \
 *     core/mail/mime_render.c core/lib/buf.c core/lib/str.c \
 *     core/lib/strnum.c core/lib/mem.c -o build/fuzz_mime
 *   build/fuzz_mime tests/corpus/mime */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX (64u * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_tree *t = mime_parse(data, size);
	struct buf b, s2;
	const char *err;

	if (t->count == 0 || t->count > LIMIT_MIME_PARTS)
		abort();
	for (uint32_t i = 0; i < t->count; i++) {
		const struct mime_part *p = &t->parts[i];
		if (p->body_off != p->hdr_off + p->hdr_len || p->body_off + p->body_len > size ||
		    p->depth > LIMIT_MIME_DEPTH || p->lines > p->body_len)
			abort();
	}
	buf_init(&b, OUT_MAX);
	buf_init(&s2, OUT_MAX);
	if (mime_render_envelope(t, data, 0, &b) < 0 ||
	    mime_render_bodystructure(t, data, 0, false, &b) < 0 ||
	    mime_render_bodystructure(t, data, 0, true, &b) < 0)
		abort();
	buf_reset(&b);
	if (mime_serialize(t, &b) < 0)
		abort();
	struct mime_tree *u = mime_deserialize((const char *)buf_data(&b), buf_len(&b), size, &err);
	if (u == NULL || mime_serialize(u, &s2) < 0 || buf_len(&s2) != buf_len(&b) ||
	    memcmp(buf_data(&s2), buf_data(&b), buf_len(&b)) != 0)
		abort();
	mime_tree_free(&u);

	char label[512];
	struct mime_section sec;
	for (uint32_t i = 0; i < t->count; i++) {
		int n = mime_section_label(t, i, label, sizeof(label));
		if (n < 0)
			abort();
		if (mime_section_lookup(t, label, (size_t)n, &sec, &err) < 0 ||
		    sec.off + sec.len > size)
			abort();
	}
	const uint8_t *nl = memchr(data, '\n', size < 64 ? size : 64);
	if (nl != NULL &&
	    mime_section_lookup(t, (const char *)data, (size_t)(nl - data), &sec, &err) == 0 &&
	    sec.off + sec.len > size)
		abort();
	buf_free(&b);
	buf_free(&s2);
	mime_tree_free(&t);
	return 0;
}
