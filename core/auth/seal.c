/* seal.c - private keys sealed at rest (DESIGN.md section 4): libsodium
 * crypto_secretbox_easy (XSalsa20-Poly1305) under a 32-byte key kept in
 * <data_dir>/seal.key (created 0600 with randombytes_buf on first use).
 * Sealed text is base64(nonce || box), so it fits a text column. Losing
 * seal.key makes the sealed keys unreadable: back it up with the database. */
#include "auth/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

static unsigned char seal_key[crypto_secretbox_KEYBYTES];
static bool seal_loaded;
static char seal_error[512];

static int seal_fail(const char **error_r, const char *what, const char *path)
{
	if (str_fmt(seal_error, sizeof(seal_error), "%s %s: %s", what, path, strerror(errno)) < 0)
		str_lcpy(seal_error, what, sizeof(seal_error));
	*error_r = seal_error;
	return -1;
}

/* Creates the key file; EEXIST (another process won the race) is not an error. */
static int seal_create(const char *path, const char **error_r)
{
	unsigned char key[crypto_secretbox_KEYBYTES];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	bool ok;

	if (fd < 0)
		return errno == EEXIST ? 0 : seal_fail(error_r, "cannot create", path);
	randombytes_buf(key, sizeof(key));
	ok = write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) && fsync(fd) == 0;
	sodium_memzero(key, sizeof(key));
	if (close(fd) < 0)
		ok = false;
	if (!ok) {
		int e = errno;
		unlink(path);
		errno = e;
		return seal_fail(error_r, "cannot write", path);
	}
	log_info("seal", "created a new key file %s", path);
	return 0;
}

int seal_init(const char *data_dir, const char **error_r)
{
	char path[4096];
	struct stat sb;
	ssize_t n;
	int fd;

	if (sodium_init() < 0) {
		*error_r = "libsodium cannot be initialised";
		return -1;
	}
	if (str_fmt(path, sizeof(path), "%s/seal.key", data_dir) < 0) {
		*error_r = "the data directory path is too long";
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		if (seal_create(path, error_r) < 0)
			return -1;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return seal_fail(error_r, "cannot open", path);
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size != crypto_secretbox_KEYBYTES) {
		close(fd);
		errno = EINVAL;
		return seal_fail(error_r, "not a 32-byte key file:", path);
	}
	if ((sb.st_mode & 077) != 0)
		log_warn("seal", "%s is readable by others; chmod 600 it", path);
	n = read(fd, seal_key, sizeof(seal_key));
	close(fd);
	if (n != (ssize_t)sizeof(seal_key)) {
		sodium_memzero(seal_key, sizeof(seal_key));
		errno = EIO;
		return seal_fail(error_r, "cannot read", path);
	}
	seal_loaded = true;
	return 0;
}

char *seal_text(const char *plain)
{
	size_t plen, blen, raw_len;
	unsigned char *raw;
	char *out;

	if (!seal_loaded || plain == NULL)
		return NULL;
	plen = strlen(plain);
	blen = plen + crypto_secretbox_MACBYTES;
	raw_len = crypto_secretbox_NONCEBYTES + blen;
	raw = xmalloc(raw_len);
	randombytes_buf(raw, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(raw + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plen,
			      raw, seal_key);
	out = xmalloc(BASE64_ENCODED_SIZE(raw_len));
	base64_encode(raw, raw_len, out);
	free(raw);
	return out;
}

char *seal_open(const char *sealed)
{
	size_t slen, cap, raw_len, plen;
	unsigned char *raw;
	char *plain;

	if (!seal_loaded || sealed == NULL)
		return NULL;
	slen = strlen(sealed);
	cap = slen / 4 * 3 + 3;
	raw = xmalloc(cap);
	if (base64_decode(sealed, slen, raw, cap, &raw_len) < 0 ||
	    raw_len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
		free(raw);
		return NULL;
	}
	plen = raw_len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	plain = xmalloc(plen + 1);
	if (crypto_secretbox_open_easy((unsigned char *)plain, raw + crypto_secretbox_NONCEBYTES,
				       raw_len - crypto_secretbox_NONCEBYTES, raw, seal_key) != 0) {
		free(raw);
		free(plain);
		return NULL;
	}
	free(raw);
	plain[plen] = '\0';
	if (strlen(plain) != plen) {	/* text was sealed: no NUL inside */
		sodium_memzero(plain, plen);
		free(plain);
		return NULL;
	}
	return plain;
}
