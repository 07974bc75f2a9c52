/* digest.h - SHA-256 of message bodies through OpenSSL, which uses the
 * CPU's SHA extensions or AVX2 (libsodium's portable SHA-256 ran at about
 * a fifth of the speed and was half of posternd's CPU on 100 KiB mail). */
#ifndef POSTERN_LIB_DIGEST_H
#define POSTERN_LIB_DIGEST_H

#include <stddef.h>

#define DIGEST_SHA256_BYTES 32

void digest_sha256(unsigned char out[DIGEST_SHA256_BYTES], const void *data, size_t len);

#endif
