/* test_mime.c - unit tests of core/mail/mime*.c: a table of messages
 * (multipart/alternative, mixed with attachments, nested message/rfc822,
 * encoded words, 8-bit, broken boundaries, groups, missing headers, empty
 * message, RFC 2231) with the exact ENVELOPE and BODYSTRUCTURE strings
 * (the same files are in tests/corpus/mime/, where
 * tests/integration/test_mime_dovecot.py checks them against Dovecot); the
 * LIMIT_MIME_* limits at limit-1 / limit / limit+1; the serialisation
 * round trip and its refusal of damaged input; section lookup; every
 * prefix of every message parsed and rendered (ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/mem.h"
#include "mail/mime.h"

#define M(s) s, sizeof(s) - 1
#define OUT_MAX (16u * 1024 * 1024)

struct mcase {
	const char *name;
	const char *msg;
	size_t len;
	const char *envelope;
	const char *bodystructure;
};

static const struct mcase cases[] = {
	{ "01_simple",
	  M("Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
	  "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
	  "Subject: afternoon meeting\r\n"
	  "To: mooch@owatagu.siam.edu.example\r\n"
	  "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
	  "\r\n"
	  "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
	  ""),
	  "(\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"afternoon meeting\" ((\"Fred Foobar\""
	  " NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blur"
	  "dybloop.example\")) ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) (("
	  "NIL NIL \"mooch\" \"owatagu.siam.edu.example\")) NIL NIL NIL \"<B27397-0100000@Bl"
	  "urdybloop.example>\")",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 55 1 NIL NIL NIL "
	  "NIL)" },
	{ "02_alternative",
	  M("From: \"Alice Example\" <alice@example.com>\r\n"
	  "To: Bob <bob@example.org>, carol@example.net\r\n"
	  "Cc: \"Dave, the \\\"Boss\\\"\" <dave@example.com>\r\n"
	  "Subject: Lunch plans\r\n"
	  "Date: Tue, 1 Mar 2022 10:00:00 +0000\r\n"
	  "Message-ID: <alt-1@example.com>\r\n"
	  "In-Reply-To: <prev@example.org>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/alternative; boundary=\"b1_alt\"\r\n"
	  "\r\n"
	  "This is a multi-part message in MIME format.\r\n"
	  "\r\n"
	  "--b1_alt\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n"
	  "\r\n"
	  "Let's have lunch at caf=C3=A9 Bleu.\r\n"
	  "See you.\r\n"
	  "\r\n"
	  "--b1_alt\r\n"
	  "Content-Type: text/html; charset=\"utf-8\"\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n"
	  "\r\n"
	  "<html><body><p>Let's have lunch at caf=C3=A9 Bleu.</p></body></html>\r\n"
	  "\r\n"
	  "--b1_alt--\r\n"
	  "\r\n"
	  "epilogue text\r\n"
	  ""),
	  "(\"Tue, 1 Mar 2022 10:00:00 +0000\" \"Lunch plans\" ((\"Alice Example\" NIL \"ali"
	  "ce\" \"example.com\")) ((\"Alice Example\" NIL \"alice\" \"example.com\")) ((\"Al"
	  "ice Example\" NIL \"alice\" \"example.com\")) ((\"Bob\" NIL \"bob\" \"example.org"
	  "\")(NIL NIL \"carol\" \"example.net\")) (({16}\r\n"
	  "Dave, the \"Boss\" NIL \"dave\" \"example.com\")) NIL \"<prev@example.org>\" \"<a"
	  "lt-1@example.com>\")",
	  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 47 2 NI"
	  "L NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printab"
	  "le\" 70 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"b1_alt\") NIL NIL NIL)"
	  "" },
	{ "03_mixed_attach",
	  M("From: alice@example.com\r\n"
	  "To: bob@example.org\r\n"
	  "Subject: Report with attachments\r\n"
	  "Date: Wed, 2 Mar 2022 11:22:33 +0100\r\n"
	  "Message-ID: <mixed-1@example.com>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"=-=-=mixed=-=-=\"\r\n"
	  "\r\n"
	  "--=-=-=mixed=-=-=\r\n"
	  "Content-Type: text/plain; charset=us-ascii; format=flowed\r\n"
	  "Content-Language: en, de\r\n"
	  "\r\n"
	  "Please find the report attached.\r\n"
	  "\r\n"
	  "--=-=-=mixed=-=-=\r\n"
	  "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "Content-Disposition: attachment; filename=\"report.pdf\"; size=42\r\n"
	  "Content-Description: Quarterly report\r\n"
	  "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	  "\r\n"
	  "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29k\r\n"
	  "ZT4+CnN0cmVhbQp4nCvkMlAwUDC1NNUzMVGwMDHUszRSKErlCtdSyOMyVADBkiIuAwBTXAXh\r\n"
	  "--=-=-=mixed=-=-=\r\n"
	  "Content-Type: image/png; name=dot.png\r\n"
	  "Content-Transfer-Encoding: BASE64\r\n"
	  "Content-ID: <dot@example.com>\r\n"
	  "Content-Disposition: inline\r\n"
	  "Content-Location: http://example.com/dot.png\r\n"
	  "\r\n"
	  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAA"
	  "ABJRU5ErkJggg==\r\n"
	  "--=-=-=mixed=-=-=--\r\n"
	  ""),
	  "(\"Wed, 2 Mar 2022 11:22:33 +0100\" \"Report with attachments\" ((NIL NIL \"alice"
	  "\" \"example.com\")) ((NIL NIL \"alice\" \"example.com\")) ((NIL NIL \"alice\" \""
	  "example.com\")) ((NIL NIL \"bob\" \"example.org\")) NIL NIL NIL \"<mixed-1@exampl"
	  "e.com>\")",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\" \"format\" \"flowed\") NIL NIL \"7"
	  "bit\" 34 1 NIL NIL (\"en\" \"de\") NIL)(\"application\" \"pdf\" (\"name\" \"repor"
	  "t.pdf\") NIL \"Quarterly report\" \"base64\" 150 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\""
	  "attachment\" (\"filename\" \"report.pdf\" \"size\" \"42\")) NIL NIL)(\"image\" \""
	  "png\" (\"name\" \"dot.png\") \"<dot@example.com>\" NIL \"BASE64\" 96 NIL (\"inlin"
	  "e\" NIL) NIL \"http://example.com/dot.png\") \"mixed\" (\"boundary\" \"=-=-=mixed"
	  "=-=-=\") NIL NIL NIL)" },
	{ "04_nested_rfc822",
	  M("From: Forwarder <fwd@example.com>\r\n"
	  "To: someone@example.org\r\n"
	  "Subject: Fwd: Lunch plans\r\n"
	  "Date: Thu, 3 Mar 2022 08:00:00 -0500\r\n"
	  "Message-ID: <fwd-1@example.com>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=outer\r\n"
	  "\r\n"
	  "--outer\r\n"
	  "Content-Type: text/plain\r\n"
	  "\r\n"
	  "See the forwarded message below.\r\n"
	  "\r\n"
	  "--outer\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "Content-Disposition: inline\r\n"
	  "\r\n"
	  "From: \"Alice Example\" <alice@example.com>\r\n"
	  "To: Bob <bob@example.org>\r\n"
	  "Subject: Lunch plans\r\n"
	  "Date: Tue, 1 Mar 2022 10:00:00 +0000\r\n"
	  "Message-ID: <alt-1@example.com>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
	  "\r\n"
	  "--inner\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "\r\n"
	  "Lunch?\r\n"
	  "--inner\r\n"
	  "Content-Type: text/html; charset=utf-8\r\n"
	  "\r\n"
	  "<p>Lunch?</p>\r\n"
	  "--inner--\r\n"
	  "\r\n"
	  "--outer\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "\r\n"
	  "Subject: plain inner\r\n"
	  "From: x@y.example\r\n"
	  "\r\n"
	  "just a body\r\n"
	  "two lines\r\n"
	  "--outer--\r\n"
	  ""),
	  "(\"Thu, 3 Mar 2022 08:00:00 -0500\" \"Fwd: Lunch plans\" ((\"Forwarder\" NIL \"fw"
	  "d\" \"example.com\")) ((\"Forwarder\" NIL \"fwd\" \"example.com\")) ((\"Forwarder"
	  "\" NIL \"fwd\" \"example.com\")) ((NIL NIL \"someone\" \"example.org\")) NIL NIL "
	  "NIL \"<fwd-1@example.com>\")",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 34 1 NIL NIL NIL"
	  " NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 376 (\"Tue, 1 Mar 2022 10:00:00"
	  " +0000\" \"Lunch plans\" ((\"Alice Example\" NIL \"alice\" \"example.com\")) ((\""
	  "Alice Example\" NIL \"alice\" \"example.com\")) ((\"Alice Example\" NIL \"alice\""
	  " \"example.com\")) ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<alt-1@e"
	  "xample.com>\") ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 6 0 "
	  "NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 13 0 "
	  "NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"inner\") NIL NIL NIL) 17 NIL (\""
	  "inline\" NIL) NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 65 (NIL \"plai"
	  "n inner\" ((NIL NIL \"x\" \"y.example\")) ((NIL NIL \"x\" \"y.example\")) ((NIL N"
	  "IL \"x\" \"y.example\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \""
	  "us-ascii\") NIL NIL \"7bit\" 22 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL) \"mixed\" ("
	  "\"boundary\" \"outer\") NIL NIL NIL)" },
	{ "05_encoded_words",
	  M("From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <joerg@example.de>\r\n"
	  "To: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be.example>, \"Quoted \\\\"
	  " Back\" <qb@example.com>\r\n"
	  "Sender: list-bounces@lists.example (Mailing List)\r\n"
	  "Reply-To: \"List\" <list@lists.example>\r\n"
	  "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?B?TcO8bmNoZW4=?=\r\n"
	  "Date: Fri, 4 Mar 2022 12:00:00 +0100\r\n"
	  "Message-ID: <enc-1@example.de>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n"
	  "\r\n"
	  "Body.\r\n"
	  ""),
	  "(\"Fri, 4 Mar 2022 12:00:00 +0100\" \"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?B?T"
	  "cO8bmNoZW4=?=\" ((\"=?UTF-8?B?SsO2cmcgTcO8bGxlcg==?=\" NIL \"joerg\" \"example.de"
	  "\")) ((\"Mailing List\" NIL \"list-bounces\" \"lists.example\")) ((\"List\" NIL \""
	  "list\" \"lists.example\")) ((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" \""
	  "vm1.ulg.ac.be.example\")({13}\r\n"
	  "Quoted \\ Back NIL \"qb\" \"example.com\")) NIL NIL NIL \"<enc-1@example.de>\")",
	  "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 7 1 NIL NIL NIL NIL)"
	  "" },
	{ "06_eightbit",
	  M("From: J\303\266rg M\303\274ller <joerg@example.de>\r\n"
	  "To: r\303\251sum\303\251@example.fr\r\n"
	  "Subject: Gr\303\274\303\237e \342\200\223 raw UTF-8 subject\r\n"
	  "Date: Sat, 5 Mar 2022 12:00:00 +0100\r\n"
	  "Message-ID: <8bit-1@example.de>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n"
	  "\r\n"
	  "K\303\244se, \303\234bel, \303\266l.\r\n"
	  "Zweite Zeile.\r\n"
	  ""),
	  "(\"Sat, 5 Mar 2022 12:00:00 +0100\" {29}\r\n"
	  "Gr\303\274\303\237e \342\200\223 raw UTF-8 subject (({13}\r\n"
	  "J\303\266rg M\303\274ller NIL \"joerg\" \"example.de\")) (({13}\r\n"
	  "J\303\266rg M\303\274ller NIL \"joerg\" \"example.de\")) (({13}\r\n"
	  "J\303\266rg M\303\274ller NIL \"joerg\" \"example.de\")) ((NIL NIL {8}\r\n"
	  "r\303\251sum\303\251 \"example.fr\")) NIL NIL NIL \"<8bit-1@example.de>\")",
	  "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 35 2 NIL NIL NIL NIL"
	  ")" },
	{ "07_broken_unterminated",
	  M("From: a@example.com\r\n"
	  "To: b@example.com\r\n"
	  "Subject: unterminated multipart\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"xyz\"\r\n"
	  "\r\n"
	  "preamble\r\n"
	  "--xyz\r\n"
	  "Content-Type: text/plain\r\n"
	  "\r\n"
	  "first part\r\n"
	  "--xyz\r\n"
	  "Content-Type: text/html\r\n"
	  "\r\n"
	  "<b>second part, never closed</b>\r\n"
	  ""),
	  "(NIL \"unterminated multipart\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\""
	  " \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"b\" \"example.co"
	  "m\")) NIL NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NIL"
	  " NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 34 1 NIL NIL "
	  "NIL NIL) \"mixed\" (\"boundary\" \"xyz\") NIL NIL NIL)" },
	{ "08_broken_noboundary",
	  M("From: a@example.com\r\n"
	  "To: b@example.com\r\n"
	  "Subject: boundary never appears\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"nothere\"\r\n"
	  "\r\n"
	  "just text, no parts at all\r\n"
	  "second line\r\n"
	  ""),
	  "(NIL \"boundary never appears\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\""
	  " \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"b\" \"example.co"
	  "m\")) NIL NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL "
	  "NIL) \"mixed\" (\"boundary\" \"nothere\") NIL NIL NIL)" },
	{ "11_groups",
	  M("From: a@example.com\r\n"
	  "To: undisclosed-recipients:;\r\n"
	  "Cc: Team: alice@example.com, \"Bob B\" <bob@example.com>;, carol@example.com\r\n"
	  "Bcc: Empty Group:;, Other: x@y.example;\r\n"
	  "Subject: groups\r\n"
	  "Date: Mon, 7 Mar 2022 00:00:00 +0000\r\n"
	  "\r\n"
	  "body\r\n"
	  ""),
	  "(\"Mon, 7 Mar 2022 00:00:00 +0000\" \"groups\" ((NIL NIL \"a\" \"example.com\")) "
	  "((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"u"
	  "ndisclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"Team\" NIL)(NIL NIL \""
	  "alice\" \"example.com\")(\"Bob B\" NIL \"bob\" \"example.com\")(NIL NIL NIL NIL)("
	  "NIL NIL \"carol\" \"example.com\")) ((NIL NIL \"Empty Group\" NIL)(NIL NIL NIL NI"
	  "L)(NIL NIL \"Other\" NIL)(NIL NIL \"x\" \"y.example\")(NIL NIL NIL NIL)) NIL NIL)"
	  "",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL N"
	  "IL)" },
	{ "12_missing_headers",
	  M("X-Nothing: here\r\n"
	  "\r\n"
	  "only a body, no From, no Date\r\n"
	  ""),
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 31 1 NIL NIL NIL "
	  "NIL)" },
	{ "13_header_only",
	  M("From: a@example.com\r\n"
	  "Subject: no body at all\r\n"
	  ""),
	  "(NIL \"no body at all\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"examp"
	  "le.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL N"
	  "IL)" },
	{ "14_digest",
	  M("From: digest@example.com\r\n"
	  "Subject: digest\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/digest; boundary=\"dg\"\r\n"
	  "\r\n"
	  "--dg\r\n"
	  "\r\n"
	  "From: one@example.com\r\n"
	  "Subject: first\r\n"
	  "\r\n"
	  "first body\r\n"
	  "--dg\r\n"
	  "Content-Type: text/plain\r\n"
	  "\r\n"
	  "explicit text part\r\n"
	  "--dg--\r\n"
	  ""),
	  "(NIL \"digest\" ((NIL NIL \"digest\" \"example.com\")) ((NIL NIL \"digest\" \"exa"
	  "mple.com\")) ((NIL NIL \"digest\" \"example.com\")) NIL NIL NIL NIL NIL)",
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 51 (NIL \"first\" ((NIL NIL \"one\""
	  " \"example.com\")) ((NIL NIL \"one\" \"example.com\")) ((NIL NIL \"one\" \"exampl"
	  "e.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL"
	  " NIL \"7bit\" 10 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)(\"text\" \"plain\" (\"char"
	  "set\" \"us-ascii\") NIL NIL \"7bit\" 18 0 NIL NIL NIL NIL) \"digest\" (\"boundary"
	  "\" \"dg\") NIL NIL NIL)" },
	{ "15_params",
	  M("From: a@example.com\r\n"
	  "Subject: parameters\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed;\r\n"
	  " boundary=\"pp\";\r\n"
	  " foo=bar\r\n"
	  "\r\n"
	  "--pp\r\n"
	  "Content-Type: application/octet-stream;\r\n"
	  "\011name*0=\"very long \";\r\n"
	  "\011name*1=\"file name.bin\"\r\n"
	  "Content-Disposition: attachment;\r\n"
	  "\011filename*=UTF-8''na%C3%AFve.bin\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "\r\n"
	  "AAAA\r\n"
	  "--pp\r\n"
	  "Content-Type: text/plain; charset=\"iso-8859-1\" (comment); delsp=yes\r\n"
	  "Content-Type: text/html\r\n"
	  "Content-Id: <second-ct-ignored@example>\r\n"
	  "\r\n"
	  "second\r\n"
	  "--pp--\r\n"
	  ""),
	  "(NIL \"parameters\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.c"
	  "om\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
	  "((\"application\" \"octet-stream\" (\"name\" \"very long file name.bin\") NIL NIL"
	  " \"base64\" 4 NIL (\"attachment\" (\"filename*\" \"UTF-8''na%C3%AFve.bin\")) NIL "
	  "NIL)(\"text\" \"plain\" (\"charset\" \"iso-8859-1\" \"delsp\" \"yes\") \"<second-"
	  "ct-ignored@example>\" NIL \"7bit\" 6 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \""
	  "pp\" \"foo\" \"bar\") NIL NIL NIL)" },
	{ "16_addresses",
	  M("From: John Doe <jdoe@machine.example> (comment), Mary Smith <mary@x.test>\r\n"
	  "To: <@route.example,@r2.example:rt@example.net>, noat, \"quoted local\"@example.c"
	  "om\r\n"
	  "Cc: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\n"
	  "Reply-To: broken <missing-close@example.com\r\n"
	  "Subject: addresses\r\n"
	  "Message-ID:   <spaced@example>  \r\n"
	  "Date: Tue, 8 Mar 2022 00:00:00 +0000\r\n"
	  "\r\n"
	  "body\r\n"
	  ""),
	  "(\"Tue, 8 Mar 2022 00:00:00 +0000\" \"addresses\" ((\"John Doe\" NIL \"jdoe\" \"m"
	  "achine.example\")(\"Mary Smith\" NIL \"mary\" \"x.test\")) ((\"John Doe\" NIL \"j"
	  "doe\" \"machine.example\")(\"Mary Smith\" NIL \"mary\" \"x.test\")) ((\"broken\" "
	  "NIL \"missing-close\" \"SYNTAX_ERROR\")) ((NIL \"@route.example,@r2.example\" \"r"
	  "t\" \"example.net\")(NIL NIL \"noat\" \"MISSING_DOMAIN\")(NIL NIL \"quoted local\""
	  " \"example.com\")) ((\"Pete\" NIL \"pete\" \"silly.test\")) NIL NIL \"<spaced@exa"
	  "mple>  \")",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL N"
	  "IL)" },
	{ "17_nested_multipart",
	  M("From: a@example.com\r\n"
	  "Subject: nested multiparts\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=a\r\n"
	  "\r\n"
	  "--a\r\n"
	  "Content-Type: multipart/related; boundary=b; type=\"multipart/alternative\"\r\n"
	  "\r\n"
	  "--b\r\n"
	  "Content-Type: multipart/alternative; boundary=c\r\n"
	  "\r\n"
	  "--c\r\n"
	  "Content-Type: text/plain\r\n"
	  "\r\n"
	  "plain\r\n"
	  "--c\r\n"
	  "Content-Type: text/html\r\n"
	  "\r\n"
	  "<i>html</i>\r\n"
	  "--c--\r\n"
	  "--b\r\n"
	  "Content-Type: image/gif\r\n"
	  "Content-ID: <img1>\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "\r\n"
	  "R0lGODlhAQABAAAAACw=\r\n"
	  "--b--\r\n"
	  "--a\r\n"
	  "Content-Type: text/plain; name=notes.txt\r\n"
	  "Content-Disposition: attachment; filename=notes.txt\r\n"
	  "\r\n"
	  "notes\r\n"
	  "--a--\r\n"
	  ""),
	  "(NIL \"nested multiparts\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"ex"
	  "ample.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
	  "((((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NI"
	  "L NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 0 NIL NIL"
	  " NIL NIL) \"alternative\" (\"boundary\" \"c\") NIL NIL NIL)(\"image\" \"gif\" NIL"
	  " \"<img1>\" NIL \"base64\" 20 NIL NIL NIL NIL) \"related\" (\"boundary\" \"b\" \""
	  "type\" \"multipart/alternative\") NIL NIL NIL)(\"text\" \"plain\" (\"name\" \"not"
	  "es.txt\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL (\"attachment\" (\"fi"
	  "lename\" \"notes.txt\")) NIL NIL) \"mixed\" (\"boundary\" \"a\") NIL NIL NIL)" },
	{ "19_nul_junk",
	  M("From: a@example.com\r\n"
	  "Subject: nul \000 inside\r\n"
	  "Content-Type: text/plain; charset=\001\377\r\n"
	  "Broken header line without colon\r\n"
	  "X-After: y\r\n"
	  "\r\n"
	  "body \000 with nul\r\n"
	  "\377\376 junk\r\n"
	  ""),
	  "(NIL {14}\r\n"
	  "nul \357\277\275 inside ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"examp"
	  "le.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"\") NIL NIL \"7bit\" 26 2 NIL NIL NIL NIL)" },
	{ "23_no_mime_version",
	  M("Subject: no mime version\r\n"
	  "Content-Type: multipart/mixed; boundary=q\r\n"
	  "\r\n"
	  "--q\r\n"
	  "\r\n"
	  "x\r\n"
	  "--q--\r\n"
	  ""),
	  "(NIL \"no mime version\" NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL "
	  "NIL) \"mixed\" (\"boundary\" \"q\") NIL NIL NIL)" },
	{ "25_prefix_boundaries",
	  M("MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/mixed; boundary=\"ab\"\r\n"
	  "\r\n"
	  "--ab\r\n"
	  "Content-Type: multipart/mixed; boundary=\"abc\"\r\n"
	  "\r\n"
	  "--abc\r\n"
	  "\r\n"
	  "inner\r\n"
	  "--ab\r\n"
	  "\r\n"
	  "outer2\r\n"
	  "--ab--\r\n"
	  ""),
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL"
	  " NIL) \"mixed\" (\"boundary\" \"abc\") NIL NIL NIL)(\"text\" \"plain\" (\"charset"
	  "\" \"us-ascii\") NIL NIL \"7bit\" 6 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \""
	  "ab\") NIL NIL NIL)" },
	{ "29_rfc2231",
	  M("MIME-Version: 1.0\r\n"
	  "Content-Type: application/x-foo; a*0*=utf-8''%41; a*1*=%42; b*0=\"x\"; b*1=y\r\n"
	  "Content-Disposition: inline; filename=\"a b\"; filename=dup\r\n"
	  "\r\n"
	  ""),
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"application\" \"x-foo\" (\"a*\" \"utf-8''%41%42\" \"b\" \"xy\") NIL NIL \"7bit"
	  "\" 0 NIL (\"inline\" (\"filename\" \"a b\" \"filename\" \"dup\")) NIL NIL)" },
	{ "28_rfc822_in_rfc822",
	  M("MIME-Version: 1.0\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "\r\n"
	  "Subject: inner\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "\r\n"
	  "Subject: inner2\r\n"
	  "\r\n"
	  "x\r\n"
	  ""),
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 70 (NIL \"inner\" NIL NIL NIL NIL NI"
	  "L NIL NIL NIL) (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 22 (NIL \"inner2\" NI"
	  "L NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL"
	  " NIL \"7bit\" 3 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) 6 NIL NIL NIL NIL)" },
	{ "21_empty",
	  M(""),
	  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL N"
	  "IL)" },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static const struct mcase *find_case(const char *name)
{
	for (size_t i = 0; i < NCASES; i++) {
		if (strcmp(cases[i].name, name) == 0)
			return &cases[i];
	}
	fail_msg("no case %s", name);
	return NULL;
}

static char *render(const struct mime_tree *t, const void *msg, int what)
{
	struct buf b;
	buf_init(&b, OUT_MAX);
	int rc = what == 0 ? mime_render_envelope(t, msg, 0, &b) :
		 mime_render_bodystructure(t, msg, 0, what == 2, &b);
	assert_int_equal(rc, 0);
	char *s = xstrndup((const char *)buf_data(&b), buf_len(&b));
	buf_free(&b);
	return s;
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCASES; i++) {
		const struct mcase *c = &cases[i];
		struct mime_tree *t = mime_parse((const unsigned char *)c->msg, c->len);
		char *env = render(t, c->msg, 0), *bs = render(t, c->msg, 2);
		if (strcmp(env, c->envelope) != 0 || strcmp(bs, c->bodystructure) != 0)
			fail_msg("%s:\n env %s\nwant %s\n bs %s\nwant %s", c->name, env, c->envelope,
				 bs, c->bodystructure);
		free(env);
		free(bs);
		mime_tree_free(&t);
		assert_null(t);
	}
}

static void test_body_no_extension(void **state)
{
	(void)state;
	const struct mcase *c = find_case("04_nested_rfc822");
	struct mime_tree *t = mime_parse((const unsigned char *)c->msg, c->len);
	char *body = render(t, c->msg, 1);
	assert_string_equal(body,
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 34 1)"
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 376 (\"Tue, 1 Mar 2022 10:00:00 +0000\" "
		"\"Lunch plans\" ((\"Alice Example\" NIL \"alice\" \"example.com\")) ((\"Alice Example\" "
		"NIL \"alice\" \"example.com\")) ((\"Alice Example\" NIL \"alice\" \"example.com\")) "
		"((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<alt-1@example.com>\") "
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 6 0)(\"text\" \"html\" "
		"(\"charset\" \"utf-8\") NIL NIL \"7bit\" 13 0) \"alternative\") 17)"
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 65 (NIL \"plain inner\" ((NIL NIL \"x\" "
		"\"y.example\")) ((NIL NIL \"x\" \"y.example\")) ((NIL NIL \"x\" \"y.example\")) NIL NIL "
		"NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 22 1) 4) "
		"\"mixed\")");
	free(body);
	mime_tree_free(&t);
}

/* Bare LF gives the same structure (sizes count the octets there are). */
static void test_bare_lf(void **state)
{
	(void)state;
	static const char msg[] = "From: a@b.example\nSubject: lf\nContent-Type: multipart/mixed; "
				  "boundary=x\n\n--x\n\none\ntwo\n--x\nContent-Type: text/html\n\n<p>\n--x--\n";
	struct mime_tree *t = mime_parse((const unsigned char *)msg, sizeof(msg) - 1);
	char *bs = render(t, msg, 2);
	assert_string_equal(bs, "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 "
				"NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL "
				"\"7bit\" 3 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)");
	free(bs);
	mime_tree_free(&t);
}

/* --- serialisation --- */

static void roundtrip(const char *name, const void *msg, size_t len)
{
	struct mime_tree *t = mime_parse(msg, len);
	struct buf s1, s2;
	const char *err = NULL;
	buf_init(&s1, OUT_MAX);
	buf_init(&s2, OUT_MAX);
	assert_int_equal(mime_serialize(t, &s1), 0);
	struct mime_tree *u = mime_deserialize((const char *)buf_data(&s1), buf_len(&s1), len, &err);
	if (u == NULL)
		fail_msg("%s: %s: %.*s", name, err, (int)buf_len(&s1), (const char *)buf_data(&s1));
	assert_int_equal(u->count, t->count);
	for (uint32_t i = 0; i < t->count; i++) {
		const struct mime_part *a = &t->parts[i], *b = &u->parts[i];
		assert_int_equal(a->parent, b->parent);
		assert_int_equal(a->first_child, b->first_child);
		assert_int_equal(a->next, b->next);
		assert_int_equal(a->nchildren, b->nchildren);
		assert_int_equal(a->depth, b->depth);
		assert_int_equal(a->kind, b->kind);
		assert_int_equal(a->enc, b->enc);
		assert_int_equal(a->flags, b->flags);
		assert_int_equal(a->hdr_off, b->hdr_off);
		assert_int_equal(a->hdr_len, b->hdr_len);
		assert_int_equal(a->body_off, b->body_off);
		assert_int_equal(a->body_len, b->body_len);
		assert_int_equal(a->lines, b->lines);
	}
	assert_int_equal(mime_serialize(u, &s2), 0);
	assert_int_equal(buf_len(&s1), buf_len(&s2));
	assert_memory_equal(buf_data(&s1), buf_data(&s2), buf_len(&s1));
	/* the renderer gives the same strings from either tree */
	char *b1 = render(t, msg, 2), *b2 = render(u, msg, 2);
	assert_string_equal(b1, b2);
	free(b1);
	free(b2);
	buf_free(&s1);
	buf_free(&s2);
	mime_tree_free(&t);
	mime_tree_free(&u);
}

static void test_serialize_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCASES; i++)
		roundtrip(cases[i].name, cases[i].msg, cases[i].len);
}

static void test_serialize_format(void **state)
{
	(void)state;
	const struct mcase *c = find_case("04_nested_rfc822");
	struct mime_tree *t = mime_parse((const unsigned char *)c->msg, c->len);
	struct buf s;
	buf_init(&s, OUT_MAX);
	assert_int_equal(mime_serialize(t, &s), 0);
	assert_int_equal(buf_len(&s), strlen("M1;,m71,0,226,640,36,3;1,t70,235,28,34,1,0;"
		"2,r70,308,61,376,17,1;2,m71,369,239,137,9,2;2.1,t70,617,43,6,0,0;"
		"2.2,t70,677,42,13,0,0;3,r70,756,32,65,4,1;3,t71,788,43,22,1,0"));
	assert_memory_equal(buf_data(&s), "M1;,m71,0,226,640,36,3;1,t70,235,28,34,1,0;"
		"2,r70,308,61,376,17,1;2,m71,369,239,137,9,2;2.1,t70,617,43,6,0,0;"
		"2.2,t70,677,42,13,0,0;3,r70,756,32,65,4,1;3,t71,788,43,22,1,0", buf_len(&s));
	buf_free(&s);
	mime_tree_free(&t);
}

static void test_deserialize_refuses(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"M2;,t71,0,0,0,0,0",
		"M1",
		"M1;,t71,0,11,0,0,0",		/* header past the message */
		"M1;,t71,0,5,4,0,0",		/* the message not covered */
		"M1;,t71,1,4,5,0,0",		/* nor from its start */
		"M1;,t71,0,5,6,0,0",		/* body past the message */
		"M1;,t71,0,5,5,6,0",		/* more lines than octets */
		"M1;,t71,0,5,5,0,1",		/* a text part with a child */
		"M1;,m71,0,5,5,0,2;1,t70,5,0,1,0,0",	/* a child missing */
		"M1;,m71,0,5,5,0,1;2,t70,5,0,1,0,0",	/* wrong label */
		"M1;,m71,0,5,5,0,1;1,t70,4,0,1,0,0",	/* child outside its parent */
		"M1;,r71,0,5,5,0,0",		/* message/rfc822 without its message */
		"M1;,t70,0,5,5,0,0",		/* root not flagged as a message */
		"M1;,x71,0,5,5,0,0",
		"M1;,t7z,0,5,5,0,0",
		"M1;,t71,0,5,5,0,0;",
		"M1;,t71,0,5,5,0,0;1,t70,5,0,1,0,0",	/* a second root */
		"M1;,t71,0,5,5,-1,0",
		"M1;,t71,0,5,5,0",
		"M1;,t71,0,99999999999999999999999,5,0,0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *err = NULL;
		struct mime_tree *t = mime_deserialize(bad[i], strlen(bad[i]), 10, &err);
		if (t != NULL)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(err);
	}
	const char *err;
	struct mime_tree *t = mime_deserialize("M1;,t71,0,5,5,0,0", 17, 10, &err);
	assert_non_null(t);
	mime_tree_free(&t);
}

/* --- section lookup --- */

struct sect_case {
	const char *spec;
	int rc;
	enum mime_section_kind kind;
	const char *starts;	/* the range begins with this */
	size_t len;		/* and is this long (0: do not check) */
};

static void test_sections(void **state)
{
	(void)state;
	const struct mcase *c = find_case("04_nested_rfc822");
	struct mime_tree *t = mime_parse((const unsigned char *)c->msg, c->len);
	static const struct sect_case sc[] = {
		{ "", 0, MIME_SECTION_ALL, "From: Forwarder", 0 },
		{ "HEADER", 0, MIME_SECTION_HEADER, "From: Forwarder", 226 },
		{ "header.fields (From To)", 0, MIME_SECTION_HEADER_FIELDS, "From: Forwarder", 226 },
		{ "HEADER.FIELDS.NOT (From)", 0, MIME_SECTION_HEADER_FIELDS_NOT, "From: F", 226 },
		{ "TEXT", 0, MIME_SECTION_TEXT, "--outer\r\n", 640 },
		{ "1", 0, MIME_SECTION_BODY, "See the forwarded", 34 },
		{ "1.MIME", 0, MIME_SECTION_MIME, "Content-Type: text/plain\r\n\r\n", 28 },
		{ "2", 0, MIME_SECTION_BODY, "From: \"Alice", 376 },
		{ "2.MIME", 0, MIME_SECTION_MIME, "Content-Type: message/rfc822\r\n", 61 },
		{ "2.HEADER", 0, MIME_SECTION_HEADER, "From: \"Alice", 239 },
		{ "2.TEXT", 0, MIME_SECTION_TEXT, "--inner\r\n", 137 },
		{ "2.HEADER.FIELDS (Subject)", 0, MIME_SECTION_HEADER_FIELDS, "From: \"Alice", 239 },
		{ "2.1", 0, MIME_SECTION_BODY, "Lunch?", 6 },
		{ "2.2", 0, MIME_SECTION_BODY, "<p>Lunch?</p>", 13 },
		{ "2.2.MIME", 0, MIME_SECTION_MIME, "Content-Type: text/html", 42 },
		{ "3.1", 0, MIME_SECTION_BODY, "just a body\r\ntwo lines", 22 },
		{ "3.HEADER", 0, MIME_SECTION_HEADER, "Subject: plain inner", 43 },
		{ "3.TEXT", 0, MIME_SECTION_TEXT, "just a body", 22 },
		{ "0", -1, 0, NULL, 0 },
		{ "4", -1, 0, NULL, 0 },
		{ "1.1", -1, 0, NULL, 0 },
		{ "1.HEADER", -1, 0, NULL, 0 },
		{ "1.TEXT", -1, 0, NULL, 0 },
		{ "2.3", -1, 0, NULL, 0 },
		{ "3.2", -1, 0, NULL, 0 },
		{ "MIME", -1, 0, NULL, 0 },
		{ "1.", -1, 0, NULL, 0 },
		{ ".1", -1, 0, NULL, 0 },
		{ "1..2", -1, 0, NULL, 0 },
		{ "TEXTX", -1, 0, NULL, 0 },
		{ "HEADER.FIELDSX", -1, 0, NULL, 0 },
		{ "TEXT (x)", -1, 0, NULL, 0 },
		{ "99999999999999999999", -1, 0, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		struct mime_section s;
		const char *err = NULL;
		int rc = mime_section_lookup(t, sc[i].spec, strlen(sc[i].spec), &s, &err);
		if (rc != sc[i].rc)
			fail_msg("%s: rc %d", sc[i].spec, rc);
		if (rc < 0) {
			assert_non_null(err);
			continue;
		}
		assert_int_equal(s.kind, sc[i].kind);
		assert_true(s.off + s.len <= c->len);
		if (strncmp(c->msg + s.off, sc[i].starts, strlen(sc[i].starts)) != 0)
			fail_msg("%s: range starts \"%.20s\"", sc[i].spec, c->msg + s.off);
		if (sc[i].len != 0 && s.len != sc[i].len)
			fail_msg("%s: len %zu", sc[i].spec, s.len);
	}
	/* HEADER.FIELDS leaves the field list to the caller */
	struct mime_section s;
	const char *err;
	assert_int_equal(mime_section_lookup(t, "2.HEADER.FIELDS (A B)", 21, &s, &err), 0);
	assert_int_equal(s.spec_used, 15);
	/* a non-multipart message has a part 1: its body */
	const struct mcase *d = find_case("01_simple");
	struct mime_tree *u = mime_parse((const unsigned char *)d->msg, d->len);
	assert_int_equal(mime_section_lookup(u, "1", 1, &s, &err), 0);
	assert_int_equal(s.off, u->parts[0].body_off);
	assert_int_equal(s.len, 55);
	assert_int_equal(mime_section_lookup(u, "2", 1, &s, &err), -1);
	mime_tree_free(&u);

	char label[64];
	assert_int_equal(mime_section_label(t, 0, label, sizeof(label)), 0);
	assert_string_equal(label, "");
	assert_int_equal(mime_section_label(t, 4, label, sizeof(label)), 3);
	assert_string_equal(label, "2.1");
	assert_int_equal(mime_section_label(t, 4, label, 3), -1);
	mime_tree_free(&t);
}

/* A message that is itself message/rfc822: its body is part 1, the
 * encapsulated message's parts are 1.x. */
static void test_sections_root_rfc822(void **state)
{
	(void)state;
	static const char m[] =
		"From: outer@example.com\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
		"Content-Type: message/rfc822\r\n\r\nFrom: inner@example.com\r\nSubject: inner\r\n"
		"Content-Type: message/rfc822\r\n\r\nSubject: innermost\r\n"
		"Content-Type: multipart/alternative; boundary=z\r\n\r\n--z\r\n\r\nA\r\n--z\r\n"
		"Content-Type: text/html\r\n\r\n<b>B</b>\r\n--z--\r\n";
	static const struct {
		const char *spec, *starts;
		size_t len;
	} sc[] = {
		{ "1", "From: inner", 203 },
		{ "1.TEXT", "Subject: innermost", 130 },
		{ "1.HEADER", "From: inner", 73 },
		{ "1.1", "Subject: innermost", 130 },
		{ "1.1.HEADER", "Subject: innermost", 71 },
		{ "1.1.TEXT", "--z\r\n", 59 },
		{ "1.1.1", "A", 1 },
		{ "1.1.2", "<b>B</b>", 8 },
		{ "1.1.2.MIME", "Content-Type: text/html", 27 },
	};
	struct mime_tree *t = mime_parse((const unsigned char *)m, sizeof(m) - 1);
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		struct mime_section s;
		const char *err;
		if (mime_section_lookup(t, sc[i].spec, strlen(sc[i].spec), &s, &err) < 0)
			fail_msg("%s: %s", sc[i].spec, err);
		if (strncmp(m + s.off, sc[i].starts, strlen(sc[i].starts)) != 0 || s.len != sc[i].len)
			fail_msg("%s: %zu \"%.20s\"", sc[i].spec, s.len, m + s.off);
	}
	char label[64];
	assert_int_equal(mime_section_label(t, 1, label, sizeof(label)), 1);
	assert_string_equal(label, "1");
	assert_int_equal(mime_section_label(t, 4, label, sizeof(label)), 5);
	assert_string_equal(label, "1.1.2");
	roundtrip("root rfc822", m, sizeof(m) - 1);
	mime_tree_free(&t);
}

/* --- limits --- */

static char *nested(unsigned levels, size_t *len_r)
{
	struct buf b;
	buf_init(&b, OUT_MAX);
	for (unsigned i = 0; i < levels; i++)
		assert_int_equal(buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%u_\r\n\r\n"
					    "--b%u_\r\n", i, i), 0);
	assert_int_equal(buf_printf(&b, "Content-Type: text/plain\r\n\r\ninner\r\n"), 0);
	for (unsigned i = levels; i-- > 0;)
		assert_int_equal(buf_printf(&b, "--b%u_--\r\n", i), 0);
	*len_r = buf_len(&b);
	char *s = xmalloc(buf_len(&b) + 1);
	memcpy(s, buf_data(&b), buf_len(&b));
	s[buf_len(&b)] = '\0';
	buf_free(&b);
	return s;
}

static void test_limit_depth(void **state)
{
	(void)state;
	for (unsigned levels = LIMIT_MIME_DEPTH - 1; levels <= LIMIT_MIME_DEPTH + 1; levels++) {
		size_t len;
		char *msg = nested(levels, &len);
		struct mime_tree *t = mime_parse((const unsigned char *)msg, len);
		unsigned maxdepth = 0, flattened = 0;
		for (uint32_t i = 0; i < t->count; i++) {
			if (t->parts[i].depth > maxdepth)
				maxdepth = t->parts[i].depth;
			if (t->parts[i].flags & MIME_PART_FLATTENED) {
				flattened++;
				assert_int_equal(t->parts[i].kind, MIME_KIND_TEXT);
				assert_int_equal(t->parts[i].depth, LIMIT_MIME_DEPTH);
			}
		}
		if (levels <= LIMIT_MIME_DEPTH) {
			/* levels multiparts and the text leaf */
			assert_int_equal(t->count, levels + 1);
			assert_int_equal(maxdepth, levels);
			assert_int_equal(flattened, 0);
			assert_int_equal(t->parts[levels].body_len, 5);
		} else {
			assert_int_equal(t->count, LIMIT_MIME_DEPTH + 1);
			assert_int_equal(maxdepth, LIMIT_MIME_DEPTH);
			assert_int_equal(flattened, 1);
		}
		char *bs = render(t, msg, 2);
		assert_non_null(strstr(bs, "\"text\" \"plain\""));
		free(bs);
		roundtrip("depth", msg, len);
		mime_tree_free(&t);
		free(msg);
	}
}

static void test_limit_parts(void **state)
{
	(void)state;
	/* a multipart with k children: k + 1 parts */
	for (unsigned k = LIMIT_MIME_PARTS - 2; k <= LIMIT_MIME_PARTS; k++) {
		struct buf b;
		buf_init(&b, OUT_MAX);
		assert_int_equal(buf_printf(&b, "Content-Type: multipart/mixed; boundary=p\r\n\r\n"), 0);
		for (unsigned i = 0; i < k; i++)
			assert_int_equal(buf_printf(&b, "--p\r\n\r\npart %u\r\n", i), 0);
		assert_int_equal(buf_printf(&b, "--p--\r\n"), 0);
		struct mime_tree *t = mime_parse(buf_data(&b), buf_len(&b));
		if (k + 1 <= LIMIT_MIME_PARTS) {
			assert_int_equal(t->count, k + 1);
			assert_int_equal(t->parts[k].body_len, strlen("part ") + (k - 1 >= 100 ? 3 : 2));
		} else {
			assert_int_equal(t->count, LIMIT_MIME_PARTS);
			assert_int_equal(t->parts[0].nchildren, LIMIT_MIME_PARTS - 1);
		}
		char *bs = render(t, buf_data(&b), 2);
		free(bs);
		roundtrip("parts", buf_data(&b), buf_len(&b));
		mime_tree_free(&t);
		buf_free(&b);
	}
}

static void test_limit_header_size(void **state)
{
	(void)state;
	/* header lines of exactly n octets (the blank line not counted) */
	for (size_t n = LIMIT_MIME_HEADER_SIZE - 1; n <= LIMIT_MIME_HEADER_SIZE + 1; n++) {
		struct buf b;
		buf_init(&b, OUT_MAX);
		assert_int_equal(buf_printf(&b, "Subject: x\r\nX-Long: "), 0);
		size_t fill = n - 12 - 8 - 2;
		for (size_t i = 0; i < fill; i++)
			assert_int_equal(buf_append(&b, "a", 1), 0);
		assert_int_equal(buf_printf(&b, "\r\n\r\nbody\r\n"), 0);
		assert_int_equal(buf_len(&b), n + 2 + 6);
		struct mime_tree *t = mime_parse(buf_data(&b), buf_len(&b));
		assert_int_equal(t->count, 1);
		if (n <= LIMIT_MIME_HEADER_SIZE) {
			assert_int_equal(t->parts[0].hdr_len, n + 2);
			assert_int_equal(t->parts[0].body_len, 6);
		} else {
			/* the line that passes the limit and what follows are body */
			assert_int_equal(t->parts[0].hdr_len, 12);
			assert_int_equal(t->parts[0].body_len, buf_len(&b) - 12);
		}
		char *env = render(t, buf_data(&b), 0);
		assert_string_equal(env, "(NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL)");
		free(env);
		mime_tree_free(&t);
		buf_free(&b);
	}
}

static void test_limit_header_lines(void **state)
{
	(void)state;
	for (unsigned n = LIMIT_MIME_HEADER_LINES - 1; n <= LIMIT_MIME_HEADER_LINES + 1; n++) {
		struct buf b;
		buf_init(&b, OUT_MAX);
		for (unsigned i = 0; i < n; i++)
			assert_int_equal(buf_printf(&b, "X: y\r\n"), 0);
		assert_int_equal(buf_printf(&b, "\r\nbody\r\n"), 0);
		struct mime_tree *t = mime_parse(buf_data(&b), buf_len(&b));
		unsigned kept = n <= LIMIT_MIME_HEADER_LINES ? n : LIMIT_MIME_HEADER_LINES;
		size_t hdr = (size_t)kept * 6 + (n <= LIMIT_MIME_HEADER_LINES ? 2 : 0);
		assert_int_equal(t->parts[0].hdr_len, hdr);
		assert_int_equal(t->parts[0].body_len, buf_len(&b) - hdr);
		mime_tree_free(&t);
		buf_free(&b);
	}
}

static void test_limit_boundary(void **state)
{
	(void)state;
	for (size_t n = LIMIT_MIME_BOUNDARY - 1; n <= LIMIT_MIME_BOUNDARY + 1; n++) {
		struct buf b;
		char bd[LIMIT_MIME_BOUNDARY + 2];
		memset(bd, 'q', n);
		bd[n] = '\0';
		buf_init(&b, OUT_MAX);
		assert_int_equal(buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
					    "--%s\r\n\r\none\r\n--%s--\r\n", bd, bd, bd), 0);
		struct mime_tree *t = mime_parse(buf_data(&b), buf_len(&b));
		assert_int_equal(t->count, n <= LIMIT_MIME_BOUNDARY ? 2 : 1);
		mime_tree_free(&t);
		buf_free(&b);
	}
}

/* Many parameters: the first LIMIT_MIME_PARAMS are kept. */
static void test_limit_params(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, OUT_MAX);
	assert_int_equal(buf_printf(&b, "Content-Type: application/x"), 0);
	for (unsigned i = 0; i < LIMIT_MIME_PARAMS + 5; i++)
		assert_int_equal(buf_printf(&b, "; p%u=v", i), 0);
	assert_int_equal(buf_printf(&b, "\r\n\r\n"), 0);
	struct mime_tree *t = mime_parse(buf_data(&b), buf_len(&b));
	char *bs = render(t, buf_data(&b), 2);
	char want[32];
	snprintf(want, sizeof(want), "\"p%u\" \"v\")", LIMIT_MIME_PARAMS - 1);
	assert_non_null(strstr(bs, want));
	snprintf(want, sizeof(want), "\"p%u\"", LIMIT_MIME_PARAMS);
	assert_null(strstr(bs, want));
	free(bs);
	mime_tree_free(&t);
	buf_free(&b);
}

/* Every prefix of every message: parses, renders, serialises, round-trips
 * (ASan catches any read past the end). */
static void test_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCASES; i++) {
		const struct mcase *c = &cases[i];
		for (size_t n = 0; n <= c->len; n++) {
			unsigned char *m = xmalloc(n + 1);
			memcpy(m, c->msg, n);
			struct mime_tree *t = mime_parse(m, n);
			struct buf b;
			buf_init(&b, OUT_MAX);
			assert_int_equal(mime_render_envelope(t, m, 0, &b), 0);
			assert_int_equal(mime_render_bodystructure(t, m, 0, true, &b), 0);
			for (uint32_t p = 0; p < t->count; p++) {
				const struct mime_part *q = &t->parts[p];
				assert_true(q->body_off + q->body_len <= n);
				assert_int_equal(q->body_off, q->hdr_off + q->hdr_len);
			}
			buf_reset(&b);
			assert_int_equal(mime_serialize(t, &b), 0);
			const char *err;
			struct mime_tree *u = mime_deserialize((const char *)buf_data(&b), buf_len(&b), n,
							       &err);
			assert_non_null(u);
			mime_tree_free(&u);
			buf_free(&b);
			mime_tree_free(&t);
			free(m);
		}
	}
}

/* Inputs the fuzzer found: empty parts right at a boundary must stay
 * inside their parents (the CRLF before a boundary belongs to it). */
static void test_fuzz_regressions(void **state)
{
	(void)state;
	static const char a[] =
		"Content-Type: multipart/mixed; boundary=q\r\nMIME-Version: 1.0\r\n\r\n--q\r\n"
		"Content-Type: message/rfc822\r\n\r\n--q--\r\n";
	static const char b[] =
		"Content-Type: multipart/mixed; boundary=q\r\nMIME-Version: 1\001;.0\r\n\r\n--q\r\n"
		"Content-Type: message/rfc822\r\n\r\n--y=q\r\nMIME-Version: 1\001;.0\r\n\r\n--q\r\n"
		"Content-Type: message/rfc82q--\r\n";
	roundtrip("a", a, sizeof(a) - 1);
	roundtrip("b", b, sizeof(b) - 1);
	struct mime_tree *t = mime_parse((const unsigned char *)a, sizeof(a) - 1);
	char *bs = render(t, a, 1);
	assert_string_equal(bs, "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL "
				"NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
				"NIL \"7bit\" 0 0) 0) \"mixed\")");
	free(bs);
	mime_tree_free(&t);
}

/* A render into a small buffer fails cleanly. */
static void test_render_cap(void **state)
{
	(void)state;
	const struct mcase *c = find_case("04_nested_rfc822");
	struct mime_tree *t = mime_parse((const unsigned char *)c->msg, c->len);
	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(mime_render_bodystructure(t, (const unsigned char *)c->msg, 0, true, &b), -1);
	buf_reset(&b);
	assert_int_equal(mime_render_envelope(t, (const unsigned char *)c->msg, 0, &b), -1);
	buf_reset(&b);
	assert_int_equal(mime_serialize(t, &b), -1);
	buf_free(&b);
	mime_tree_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_body_no_extension),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_serialize_roundtrip),
		cmocka_unit_test(test_serialize_format),
		cmocka_unit_test(test_deserialize_refuses),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_sections_root_rfc822),
		cmocka_unit_test(test_limit_depth),
		cmocka_unit_test(test_limit_parts),
		cmocka_unit_test(test_limit_header_size),
		cmocka_unit_test(test_limit_header_lines),
		cmocka_unit_test(test_limit_boundary),
		cmocka_unit_test(test_limit_params),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_render_cap),
		cmocka_unit_test(test_fuzz_regressions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
