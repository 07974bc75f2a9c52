/* dkim_speed.c - measuring aid: time of dkim_sign_pem() and dkim_verify()
 * (key from a callback, no DNS) per message for RSA-2048 and Ed25519, on a
 * message of SIZE octets (default 4096), N rounds (default 2000).
 * Usage: dkim_speed [N [SIZE]]. Prints one line per key type; "parse" is
 * the PEM decoding that dkim_sign_pem() does per call and the cached keys
 * of dkim_sign_message() do not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lib/mem.h"
#include "lib/strnum.h"
#include "mail/dkim.h"

static char *speed_record;

static int lookup(const char *name, char **txt_r)
{
	(void)name;
	*txt_r = xstrdup(speed_record);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t n = 2000, size = 4096;
	static const char hdr[] = "From: A <a@example.test>\r\nTo: b@remote.test\r\n"
				  "Subject: speed\r\nDate: Sun, 22 Nov 2026 01:00:00 +0000\r\n\r\n";

	if ((argc > 1 && strnum_parse(argv[1], 10000000, &n) < 0) ||
	    (argc > 2 && strnum_parse(argv[2], 64 << 20, &size) < 0)) {
		fprintf(stderr, "usage: dkim_speed [N [SIZE]]\n");
		return 2;
	}
	size_t hl = strlen(hdr), len = hl + size;
	char *msg = xmalloc(len + 1);
	memcpy(msg, hdr, hl);
	for (size_t i = hl; i < len; i++)
		msg[i] = (i - hl) % 78 == 76 ? '\r' : (i - hl) % 78 == 77 ? '\n' : 'x';
	for (int alg = DKIM_ALG_RSA; alg <= DKIM_ALG_ED25519; alg++) {
		char *pem, *pub, *h = NULL;
		double t0, t1, t2;
		struct dkim_sig_result r[1];

		if (dkim_keygen((enum dkim_alg)alg, &pem, &pub) < 0)
			return 1;
		speed_record = xmalloc(strlen(pub) + 64);
		snprintf(speed_record, strlen(pub) + 64, "v=DKIM1; k=%s; p=%s",
			 dkim_alg_keytype((enum dkim_alg)alg), pub);
		t0 = now_s();
		for (uint64_t i = 0; i < n; i++) {
			free(h);
			h = NULL;
			if (dkim_sign_pem(pem, "example.test", "s", 1, (unsigned char *)msg, len,
					  &h) < 0)
				return 1;
		}
		t1 = now_s();
		double p0 = now_s();
		for (uint64_t i = 0; i < n; i++) {
			BIO *bio = BIO_new_mem_buf(pem, -1);
			EVP_PKEY_free(PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL));
			BIO_free(bio);
		}
		double parse = (now_s() - p0) / (double)n * 1e6;
		size_t total = strlen(h) + len;
		char *signed_msg = xmalloc(total);
		memcpy(signed_msg, h, strlen(h));
		memcpy(signed_msg + strlen(h), msg, len);
		for (uint64_t i = 0; i < n; i++)
			if (dkim_verify((unsigned char *)signed_msg, total, r, 1, lookup) != 1 ||
			    r[0].verdict != DKIM_PASS)
				return 1;
		t2 = now_s();
		double sign = (t1 - t0) / (double)n * 1e6;
		printf("%-8s sign %.1f us/msg (of which PEM parse %.1f)  verify %.1f us/msg  "
		       "size %llu\n", dkim_alg_keytype((enum dkim_alg)alg), sign, parse,
		       (t2 - p0 - parse * (double)n / 1e6) / (double)n * 1e6,
		       (unsigned long long)size);
		free(signed_msg);
		free(h);
		free(pem);
		free(pub);
		free(speed_record);
	}
	free(msg);
	return 0;
}
