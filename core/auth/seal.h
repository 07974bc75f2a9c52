/* seal.h - private keys sealed at rest (libsodium secretbox) under a 32-byte
 * key file in the data directory (DESIGN.md section 4). */
#ifndef POSTERN_AUTH_SEAL_H
#define POSTERN_AUTH_SEAL_H

#include <stddef.h>

/* Loads <data_dir>/seal.key, creating it (0600) when missing. 0 or -1. */
int seal_init(const char *data_dir, const char **error_r);
/* Seals text into base64(nonce || box); malloc'd string or NULL. */
char *seal_text(const char *plain);
/* Opens what seal_text made; malloc'd NUL-terminated string or NULL. */
char *seal_open(const char *sealed);

#endif
