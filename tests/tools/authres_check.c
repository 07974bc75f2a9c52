/* authres_check.c - test tool: runs the inbound checks of the MX listener
 * (core/mail/authres.c: SPF, DKIM, DMARC) on the message on stdin, with DNS
 * through core/dns (POSTERN_DNS_SERVER=127.0.0.1@PORT), and prints the
 * Authentication-Results field, then one line per verdict:
 * "spf RESULT DOMAIN", "dkim RESULT DOMAIN SELECTOR", "dmarc RESULT POLICY
 * DISPOSITION". Usage: authres_check IP HELO SENDER < message */
#include <stdio.h>
#include <stdlib.h>

#include "dns/dns.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "mail/authres.h"

int main(int argc, char **argv)
{
	struct buf in;
	unsigned char chunk[8192];
	size_t n;
	const char *err = NULL;
	struct authres_input ai;
	struct authres_outcome out;
	char *hdr;

	if (argc != 4) {
		fprintf(stderr, "usage: authres_check IP HELO SENDER < message\n");
		return 2;
	}
	log_init(NULL, "error");
	if (dns_init(getenv("POSTERN_DNS_SERVER"), NULL, &err) < 0) {
		fprintf(stderr, "dns: %s\n", err);
		return 1;
	}
	buf_init(&in, 64 * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_append(&in, chunk, n) < 0)
			return 1;
	ai.ip = argv[1];
	ai.helo = argv[2];
	ai.sender = argv[3];
	ai.hostname = "mx.postern.test";
	hdr = authres_check(&ai, buf_data(&in), buf_len(&in), &out);
	fputs(hdr, stdout);
	printf("spf %s %s\n", spf_result_name(out.spf.result), out.spf.domain);
	for (size_t i = 0; i < out.n_dkim; i++)
		printf("dkim %s %s %s\n", dkim_verdict_name(out.dkim[i].verdict),
		       out.dkim[i].domain[0] ? out.dkim[i].domain : "-",
		       out.dkim[i].selector[0] ? out.dkim[i].selector : "-");
	printf("dmarc %s %s %s\n", out.have_from ? dmarc_result_name(out.dmarc.result) : "permerror",
	       dmarc_policy_name(out.dmarc.policy), dmarc_policy_name(out.dmarc.disposition));
	free(hdr);
	buf_free(&in);
	dns_shutdown();
	return 0;
}
