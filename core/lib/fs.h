/* fs.h - small file-system helpers. */
#ifndef POSTERN_LIB_FS_H
#define POSTERN_LIB_FS_H

#include <sys/types.h>

/* mkdir -p: parents 0755, the last component leaf_mode. Existing
 * directories are fine. Returns 0, or -1 with errno set. */
int fs_mkdirs(const char *path, mode_t leaf_mode);

#endif
