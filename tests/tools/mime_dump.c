/* mime_dump.c - test tool: parses one message file with core/mail/mime.c
 * and prints its ENVELOPE, BODY and BODYSTRUCTURE (and, with -s, the
 * stored serialisation), each as "<ITEM> <length>\n<bytes>\n", for
 * tests/integration/test_mime_dovecot.py. Built by `make
 * build/asan/tools/mime_dump`. The file is read whole (max 64 MiB). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "mail/mime.h"

#define DUMP_MAX_FILE (64u * 1024 * 1024)
#define DUMP_MAX_OUT (256u * 1024 * 1024)

static void item(const char *name, struct buf *b)
{
	printf("%s %zu\n", name, buf_len(b));
	fwrite(buf_data(b), 1, buf_len(b), stdout);
	putchar('\n');
}

int main(int argc, char **argv)
{
	int serial = argc == 3 && strcmp(argv[1], "-s") == 0;
	if (argc != 2 + serial) {
		fprintf(stderr, "usage: mime_dump [-s] FILE\n");
		return 2;
	}
	FILE *f = fopen(argv[1 + serial], "rb");
	if (f == NULL) {
		perror(argv[1 + serial]);
		return 1;
	}
	unsigned char *msg = xmalloc(DUMP_MAX_FILE);
	size_t len = fread(msg, 1, DUMP_MAX_FILE, f);
	fclose(f);

	struct mime_tree *t = mime_parse(msg, len);
	struct buf out;
	int rc = 0;
	buf_init(&out, DUMP_MAX_OUT);
	if (mime_render_envelope(t, msg, 0, &out) < 0)
		rc = 1;
	item("ENVELOPE", &out);
	buf_reset(&out);
	if (mime_render_bodystructure(t, msg, 0, false, &out) < 0)
		rc = 1;
	item("BODY", &out);
	buf_reset(&out);
	if (mime_render_bodystructure(t, msg, 0, true, &out) < 0)
		rc = 1;
	item("BODYSTRUCTURE", &out);
	if (serial) {
		buf_reset(&out);
		if (mime_serialize(t, &out) < 0)
			rc = 1;
		item("PARTS", &out);
	}
	buf_free(&out);
	mime_tree_free(&t);
	free(msg);
	return rc;
}
