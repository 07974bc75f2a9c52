#!/bin/sh
# entrypoint.sh - the appliance's start: *_FILE secrets into the environment,
# wait for an external PostgreSQL and apply the migrations (posternctl
# migrate), then exec posternd, which creates the first admin once (from
# POSTERN_ADMIN_PASSWORD, else a generated password printed to the log) and,
# when POSTERN_DATABASE_URL is unset, runs the embedded PostgreSQL in the
# data volume. With arguments it execs them instead of posternd, after the
# same preparation (`docker run IMAGE posternctl user list`).
# Environment: POSTERN_DB_WAIT (seconds to wait for the database, default 60).
set -eu

# VAR_FILE=path sets VAR to the file's content (trailing newline removed).
load_file_var() {
	var=$1
	eval "file=\${${var}_FILE:-}"
	eval "value=\${${var}:-}"
	[ -n "$file" ] || return 0
	if [ -n "$value" ]; then
		echo "postern-entrypoint: both $var and ${var}_FILE are set; use one" >&2
		exit 1
	fi
	if [ ! -r "$file" ]; then
		echo "postern-entrypoint: ${var}_FILE: cannot read $file" >&2
		exit 1
	fi
	value=$(cat "$file")
	export "$var=$value"
	unset "${var}_FILE"
}

for v in POSTERN_ADMIN_PASSWORD POSTERN_DATABASE_URL PGPASSWORD; do
	load_file_var "$v"
done

if [ -n "${POSTERN_DATABASE_URL:-}" ]; then
	wait_s=${POSTERN_DB_WAIT:-60}
	case $wait_s in
	'' | *[!0-9]*)
		echo "postern-entrypoint: POSTERN_DB_WAIT must be a number of seconds" >&2
		exit 1
		;;
	esac
	start=$(date +%s)
	while :; do
		rc=0
		posternctl migrate 2>/tmp/postern-migrate.err || rc=$?
		[ "$rc" -eq 0 ] && break
		if [ "$rc" -ne 3 ]; then
			cat /tmp/postern-migrate.err >&2
			exit "$rc"
		fi
		now=$(date +%s)
		if [ $((now - start)) -ge "$wait_s" ]; then
			echo "postern-entrypoint: the database did not answer within ${wait_s}s:" >&2
			cat /tmp/postern-migrate.err >&2
			exit 3
		fi
		sleep 1
	done
	rm -f /tmp/postern-migrate.err
	echo "postern-entrypoint: database ready, schema up to date" >&2
fi

if [ "$#" -gt 0 ]; then
	exec "$@"
fi
# stderr to stdout: the container log is one stream, in order
exec posternd 2>&1
