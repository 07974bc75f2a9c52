/* import_local.c - the local sources of posternctl import (docs/CLI.md).
 * Maildir++: the directory is INBOX, ".Name.Sub" subdirectories with cur/
 * or new/ are folders "Name/Sub" (modified UTF-7 decoded); item = the file's
 * unique name, flags = the ":2," letters (plus dovecot-keywords), internal
 * date = mtime. mbox: a message starts at a "From " line opening the file or
 * following an empty line; ">From " loses one ">"; Status/X-Status/
 * X-Keywords give the flags and are dropped like X-UID/X-IMAP(base); item =
 * "<ordinal>:<sha256 prefix>". Lines are stored CRLF; messages over
 * LIMIT_IMPORT_MESSAGE are skipped with a warning. */
#include "ops/import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "config/limits.h"
#include "imap/mutf7.h"
#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/strnum.h"

#define IMPORT_MAX_FOLDERS 10000

/* Appends data with every line ending made CRLF. */
static int import_crlf(struct buf *b, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) {
			if (buf_append(b, "\r\n", 2) < 0)
				return -1;
		} else if (buf_append(b, &p[i], 1) < 0) {
			return -1;
		}
	}
	return 0;
}

/* ---------- maildir ---------- */

struct maildir_file {
	char *path;
	char *name;
};

static int maildir_cmp(const void *a, const void *b)
{
	return strcmp(((const struct maildir_file *)a)->name, ((const struct maildir_file *)b)->name);
}

static bool maildir_is(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;

	return (str_fmt(p, sizeof(p), "%s/cur", dir) >= 0 && stat(p, &st) == 0 &&
		S_ISDIR(st.st_mode)) ||
	       (str_fmt(p, sizeof(p), "%s/new", dir) >= 0 && stat(p, &st) == 0 &&
		S_ISDIR(st.st_mode));
}

/* dovecot-keywords: "N name" lines; letter 'a'+N is the keyword's flag. */
static void maildir_keywords(const char *dir, char names[26][64])
{
	char p[PATH_MAX], line[128];
	FILE *f;

	memset(names, 0, 26 * 64);
	if (str_fmt(p, sizeof(p), "%s/dovecot-keywords", dir) < 0 || (f = fopen(p, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sp = strchr(line, ' ');
		uint64_t n;
		if (sp == NULL || strnum_u64(line, (size_t)(sp - line), 25, &n) < 0)
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		str_lcpy(names[n], sp + 1, 64);
	}
	fclose(f);
}

static void maildir_collect(const char *dir, const char *sub, struct maildir_file **v, size_t *n,
			    size_t *cap)
{
	char p[PATH_MAX];
	DIR *d;
	struct dirent *e;

	if (str_fmt(p, sizeof(p), "%s/%s", dir, sub) < 0 || (d = opendir(p)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char full[PATH_MAX];
		if (e->d_name[0] == '.' || str_fmt(full, sizeof(full), "%s/%s", p, e->d_name) < 0)
			continue;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*v = xrealloc(*v, *cap * sizeof(**v));
		}
		(*v)[*n].path = xstrdup(full);
		(*v)[*n].name = xstrdup(e->d_name);
		(*n)++;
	}
	closedir(d);
}

static int maildir_message(struct import_ctx *ctx, const struct maildir_file *f,
			   char keywords[26][64])
{
	char item[256];
	const char *info = strstr(f->name, ":2,");
	struct import_keywords kw;
	struct import_msg m = { .item = item };
	struct stat st;
	struct buf b;
	unsigned char *raw;
	ssize_t got;
	int fd, rc;

	if (str_fmt(item, sizeof(item), "%.*s", (int)strcspn(f->name, ":"), f->name) < 0) {
		import_skip(ctx, f->name, "file name too long");
		return 0;
	}
	if (import_seen(ctx, item))
		return import_message(ctx, &m);	/* counted as already there */
	import_keywords_init(&kw);
	for (const char *p = info != NULL ? info + 3 : ""; *p != '\0'; p++) {
		switch (*p) {
		case 'D': m.flags |= IMPORT_DRAFT; break;
		case 'F': m.flags |= IMPORT_FLAGGED; break;
		case 'R': m.flags |= IMPORT_ANSWERED; break;
		case 'S': m.flags |= IMPORT_SEEN; break;
		case 'T': m.flags |= IMPORT_DELETED; break;
		case 'P': import_keywords_add(&kw, "$Forwarded", 10); break;
		default:
			if (*p >= 'a' && *p <= 'z' && keywords[*p - 'a'][0] != '\0')
				import_keywords_add(&kw, keywords[*p - 'a'],
						    strlen(keywords[*p - 'a']));
			break;
		}
	}
	fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		import_skip(ctx, item, strerror(errno));
		return 0;
	}
	if (st.st_size > LIMIT_IMPORT_MESSAGE) {
		close(fd);
		import_skip(ctx, item, "larger than LIMIT_IMPORT_MESSAGE");
		return 0;
	}
	raw = xmalloc((size_t)st.st_size + 1);
	got = read(fd, raw, (size_t)st.st_size);
	close(fd);
	if (got != (ssize_t)st.st_size) {
		free(raw);
		import_skip(ctx, item, "cannot read the file");
		return 0;
	}
	buf_init(&b, 2 * (size_t)st.st_size + 2);
	if (import_crlf(&b, raw, (size_t)got) < 0) {
		free(raw);
		buf_free(&b);
		import_skip(ctx, item, "out of room converting line endings");
		return 0;
	}
	free(raw);
	m.data = buf_data(&b);
	m.len = buf_len(&b);
	m.keywords = kw.lit;
	m.internal_date = (int64_t)st.st_mtime;
	rc = import_message(ctx, &m);
	buf_free(&b);
	return rc;
}

static int maildir_folder(struct import_ctx *ctx, const char *dir, const char *folder,
			  const char *target)
{
	struct maildir_file *files = NULL;
	size_t n = 0, cap = 0;
	char keywords[26][64];
	int rc = 0;

	if (import_folder_begin(ctx, folder, target, 0) < 0)
		return -1;
	maildir_keywords(dir, keywords);
	maildir_collect(dir, "new", &files, &n, &cap);
	maildir_collect(dir, "cur", &files, &n, &cap);
	if (n > 0)
		qsort(files, n, sizeof(*files), maildir_cmp);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = maildir_message(ctx, &files[i], keywords);
	for (size_t i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].name);
	}
	free(files);
	return rc;
}

static int import_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int import_maildir(struct import_ctx *ctx, const char *path)
{
	char **subs = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *e;
	int rc;

	if (!maildir_is(path))
		return import_fail(ctx, OPS_FAIL, "%s is not a maildir (no cur/ or new/)", path);
	rc = maildir_folder(ctx, path, "INBOX", "INBOX");
	d = opendir(path);
	while (rc == 0 && d != NULL && (e = readdir(d)) != NULL) {
		char sub[PATH_MAX];
		if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0 || n == IMPORT_MAX_FOLDERS ||
		    str_fmt(sub, sizeof(sub), "%s/%s", path, e->d_name) < 0 || !maildir_is(sub))
			continue;
		subs = xrealloc(subs, (n + 1) * sizeof(*subs));
		subs[n++] = xstrdup(e->d_name + 1);
	}
	if (d != NULL)
		closedir(d);
	if (n > 0)
		qsort(subs, n, sizeof(*subs), import_name_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char dir[PATH_MAX], target[LIMIT_IMAP_MAILBOX_NAME + 1];
		struct buf dec;

		buf_init(&dec, LIMIT_IMAP_MAILBOX_NAME + 1);
		if (imap_mutf7_decode(subs[i], strlen(subs[i]), &dec) < 0 ||
		    buf_append(&dec, "", 1) < 0 ||
		    import_target_name((const char *)buf_data(&dec), '.', target,
				       sizeof(target)) < 0 ||
		    str_fmt(dir, sizeof(dir), "%s/.%s", path, subs[i]) < 0) {
			fprintf(stderr, "posternctl: warning: folder .%s skipped: not a valid "
				"mailbox name\n", subs[i]);
		} else {
			rc = maildir_folder(ctx, dir, subs[i], target);
		}
		buf_free(&dec);
	}
	for (size_t i = 0; i < n; i++)
		free(subs[i]);
	free(subs);
	return rc;
}

/* ---------- mbox ---------- */

struct mbox_state {
	struct import_ctx *ctx;
	struct buf msg;
	bool active, in_header, too_large;
	unsigned long ordinal;
	int flags;
	int64_t date;
	struct import_keywords kw;
};

static bool mbox_header_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static int mbox_flush(struct mbox_state *s)
{
	char item[64], hex[crypto_hash_sha256_BYTES * 2 + 1];
	unsigned char digest[crypto_hash_sha256_BYTES];
	struct import_msg m;
	size_t len = buf_len(&s->msg);
	const unsigned char *d = buf_data(&s->msg);

	if (!s->active)
		return 0;
	s->active = false;
	/* the empty line before the next From_ belongs to the separator */
	if (len >= 4 && memcmp(d + len - 4, "\r\n\r\n", 4) == 0)
		len -= 2;
	crypto_hash_sha256(digest, d, len);
	sodium_bin2hex(hex, sizeof(hex), digest, 16);
	if (str_fmt(item, sizeof(item), "%lu:%s", s->ordinal, hex) < 0)
		return -1;
	if (s->too_large) {
		import_skip(s->ctx, item, "larger than LIMIT_IMPORT_MESSAGE");
		return 0;
	}
	m = (struct import_msg){ .item = item, .data = d, .len = len, .flags = s->flags,
				 .keywords = s->kw.lit, .internal_date = s->date };
	return import_message(s->ctx, &m);
}

/* "From sender Thu Mar  4 05:06:07 2021": the date after the sender. */
static int64_t mbox_from_date(const char *line)
{
	const char *p = line + 5;
	struct tm tm;

	p += strcspn(p, " ");
	while (*p == ' ')
		p++;
	memset(&tm, 0, sizeof(tm));
	if (strptime(p, "%a %b %d %H:%M:%S %Y", &tm) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

static void mbox_begin(struct mbox_state *s, const char *line)
{
	buf_reset(&s->msg);
	s->active = true;
	s->in_header = true;
	s->too_large = false;
	s->ordinal++;
	s->flags = 0;
	s->date = mbox_from_date(line);
	import_keywords_init(&s->kw);
}

/* One line of a message (without its line ending). */
static void mbox_line(struct mbox_state *s, const char *line, size_t len)
{
	if (s->in_header) {
		if (len == 0) {
			s->in_header = false;
		} else if (mbox_header_is(line, len, "Status")) {
			if (memchr(line + 7, 'R', len - 7) != NULL)
				s->flags |= IMPORT_SEEN;
			return;
		} else if (mbox_header_is(line, len, "X-Status")) {
			for (size_t i = 9; i < len; i++) {
				switch (line[i]) {
				case 'A': s->flags |= IMPORT_ANSWERED; break;
				case 'F': s->flags |= IMPORT_FLAGGED; break;
				case 'T': s->flags |= IMPORT_DRAFT; break;
				case 'D': s->flags |= IMPORT_DELETED; break;
				default: break;
				}
			}
			return;
		} else if (mbox_header_is(line, len, "X-Keywords")) {
			size_t i = 11;
			while (i < len) {
				size_t j;
				while (i < len && (line[i] == ' ' || line[i] == ','))
					i++;
				j = i;
				while (j < len && line[j] != ' ' && line[j] != ',')
					j++;
				import_keywords_add(&s->kw, line + i, j - i);
				i = j;
			}
			return;
		} else if (mbox_header_is(line, len, "X-UID") || mbox_header_is(line, len, "X-IMAP") ||
			   mbox_header_is(line, len, "X-IMAPbase")) {
			return;
		}
	} else if (len > 5 && line[0] == '>') {
		size_t i = 0;
		while (i < len && line[i] == '>')
			i++;
		if (len - i >= 5 && memcmp(line + i, "From ", 5) == 0) {
			line++;		/* mboxrd: one level of quoting less */
			len--;
		}
	}
	if (s->too_large)
		return;
	if (buf_append(&s->msg, line, len) < 0 || buf_append(&s->msg, "\r\n", 2) < 0)
		s->too_large = true;
}

int import_mbox(struct import_ctx *ctx, const char *path)
{
	struct mbox_state s = { .ctx = ctx };
	FILE *f = fopen(path, "re");
	const char *base = strrchr(path, '/');
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool prev_empty = true;
	int rc = 0;

	if (f == NULL)
		return import_fail(ctx, OPS_FAIL, "cannot open %s: %s", path, strerror(errno));
	if (import_folder_begin(ctx, base != NULL ? base + 1 : path, "INBOX", 0) < 0) {
		fclose(f);
		return -1;
	}
	buf_init(&s.msg, LIMIT_IMPORT_MESSAGE);
	while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
		size_t len = (size_t)n;
		if (line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (prev_empty && len >= 5 && memcmp(line, "From ", 5) == 0) {
			line[len] = '\0';
			rc = mbox_flush(&s);
			mbox_begin(&s, line);
		} else if (s.active) {
			mbox_line(&s, line, len);
		} else if (len > 0) {
			rc = import_fail(ctx, OPS_FAIL, "%s is not an mbox file (no \"From \" line "
					 "first)", path);
		}
		prev_empty = len == 0;
	}
	if (rc == 0 && ferror(f))
		rc = import_fail(ctx, OPS_FAIL, "cannot read %s", path);
	if (rc == 0)
		rc = mbox_flush(&s);
	free(line);
	fclose(f);
	buf_free(&s.msg);
	return rc;
}
