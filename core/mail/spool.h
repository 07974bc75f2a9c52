/* spool.h - a size-capped message spool (DESIGN.md section 2): bytes kept in
 * memory up to LIMIT_SPOOL_MEMORY, then in an unlinked temporary file
 * (O_TMPFILE in the data directory, else /tmp). Written by the loop thread,
 * then handed whole to one worker thread that reads it back (ownership
 * moves with the job; no locking). */
#ifndef POSTERN_MAIL_SPOOL_H
#define POSTERN_MAIL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

struct spool;

/* A new empty spool that refuses to grow past max bytes. */
struct spool *spool_new(size_t max);
void spool_free(struct spool **s);
/* Appends n bytes. Returns 0, or -1 when max would be passed or a write to
 * the temporary file failed (spool_io_error() tells which); after -1 the
 * spool refuses every further append. */
int spool_append(struct spool *s, const void *p, size_t n);
/* Bytes stored. */
size_t spool_size(const struct spool *s);
/* True when the message limit was passed (552 5.3.4). */
bool spool_overflow(const struct spool *s);
/* True when the temporary file could not be created or written (452 4.3.1). */
bool spool_io_error(const struct spool *s);
/* Copies n bytes from offset off into dst. Returns 0 or -1 (I/O error, or
 * the range is past the end). Any thread, one at a time. */
int spool_read(struct spool *s, size_t off, void *dst, size_t n);
/* Empties the spool for reuse (temporary file closed). */
void spool_reset(struct spool *s);

#endif
