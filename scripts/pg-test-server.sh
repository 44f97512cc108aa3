#!/usr/bin/env bash
# pg-test-server.sh: a throwaway PostgreSQL for tokenguard's tests, from the machine's binaries.
#
#   scripts/pg-test-server.sh start        start a server (or reuse the running one); print its URL
#   scripts/pg-test-server.sh url          print the URL of the running server
#   scripts/pg-test-server.sh stop         stop the server and delete its directory (idempotent)
#   scripts/pg-test-server.sh halt [MODE]  stop the server, keeping its data (MODE: fast or
#                                          immediate, default fast); `resume` starts it again
#   scripts/pg-test-server.sh resume       start a halted server again on the same port
#   scripts/pg-test-server.sh pause        SIGSTOP the postmaster and every backend (a hung
#                                          server: connections stay open, nothing answers)
#   scripts/pg-test-server.sh unpause      SIGCONT them
#   scripts/pg-test-server.sh run -- CMD   run CMD with TOKENGUARD_TEST_POSTGRES_URL set: when
#                                          it is unset, start a server first and stop it after
#                                          (without PostgreSQL binaries, outside CI and unless
#                                          TOKENGUARD_REQUIRE_POSTGRES=1, run CMD without one)
#
# The server listens on 127.0.0.1 only, on a free port below 32768 (outside Linux's ephemeral
# range), with its unix socket in its own temporary directory and trust authentication (it holds test data only, and fsync is off:
# it is thrown away). It runs as the invoking user, or as the `postgres` system user when
# invoked as root, because initdb and postgres refuse to run as root.
#
# Only the URL goes to standard output, so URL=$(scripts/pg-test-server.sh start) works;
# progress and errors go to standard error.
#
# Environment:
#   TOKENGUARD_PG_STATE  state file (default: one per checkout, under $TMPDIR or /tmp)
#   TOKENGUARD_PG_BIN    directory with initdb and pg_ctl (default: PATH, then
#                        /usr/lib/postgresql/<newest>/bin)
#   TOKENGUARD_PG_MAX_CONNECTIONS  the server's max_connections (default 200)
#   CI=true              when run as root and PostgreSQL is missing, install it with apt-get
set -euo pipefail
# Command substitutions ($(cmd_start) in run) keep -e; failures that matter are also checked
# explicitly, since bash ignores -e in functions called from a condition.
shopt -s inherit_errexit

prog=pg-test-server.sh
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
checkout_id=$(printf '%s' "$repo" | cksum | cut -d' ' -f1)
state=${TOKENGUARD_PG_STATE:-${TMPDIR:-/tmp}/tokenguard-pg-test-server-$(id -u)-$checkout_id.state}
run_as_user=postgres

say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {
	sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

# as_server_user runs a command as the user the server runs as.
as_server_user() {
	if [[ $(id -u) -ne 0 ]]; then
		"$@"
	elif command -v runuser >/dev/null; then
		runuser -u "$run_as_user" -- "$@"
	else
		local q
		printf -v q '%q ' "$@"
		su "$run_as_user" -s /bin/sh -c "$q"
	fi
}

# find_bin prints the directory holding initdb and pg_ctl, or fails.
find_bin() {
	if [[ -n ${TOKENGUARD_PG_BIN:-} ]]; then
		[[ -x $TOKENGUARD_PG_BIN/initdb && -x $TOKENGUARD_PG_BIN/pg_ctl ]] ||
			die "TOKENGUARD_PG_BIN=$TOKENGUARD_PG_BIN has no initdb and pg_ctl"
		printf '%s\n' "$TOKENGUARD_PG_BIN"
		return
	fi
	if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(readlink -f "$(command -v initdb)")"
		return
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
		printf '%s\n' "$d"
		return
	fi
	return 1
}

# ensure_bin prints the binary directory, installing PostgreSQL first in CI when run as root.
ensure_bin() {
	local d
	if d=$(find_bin); then
		printf '%s\n' "$d"
		return
	fi
	[[ -z ${TOKENGUARD_PG_BIN:-} ]] || exit 1 # find_bin said what is wrong with it
	if [[ ${CI:-} == true && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		say "PostgreSQL binaries not found: installing the postgresql package (CI, root)"
		DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 ||
			die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2 ||
			die "apt-get install postgresql failed"
		d=$(find_bin) || die "installed postgresql but found no initdb and pg_ctl"
		printf '%s\n' "$d"
		return
	fi
	die "PostgreSQL binaries (initdb, pg_ctl) not found: install PostgreSQL (Debian: apt-get install postgresql), put its bin directory on PATH, or set TOKENGUARD_PG_BIN"
}

# ensure_server_user makes sure the postgres system user exists when running as root.
ensure_server_user() {
	[[ $(id -u) -eq 0 ]] || return 0
	id -u "$run_as_user" >/dev/null 2>&1 && return 0
	say "creating system user $run_as_user (initdb and postgres refuse to run as root)"
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$run_as_user" ||
		die "could not create the $run_as_user user: create it, or run this script as a non-root user"
}

# read_state loads dir, port, url and bin from the state file; fails when there is none.
read_state() {
	[[ -f $state ]] || return 1
	dir= port= url= bin= maxconn=200
	local k v
	while IFS='=' read -r k v; do
		case $k in
		dir) dir=$v ;;
		port) port=$v ;;
		url) url=$v ;;
		bin) bin=$v ;;
		maxconn) maxconn=$v ;;
		esac
	done <"$state"
	[[ -n $dir && -n $port && -n $url && -n $bin ]] || die "state file $state is damaged: delete it (and any server it names) and start again"
}

# running reports whether the server recorded in the state is up: pg_ctl finds its process
# and its port accepts connections (a killed postmaster nobody reaped still looks alive to
# pg_ctl, as a zombie, in a container without an init process).
running() {
	[[ -d $dir/data ]] &&
		as_server_user "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1 &&
		port_in_use "$port"
}

# port_in_use reports whether something accepts connections on 127.0.0.1:$1.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port prints a free port in 20000-32767: below Linux's ephemeral range (32768-60999 by
# default), so no client socket of the kernel's choosing can hold the port when the server is
# restarted on it (a test that stops and starts the server keeps its port).
pick_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 12768))
		port_in_use "$p" || { printf '%s\n' "$p"; return; }
	done
	die "found no free port on 127.0.0.1 after 50 tries"
}

# server_options prints the postgres options of a start: listen only on loopback, unix
# socket in our directory, fsync off (throwaway data).
server_options() {
	printf '%s' "-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off -c full_page_writes=off -c max_connections=$maxconn"
}

# abandon_start undoes a start that failed half-way.
abandon_start() {
	if [[ -f $dir/data/postmaster.pid ]]; then
		as_server_user "$bin/pg_ctl" stop -D "$dir/data" -m immediate -w -t 30 >/dev/null 2>&1 || true
	fi
	rm -rf -- "$dir"
}

cmd_start() {
	if read_state; then
		if running; then
			say "reusing the server already running on 127.0.0.1:$port"
			printf '%s\n' "$url"
			return
		fi
		say "state file names a server that is not running: cleaning it up"
		cmd_stop
	fi
	bin=$(ensure_bin) || exit 1
	maxconn=${TOKENGUARD_PG_MAX_CONNECTIONS:-200}
	[[ $maxconn =~ ^[0-9]+$ ]] || die "TOKENGUARD_PG_MAX_CONNECTIONS=$maxconn is not a number"
	ensure_server_user || exit 1
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tokenguard-pg.XXXXXXXX") || die "cannot create a temporary directory"
	# From here on, a failure stops what was started and removes what was made.
	trap abandon_start EXIT
	chmod 0700 "$dir" || die "cannot chmod $dir"
	if [[ $(id -u) -eq 0 ]]; then
		chown "$run_as_user:" "$dir" || die "cannot give $dir to $run_as_user"
	fi
	as_server_user test -w "$dir" ||
		die "user $(as_server_user id -un) cannot write $dir: set TMPDIR to a directory that user can reach"
	say "initialising a cluster in $dir ($("$bin/postgres" --version))"
	if ! as_server_user "$bin/initdb" -D "$dir/data" -U postgres --auth=trust \
		--encoding=UTF8 --no-instructions >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		die "initdb failed (log above)"
	fi
	local try started=
	for ((try = 1; try <= 5; try++)); do
		port=$(pick_port) || exit 1
		if as_server_user "$bin/pg_ctl" start -D "$dir/data" -w -t 60 -l "$dir/server.log" \
			-o "$(server_options)" \
			>/dev/null 2>&1; then
			started=1
			break
		fi
		if grep -q 'Address already in use' "$dir/server.log" 2>/dev/null; then
			say "port $port was taken meanwhile: trying another"
			continue
		fi
		cat "$dir/server.log" >&2 || true
		die "the server did not start (log above)"
	done
	[[ -n $started ]] || die "the server did not start: no free port after 5 tries"
	url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	umask 077
	printf 'dir=%s\nport=%s\nurl=%s\nbin=%s\nmaxconn=%s\n' "$dir" "$port" "$url" "$bin" "$maxconn" >"$state.tmp" ||
		die "cannot write the state file $state.tmp"
	mv -f "$state.tmp" "$state" || die "cannot write the state file $state"
	trap - EXIT
	say "started on 127.0.0.1:$port (data and log in $dir; stop with: $0 stop)"
	printf '%s\n' "$url"
}

# server_pids prints the postmaster's pid and those of its children (the backends and the
# auxiliary processes).
server_pids() {
	local pm
	pm=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null) || die "no postmaster.pid in $dir/data: is the server running?"
	printf '%s\n' "$pm"
	pgrep -P "$pm" || true
}

cmd_halt() {
	local mode=${1:-fast}
	[[ $mode == fast || $mode == immediate ]] || die "halt: MODE is fast or immediate, not $mode"
	read_state || die "no server started (state file $state not found): run $0 start"
	as_server_user "$bin/pg_ctl" stop -D "$dir/data" -m "$mode" -w -t 60 >/dev/null ||
		die "pg_ctl stop -m $mode failed; see $dir/server.log"
	say "halted the server on 127.0.0.1:$port ($mode); start it again with: $0 resume"
}

cmd_resume() {
	read_state || die "no server started (state file $state not found): run $0 start"
	as_server_user "$bin/pg_ctl" start -D "$dir/data" -w -t 60 -l "$dir/server.log" -o "$(server_options)" >/dev/null ||
		die "the server did not start again; see $dir/server.log"
	say "resumed the server on 127.0.0.1:$port"
}

cmd_signal() {
	read_state || die "no server started (state file $state not found): run $0 start"
	local pids
	pids=$(server_pids)
	# shellcheck disable=SC2086 # one pid a word
	kill "-$1" $pids || die "kill -$1 failed"
}

cmd_url() {
	read_state || die "no server started (state file $state not found): run $0 start"
	running || die "the server in $dir is not running: run $0 stop, then $0 start"
	printf '%s\n' "$url"
}

cmd_stop() {
	if ! read_state; then
		say "no server to stop (state file $state not found)"
		return 0
	fi
	if running; then
		if ! as_server_user "$bin/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 >/dev/null; then
			say "fast shutdown failed: trying immediate shutdown"
			as_server_user "$bin/pg_ctl" stop -D "$dir/data" -m immediate -w -t 30 >/dev/null ||
				die "pg_ctl stop failed for $dir/data: the server may still run; see $dir/server.log"
		fi
		say "stopped the server on 127.0.0.1:$port"
	fi
	case $(basename -- "$dir") in
	tokenguard-pg.*) rm -rf -- "$dir" ;;
	*) say "not deleting $dir: it is not a directory this script made" ;;
	esac
	rm -f -- "$state"
}

cmd_run() {
	[[ ${1:-} == -- ]] && shift
	[[ $# -gt 0 ]] || die "run needs a command: $0 run -- go test ./..."
	if [[ -n ${TOKENGUARD_TEST_POSTGRES_URL:-} ]]; then
		exec "$@"
	fi
	if read_state && running; then
		say "using the server already running on 127.0.0.1:$port (left running)"
		TOKENGUARD_TEST_POSTGRES_URL=$url exec "$@"
	fi
	if ! find_bin >/dev/null && [[ ${CI:-} != true && ${TOKENGUARD_REQUIRE_POSTGRES:-} != 1 ]]; then
		say "PostgreSQL binaries not found: running without a server (the PostgreSQL store tests skip; install PostgreSQL to run them)"
		exec "$@"
	fi
	local u rc=0
	u=$(cmd_start)
	[[ -n $u ]] || exit 1
	trap 'cmd_stop' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	TOKENGUARD_TEST_POSTGRES_URL=$u "$@" || rc=$?
	return "$rc"
}

case ${1:-} in
start) cmd_start ;;
url) cmd_url ;;
stop) cmd_stop ;;
halt) shift; cmd_halt "$@" ;;
resume) cmd_resume ;;
pause) cmd_signal STOP ;;
unpause) cmd_signal CONT ;;
run) shift; cmd_run "$@" ;;
*) usage ;;
esac
