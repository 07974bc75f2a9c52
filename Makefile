# Postern - build, run and test.
#   make          build posternd and posternctl (build/)
#   make run      install missing Debian packages, build, run with an embedded PostgreSQL
#   make test     install what the tests need, unit tests (ASan+UBSan) and integration tests
#                 (with the admin panel in headless chromium: tests/browser)
#   make asan     the sanitizer build (build/asan/)
#   make bench    side-by-side benchmarks (bench/), not part of test
#   make fuzz     libFuzzer targets (clang)
#   make fmt      clang-format the C sources

CC      ?= cc
PKGS    := libpq libsodium openssl zlib libmicrohttpd jansson libcurl libpsl libidn2 gnutls
# libunbound.pc requires libevent.pc, which Debian's libunbound-dev does not
# pull in, and opendkim.pc only adds its include directory: both by hand.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -I/usr/include/opendkim
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lunbound -lopendkim

WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 \
           -Wmissing-prototypes -Wstrict-prototypes
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
DEFS    := -D_GNU_SOURCE
CFLAGS  ?= -O2 -g
ALL_CFLAGS := $(WARN) $(DEFS) $(CFLAGS) -Icore -I. $(PKG_CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lpthread

ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

# Every core and web .c file except the two programs' mains goes into one archive.
CORE_SRC := $(filter-out core/posternd.c core/posternctl.c,$(shell find core web -name '*.c' | sort))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))

B  := build
BA := build/asan

CORE_OBJ      := $(CORE_SRC:%.c=$(B)/%.o)
CORE_OBJ_ASAN := $(CORE_SRC:%.c=$(BA)/%.o)

.PHONY: all asan run test unit integration browser bench fuzz fmt clean deps-build deps-test deps-node user

all: $(B)/posternd $(B)/posternctl

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(HARDEN) -c $< -o $@

$(BA)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -D_FORTIFY_SOURCE=0 $(ASAN_FLAGS) -c $< -o $@

$(B)/libpostern.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BA)/libpostern.a: $(CORE_OBJ_ASAN)
	@rm -f $@
	ar rcs $@ $^

$(B)/posternd: $(B)/core/posternd.o $(B)/libpostern.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/posternctl: $(B)/core/posternctl.o $(B)/libpostern.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BA)/posternd: $(BA)/core/posternd.o $(BA)/libpostern.a
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

$(BA)/posternctl: $(BA)/core/posternctl.o $(BA)/libpostern.a
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

asan: $(BA)/posternd $(BA)/posternctl

# --- unit tests (cmocka, under ASan+UBSan) ---
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BA)/tests/%)

$(BA)/tests/%: tests/unit/%.c $(BA)/libpostern.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -D_FORTIFY_SOURCE=0 -Wno-missing-prototypes $(ASAN_FLAGS) -o $@ $< $(BA)/libpostern.a -lcmocka $(LDLIBS)

# Test tools (tests/tools/*.c), linked like the unit tests.
$(BA)/tools/%: tests/tools/%.c $(BA)/libpostern.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -D_FORTIFY_SOURCE=0 $(ASAN_FLAGS) -o $@ $< $(BA)/libpostern.a $(LDLIBS)

# The same tools without sanitizers, for measuring (make build/tools/dkim_speed).
$(B)/tools/%: tests/tools/%.c $(B)/libpostern.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(HARDEN) -o $@ $< $(B)/libpostern.a $(LDLIBS)

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || fail=1; done; exit $$fail

# --- Debian packages (installed only when missing) ---
BUILD_DEBS := gcc make pkg-config libc6-dev libssl-dev libpq-dev libsodium-dev zlib1g-dev \
              libmicrohttpd-dev libjansson-dev libunbound-dev libcurl4-openssl-dev libpsl-dev \
              libidn2-dev libopendkim-dev dns-root-data postgresql openssl ca-certificates \
              libgnutls28-dev
TEST_DEBS  := $(BUILD_DEBS) libcmocka-dev python3 python3-pytest swaks fetchmail curl \
              procps iproute2 dovecot-core dovecot-imapd chromium isync offlineimap3 neomutt \
              python3-dkim python3-spf python3-dnspython dnsmasq-base postfix opendkim-tools \
              pebble shellcheck docker-compose python3-yaml python3-cryptography
# node and npm for the browser tests: any install on PATH will do (a newer
# one from elsewhere must not be downgraded), else Debian's.
NODE_DEBS  := nodejs npm
define install_missing
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root to install:$$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps-build:
	$(call install_missing,$(BUILD_DEBS))

deps-test:
	$(call install_missing,$(TEST_DEBS))
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		$(MAKE) -s deps-node; fi

deps-node:
	$(call install_missing,$(NODE_DEBS))

# The unprivileged user posternd and its embedded PostgreSQL run as.
user:
	@if [ "$$(id -u)" = 0 ] && ! getent passwd postern >/dev/null; then \
		useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin postern; fi

# --- run ---
POSTERN_DATA_DIR ?= $(CURDIR)/var
export POSTERN_DATA_DIR

run: deps-build user
	$(MAKE) all
	POSTERN_SQL_DIR=$(CURDIR)/sql ./$(B)/posternd

# --- tests ---
test: deps-test user
	$(MAKE) unit
	$(MAKE) asan all
	$(MAKE) browser
	$(MAKE) integration

# playwright-core for tests/browser (run by tests/integration/test_browser.py),
# reinstalled when package.json or package-lock.json is newer than node_modules.
BROWSER_STAMP := tests/browser/node_modules/.package-lock.json

browser: $(BROWSER_STAMP)

$(BROWSER_STAMP): tests/browser/package.json tests/browser/package-lock.json
	npm ci --silent --no-audit --no-fund --prefix tests/browser
	@touch $@

integration:
	cd tests/integration && POSTERN_ROOT=$(CURDIR) /usr/bin/python3 -m pytest -q -ra -p no:cacheprovider -W ignore::DeprecationWarning .

bench: all
	bench/smtp-delivery

# --- fuzzing (libFuzzer, clang from Debian; not part of test) ---
# make fuzz builds build/fuzz/*; run one with e.g.
#   build/fuzz/fuzz_imap_parser -max_total_time=60 tests/fuzz/corpus/imap
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icore -I.
FUZZ_LIB   := core/lib/buf.c core/lib/str.c core/lib/strnum.c core/lib/mem.c core/lib/base64.c
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/*.c))

$(B)/fuzz/fuzz_imap_parser: core/imap/parser.c core/imap/seqset.c core/imap/mutf7.c
$(B)/fuzz/fuzz_mime: core/mail/mime.c core/mail/mime_rfc822.c core/mail/mime_render.c
$(B)/fuzz/fuzz_pop3_parser: core/pop3/parser.c core/pop3/stuff.c
$(B)/fuzz/fuzz_smtp: core/smtp/parser.c core/mail/address.c core/mail/data.c
$(B)/fuzz/fuzz_dkim: core/mail/dkim_canon.c core/mail/dkim_verify.c
$(B)/fuzz/fuzz_dkim: FUZZ_LINK := -lcrypto
$(B)/fuzz/fuzz_search_text: core/mail/mime.c core/mail/mime_rfc822.c core/mail/mime_render.c \
	core/mail/mime_decode.c core/imap/sort.c

$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -o $@ $^ $(FUZZ_LINK)

fuzz:
	$(call install_missing,clang)
	$(MAKE) $(FUZZ_BIN)

fmt:
	clang-format -i $$(find core web tests/unit -name '*.[ch]')

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
