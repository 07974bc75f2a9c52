/* fuzz_dkim.c - libFuzzer target for core/mail/dkim_canon.c and
 * dkim_verify.c: the input is a message; its DKIM-Signature fields are
 * verified against a fixed Ed25519 key record (no DNS: the lookup is a
 * callback). Invariants: at most LIMIT_DKIM_VERIFY_SIGS results, each
 * verdict known and never a pass (the key's private half is not in the
 * corpus); the header field split covers the header block exactly.
 *   make build/fuzz/fuzz_dkim && build/fuzz/fuzz_dkim -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/limits.h"
#include "dns/dns.h"
#include "lib/mem.h"
#include "mail/dkim_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* dkim_verify.c's default lookup needs core/dns; the target never uses it. */
enum dns_result dns_lookup(const char *name, enum dns_type type, struct dns_answer **answer_r)
{
	(void)name;
	(void)type;
	*answer_r = NULL;
	return DNS_TEMPFAIL;
}

void dns_answer_free(struct dns_answer **answer)
{
	*answer = NULL;
}

static int lookup(const char *name, char **txt_r)
{
	(void)name;
	*txt_r = xstrdup("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_sig_result r[LIMIT_DKIM_VERIFY_SIGS];
	struct dkim_field f[64];
	size_t body, n = dkim_fields(data, size, f, 64, &body);

	if (body > size)
		abort();
	for (size_t i = 0; i < n; i++)
		if (f[i].start < data || f[i].start + f[i].len > data + body)
			abort();
	n = dkim_verify(data, size, r, LIMIT_DKIM_VERIFY_SIGS, lookup);
	if (n > LIMIT_DKIM_VERIFY_SIGS)
		abort();
	for (size_t i = 0; i < n; i++)
		if (r[i].verdict == DKIM_PASS || r[i].verdict > DKIM_PERMERROR)
			abort();
	return 0;
}
