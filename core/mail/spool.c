/* spool.c - the capped message spool. Memory up to LIMIT_SPOOL_MEMORY (the
 * allocation grows geometrically up to it), past that an unlinked temporary
 * file: O_TMPFILE in config_get()->data_dir, else in /tmp, else mkstemp()
 * + unlink() when the filesystem has no O_TMPFILE. The message limit is the
 * max given to spool_new() (LIMIT_SMTP_MESSAGE_SIZE for SMTP). */
#include "mail/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/limits.h"
#include "lib/mem.h"

struct spool {
	size_t max;		/* message limit */
	size_t size;		/* bytes stored */
	unsigned char *mem;	/* memory part (while fd < 0) */
	size_t memcap;
	int fd;			/* temporary file, or -1 */
	bool overflow;
	bool io_error;
};

struct spool *spool_new(size_t max)
{
	struct spool *s = xcalloc(1, sizeof *s);
	s->max = max;
	s->fd = -1;
	return s;
}

void spool_reset(struct spool *s)
{
	xfree(s->mem);
	s->memcap = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->size = 0;
	s->overflow = false;
	s->io_error = false;
}

void spool_free(struct spool **sp)
{
	if (*sp == NULL)
		return;
	spool_reset(*sp);
	xfree(*sp);
}

size_t spool_size(const struct spool *s) { return s->size; }
bool spool_overflow(const struct spool *s) { return s->overflow; }
bool spool_io_error(const struct spool *s) { return s->io_error; }

static int tmpfile_in(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* No O_TMPFILE on this filesystem: create and unlink at once. */
	char path[4096];
	if (snprintf(path, sizeof path, "%s/postern-spool-XXXXXX", dir) >= (int)sizeof path)
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	unlink(path);
	return fd;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Moves the memory part to a new temporary file. */
static int to_file(struct spool *s)
{
	const struct config *cfg = config_get();
	int fd = -1;
	if (cfg != NULL && cfg->data_dir != NULL)
		fd = tmpfile_in(cfg->data_dir);
	if (fd < 0)
		fd = tmpfile_in("/tmp");
	if (fd < 0)
		return -1;
	if (write_all(fd, s->mem, s->size) < 0) {
		close(fd);
		return -1;
	}
	s->fd = fd;
	xfree(s->mem);
	s->memcap = 0;
	return 0;
}

int spool_append(struct spool *s, const void *p, size_t n)
{
	if (s->overflow || s->io_error)
		return -1;
	if (n > s->max - s->size) {
		s->overflow = true;
		return -1;
	}
	if (n == 0)
		return 0;
	if (s->fd < 0 && s->size + n > LIMIT_SPOOL_MEMORY && to_file(s) < 0) {
		s->io_error = true;
		return -1;
	}
	if (s->fd >= 0) {
		if (write_all(s->fd, p, n) < 0) {
			s->io_error = true;
			return -1;
		}
	} else {
		if (s->size + n > s->memcap) {
			size_t cap = s->memcap ? s->memcap : 4096;
			while (cap < s->size + n)
				cap *= 2;
			if (cap > LIMIT_SPOOL_MEMORY)
				cap = LIMIT_SPOOL_MEMORY;
			s->mem = xrealloc(s->mem, cap);
			s->memcap = cap;
		}
		memcpy(s->mem + s->size, p, n);
	}
	s->size += n;
	return 0;
}

int spool_read(struct spool *s, size_t off, void *dst, size_t n)
{
	if (off > s->size || n > s->size - off)
		return -1;
	if (s->fd < 0) {
		if (n > 0)
			memcpy(dst, s->mem + off, n);
		return 0;
	}
	unsigned char *d = dst;
	while (n > 0) {
		ssize_t r = pread(s->fd, d, n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return -1;
		d += r;
		off += (size_t)r;
		n -= (size_t)r;
	}
	return 0;
}
