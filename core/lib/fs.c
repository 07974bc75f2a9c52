/* fs.c - small file-system helpers (mkdir -p for the data directory). */
#include <errno.h>
#include <sys/stat.h>

#include "lib/fs.h"
#include "lib/str.h"

int fs_mkdirs(const char *path, mode_t leaf_mode)
{
	char p[4096];

	if (str_fmt(p, sizeof(p), "%s", path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, leaf_mode) < 0 && errno != EEXIST ? -1 : 0;
}
