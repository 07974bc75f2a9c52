# shellcheck shell=bash
# bench/lib.sh - helpers shared by the side-by-side benchmarks in bench/:
# installing missing Debian packages without starting their system services,
# free loopback ports, timing, and private throwaway instances of PostgreSQL,
# Postfix and Dovecot that live in one temp directory, listen on 127.0.0.1 or
# unix sockets only, and never read or change /etc/postfix or /etc/dovecot.
# Sourced by bash scripts that `set -euo pipefail`; every function either
# succeeds or calls bench_die.

BENCH_PG_BIN=${BENCH_PG_BIN:-}

bench_log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch with nanoseconds, e.g. 1700000000.123456789.
bench_now() { date +%s.%N; }

# bench_calc EXPR: floating-point arithmetic through awk, 2 decimals.
bench_calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }

# bench_cpu_ticks: the CPU time the whole machine has worked so far (user,
# nice, system, irq and softirq of every core; not idle, iowait or steal),
# in clock ticks. Two readings around a run give what the run cost, every
# process of it together: driver, server, PostgreSQL, kernel.
bench_cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }

# bench_cpu_us TICKS N: microseconds of CPU per item, TICKS spent on N.
bench_cpu_us() {
	awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", t * 1000000 / hz / n }'
}

bench_pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}

# bench_install_missing PKG...: apt-get installs the packages that are not
# installed yet. Postfix's debconf question is preseeded to "No configuration"
# and, unless the machine already has one, a temporary policy-rc.d keeps the
# packages' own system services from being started by the install.
BENCH_OWN_POLICY=0
bench_install_missing() {
	local missing=() p
	for p in "$@"; do
		bench_pkg_installed "$p" || missing+=("$p")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	[[ $(id -u) -eq 0 ]] || bench_die "run as root to install: ${missing[*]}"
	bench_log "installing: ${missing[*]}"
	echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\n# temporary, bench/lib.sh: do not start services\nexit 101\n' \
			>/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		BENCH_OWN_POLICY=1
	fi
	local rc=0
	{
		apt-get -o DPkg::Lock::Timeout=600 update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install \
				-y -qq --no-install-recommends "${missing[@]}"
	} >&2 || rc=$?
	bench_policy_restore
	[[ $rc -eq 0 ]] || bench_die "apt-get install failed: ${missing[*]}"
}

bench_policy_restore() {
	if [[ $BENCH_OWN_POLICY -eq 1 ]]; then
		rm -f /usr/sbin/policy-rc.d
		BENCH_OWN_POLICY=0
	fi
}

# bench_port_busy PORT: true when something accepts on 127.0.0.1:PORT.
bench_port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# bench_free_port: prints an unused high port (not one handed out before).
BENCH_PORTS_USED=" "
bench_free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		[[ $BENCH_PORTS_USED == *" $p "* ]] && continue
		bench_port_busy "$p" && continue
		BENCH_PORTS_USED+="$p "
		echo "$p"
		return 0
	done
	bench_die "no free port found"
}

# bench_wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
bench_wait_for() {
	local deadline
	deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		(($(date +%s) < deadline)) || return 1
		sleep 0.1
	done
}

# --- PostgreSQL: a throwaway cluster, unix socket only, fsync on ---------

bench_pg_bindir() {
	if [[ -z $BENCH_PG_BIN ]]; then
		BENCH_PG_BIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d \
			2>/dev/null | sort -V | tail -n 1)
		[[ -x $BENCH_PG_BIN/initdb ]] || bench_die "PostgreSQL server binaries not found"
	fi
	echo "$BENCH_PG_BIN"
}

# bench_pg_start DIR PORT: initdb DIR/data as user postgres and start it with
# its socket in DIR/sock. Sets BENCH_PG_DIR, BENCH_PG_SOCK, BENCH_PG_PORT.
bench_pg_start() {
	local dir=$1 port=$2 bin
	bin=$(bench_pg_bindir)
	mkdir -p "$dir/sock"
	chown postgres: "$dir" "$dir/sock"
	runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres --auth=trust \
		-E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
		bench_die "initdb failed, see $dir/initdb.log"
	cat >>"$dir/data/postgresql.conf" <<-EOF
		# bench: durable settings, no TCP
		listen_addresses = ''
		unix_socket_directories = '$dir/sock'
		port = $port
		fsync = on
		synchronous_commit = on
		full_page_writes = on
		max_connections = 200
	EOF
	runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
		>/dev/null || bench_die "PostgreSQL did not start, see $dir/server.log"
	BENCH_PG_DIR=$dir
	BENCH_PG_SOCK=$dir/sock
	BENCH_PG_PORT=$port
}

bench_pg_stop() {
	[[ -n ${BENCH_PG_DIR:-} && -f $BENCH_PG_DIR/data/postmaster.pid ]] || return 0
	runuser -u postgres -- "$(bench_pg_bindir)/pg_ctl" -D "$BENCH_PG_DIR/data" -m fast -w \
		-t 60 stop >/dev/null 2>&1 || true
}

# bench_psql DB SQL: one statement, unaligned tuples-only output.
bench_psql() {
	"$(bench_pg_bindir)/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$BENCH_PG_SOCK" -p "$BENCH_PG_PORT" -U postgres \
		-d "$1" -c "$2"
}

# --- Dovecot: a private instance delivering by LMTP into maildirs -------

# bench_dovecot_start DIR USER@DOMAIN...: writes DIR/dovecot.conf (its own
# base_dir, state_dir and log, a passwd-file userdb, mail under DIR/mail owned
# by nobody) and starts it. LMTP listens on the unix socket DIR/run/lmtp.
# Sets BENCH_DOVECOT_CONF, BENCH_DOVECOT_LMTP; bench_dovecot_maildir USER@DOMAIN
# prints the maildir of an address.
bench_dovecot_start() {
	local dir=$1 addr uid gid
	shift
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	mkdir -p "$dir/run" "$dir/state" "$dir/mail"
	: >"$dir/users"
	for addr in "$@"; do
		printf '%s:{PLAIN}bench-password::::::\n' "$addr" >>"$dir/users"
		mkdir -p "$dir/mail/$addr"
		chown "$uid:$gid" "$dir/mail/$addr"
	done
	chmod 755 "$dir" "$dir/mail"
	chmod 644 "$dir/users"
	cat >"$dir/dovecot.conf" <<-EOF
		# bench/lib.sh: private Dovecot instance, LMTP only
		instance_name = postern-bench-$$
		base_dir = $dir/run
		state_dir = $dir/state
		log_path = $dir/dovecot.log
		info_log_path = $dir/dovecot.log
		protocols = lmtp
		listen = 127.0.0.1
		ssl = no
		disable_plaintext_auth = no
		auth_mechanisms = plain
		first_valid_uid = 1
		mail_location = maildir:~/Maildir
		# Dovecot's default: fsync whenever needed so that a delivered
		# message survives a crash (before LMTP answers 250).
		mail_fsync = optimized
		postmaster_address = postmaster@bench.test
		passdb {
		  driver = passwd-file
		  args = $dir/users
		}
		userdb {
		  driver = passwd-file
		  args = $dir/users
		  default_fields = uid=$uid gid=$gid home=$dir/mail/%u
		}
		service lmtp {
		  unix_listener lmtp {
		    mode = 0666
		  }
		}
		service anvil {
		  chroot =
		}
		service stats {
		  unix_listener stats-writer {
		    mode = 0666
		  }
		}
	EOF
	dovecot -c "$dir/dovecot.conf" || bench_die "dovecot did not start, see $dir/dovecot.log"
	BENCH_DOVECOT_CONF=$dir/dovecot.conf
	BENCH_DOVECOT_DIR=$dir
	BENCH_DOVECOT_LMTP=$dir/run/lmtp
	bench_wait_for 20 test -S "$BENCH_DOVECOT_LMTP" || bench_die "dovecot LMTP socket missing"
}

bench_dovecot_maildir() { echo "$BENCH_DOVECOT_DIR/mail/$1/Maildir"; }

bench_dovecot_stop() {
	[[ -n ${BENCH_DOVECOT_CONF:-} && -f $BENCH_DOVECOT_DIR/run/master.pid ]] || return 0
	local pid
	pid=$(cat "$BENCH_DOVECOT_DIR/run/master.pid" 2>/dev/null || true)
	dovecot -c "$BENCH_DOVECOT_CONF" stop >/dev/null 2>&1 || true
	if [[ -n $pid ]]; then
		bench_wait_for 20 bench_pid_gone "$pid" || true
	fi
}

bench_pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# --- Postfix: a private instance, smtpd on 127.0.0.1:PORT, LMTP out ------

# bench_postfix_start DIR PORT DOMAIN MAILBOXES TRANSPORT: writes DIR/etc/{main,master}.cf
# with its own queue and data directories and starts it with `postfix -c`.
# MAILBOXES is a space-separated list of accepted addresses in DOMAIN, all
# delivered through TRANSPORT (e.g. lmtp:unix:/path). Sets BENCH_POSTFIX_ETC.
bench_postfix_start() {
	local dir=$1 port=$2 domain=$3 mailboxes=$4 transport=$5 a inline=""
	mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
	chown postfix: "$dir/data"
	chmod 755 "$dir"
	for a in $mailboxes; do
		inline+="$a=ok, "
	done
	cat >"$dir/etc/main.cf" <<-EOF
		# bench/lib.sh: private Postfix instance (performance settings left at
		# their defaults: this is Postfix as Debian ships it)
		compatibility_level = 3.6
		config_directory = $dir/etc
		queue_directory = $dir/queue
		data_directory = $dir/data
		mail_owner = postfix
		setgid_group = postdrop
		myhostname = mx.$domain
		mydomain = $domain
		myorigin = \$myhostname
		mydestination =
		inet_interfaces = 127.0.0.1
		inet_protocols = ipv4
		mynetworks = 127.0.0.0/8
		alias_maps =
		alias_database =
		local_recipient_maps =
		relayhost =
		biff = no
		smtputf8_enable = no
		maillog_file_prefixes = $dir
		maillog_file = $dir/maillog
		virtual_mailbox_domains = $domain
		virtual_mailbox_maps = inline:{ ${inline%, } }
		virtual_transport = $transport
	EOF
	cat >"$dir/etc/master.cf" <<-EOF
		# service type  private unpriv  chroot  wakeup  maxproc command
		127.0.0.1:$port inet n - n - - smtpd
		cleanup   unix  n       -       n       -       0       cleanup
		qmgr      unix  n       -       n       300     1       qmgr
		rewrite   unix  -       -       n       -       -       trivial-rewrite
		bounce    unix  -       -       n       -       0       bounce
		defer     unix  -       -       n       -       0       bounce
		trace     unix  -       -       n       -       0       bounce
		verify    unix  -       -       n       -       1       verify
		flush     unix  n       -       n       1000?   0       flush
		proxymap  unix  -       -       n       -       -       proxymap
		proxywrite unix -       -       n       -       1       proxymap
		smtp      unix  -       -       n       -       -       smtp
		relay     unix  -       -       n       -       -       smtp
		showq     unix  n       -       n       -       -       showq
		error     unix  -       -       n       -       -       error
		retry     unix  -       -       n       -       -       error
		discard   unix  -       -       n       -       -       discard
		lmtp      unix  -       -       n       -       -       lmtp
		anvil     unix  -       -       n       -       1       anvil
		scache    unix  -       -       n       -       1       scache
		postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
	BENCH_POSTFIX_ETC=$dir/etc
	BENCH_POSTFIX_DIR=$dir
	postfix -c "$dir/etc" check >"$dir/check.log" 2>&1 ||
		bench_die "postfix check failed, see $dir/maillog (run it on a tty for more)"
	postfix -c "$dir/etc" start >"$dir/start.log" 2>&1 ||
		bench_die "postfix did not start, see $dir/maillog"
	bench_wait_for 20 bench_port_busy "$port" || bench_die "postfix smtpd not listening on $port"
}

bench_postfix_stop() {
	[[ -n ${BENCH_POSTFIX_ETC:-} ]] || return 0
	local pid
	pid=$(awk '{print $1; exit}' "$BENCH_POSTFIX_DIR/queue/pid/master.pid" 2>/dev/null || true)
	[[ -n $pid ]] || return 0
	postfix -c "$BENCH_POSTFIX_ETC" stop >/dev/null 2>&1 || true
	bench_wait_for 20 bench_pid_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
}
