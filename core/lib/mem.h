/* mem.h - allocation that aborts on out-of-memory (STYLE rule 8). */
#ifndef POSTERN_LIB_MEM_H
#define POSTERN_LIB_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Frees *p and sets it to NULL. */
#define xfree(p) do { free(p); (p) = NULL; } while (0)

#endif
