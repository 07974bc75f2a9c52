/* mem.c - allocation wrappers that abort on out-of-memory (STYLE rule 8).
 * A mail server that cannot allocate a few bytes has no sane way to go on:
 * say so on stderr with one write(2) and abort, so the supervisor restarts
 * it. No limits apply here; callers bound their sizes themselves. */
#include "lib/mem.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void mem_oom(void)
{
	static const char msg[] = "posternd: out of memory\n";
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		mem_oom();
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		mem_oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		mem_oom();
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
