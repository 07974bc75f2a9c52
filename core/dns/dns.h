/* dns.h - DNS lookups through libunbound for threads other than the loop
 * (queue runners, inbound SPF/DKIM/DMARC checks): blocking, thread-safe,
 * with libunbound's cache shared by all callers. Answers carry the DNSSEC
 * verdict (secure / insecure / bogus) that DANE needs. POSTERN_DNS_SERVER
 * forwards to one server ("127.0.0.1@5353" in tests), else /etc/resolv.conf;
 * validation uses POSTERN_DNS_TRUST_ANCHOR or Debian's root key, and is
 * dropped (with a warning) when the upstream resolver strips DNSSEC. */
#ifndef POSTERN_DNS_DNS_H
#define POSTERN_DNS_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 253

enum dns_type {
	DNS_T_A = 1,
	DNS_T_CNAME = 5,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_TLSA = 52,
};

enum dns_result {
	DNS_OK,		/* at least one record of the type */
	DNS_NODATA,	/* the name exists, no record of the type */
	DNS_NXDOMAIN,	/* the name does not exist */
	DNS_TEMPFAIL,	/* SERVFAIL, timeout, network, bogus answer: try later */
	DNS_PERMFAIL,	/* the name cannot be looked up (syntax, too long) */
};

enum dns_sec {
	DNS_SEC_INSECURE,	/* not validated (no anchor, or an unsigned zone) */
	DNS_SEC_SECURE,		/* validated by DNSSEC */
	DNS_SEC_BOGUS,		/* validation failed: result is DNS_TEMPFAIL */
};

struct dns_rr {
	union {
		struct in_addr a;
		struct in6_addr aaaa;
		struct {
			uint16_t pref;
			char host[DNS_NAME_MAX + 1];	/* "" for a null MX (RFC 7505) */
		} mx;
		char name[DNS_NAME_MAX + 1];		/* PTR, CNAME */
		struct {
			uint16_t prio, weight, port;
			char target[DNS_NAME_MAX + 1];	/* "" for "." (RFC 2782) */
		} srv;
		struct {
			char *text;			/* the strings joined, NUL-terminated */
			size_t len;
		} txt;
		struct {
			uint8_t usage, selector, mtype;
			unsigned char *data;
			size_t len;
		} tlsa;
	} u;
};

struct dns_answer {
	enum dns_type type;
	enum dns_result result;
	enum dns_sec sec;
	uint32_t ttl;
	char canon[DNS_NAME_MAX + 1];	/* the name after CNAMEs, lower case, no final dot */
	char why[160];			/* why bogus or failed, for logs and bounces */
	size_t n;			/* at most LIMIT_DNS_RECORDS */
	struct dns_rr *rr;
};

/* Once per process, before any lookup; server and anchor may be NULL.
 * Returns 0, or -1 with *error_r set. */
int dns_init(const char *server, const char *anchor, const char **error_r);
void dns_shutdown(void);

/* Blocking lookup of name (a U-label name is converted with IDNA2008; a
 * final dot is allowed). Always fills *answer_r (free with dns_answer_free)
 * and returns its result. MX records come sorted by preference. */
enum dns_result dns_lookup(const char *name, enum dns_type type, struct dns_answer **answer_r);
void dns_answer_free(struct dns_answer **answer);

/* True while answers are DNSSEC-validated. */
bool dns_validating(void);

/* The wire name at p (len bytes) as text: lower case, no final dot, bytes
 * other than letters, digits, '-' and '_' escaped as \DDD. Returns the
 * bytes read, or -1 when malformed or longer than DNS_NAME_MAX. */
int dns_name_from_wire(const unsigned char *p, size_t len, char *out, size_t outsize);

#endif
