#!/usr/bin/env bash
# tokenguard demo (run by `make demo` after `make build`): the main job on the embedded SQLite
# default. Starts the token service on a free loopback port with its database and key file in
# a temporary directory, then issues, introspects, rotates, revokes and audits a CPRA-compliant
# token with the tokenguard CLI. Exits non-zero as soon as a step misbehaves; always stops the
# service and removes the temporary directory.
set -euo pipefail

cd "$(dirname "$0")/.."
TG="${TOKENGUARD_BIN:-$PWD/bin/tokenguard}"
[[ -x "$TG" ]] || { echo "demo: $TG not found: run 'make build' first" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tokenguard-demo.XXXXXX")"
chmod 700 "$WORK"
SERVER_PID=""

stop_server() {
	if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	SERVER_PID=""
}
cleanup() {
	stop_server
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() {
	echo "demo: FAILED: $*" >&2
	if [[ -s "$WORK/serve.log" ]]; then
		echo "--- last service log lines ---" >&2
		tail -n 5 "$WORK/serve.log" >&2
	fi
	exit 1
}
# json_field FILE KEY: the first string value of KEY in an indented JSON file (no jq needed).
json_field() { sed -n "s/^ *\"$2\": \"\\([^\"]*\\)\".*/\\1/p" "$1" | head -n 1; }
# ready ENDPOINT: whether GET ENDPOINT/readyz answers 200 (curl, or bash's /dev/tcp without it).
ready() {
	if command -v curl >/dev/null; then
		curl -fsS -o /dev/null "$1/readyz" 2>/dev/null
		return
	fi
	local hostport="${1#http://}" status
	exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || return 1
	printf 'GET /readyz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$hostport" >&3
	read -r _ status _ <&3 || true
	exec 3<&-
	[[ "$status" == 200 ]]
}

# ---------------------------------------------------------------------------------------------
step "1. Start the token service (SQLite and key file in $WORK)"
env -u TOKENGUARD_ADMIN_TOKEN "$TG" serve --listen 127.0.0.1:0 --db "$WORK/tokenguard.db" \
	>"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
ENDPOINT=""
for _ in $(seq 1 300); do
	ENDPOINT="$(sed -n 's/^tokenguard: listening on //p' "$WORK/serve.out")"
	[[ -n "$ENDPOINT" ]] && break
	kill -0 "$SERVER_PID" 2>/dev/null || fail "the service exited before listening"
	sleep 0.1
done
[[ -n "$ENDPOINT" ]] || fail "the service did not start listening within 30s"
READY=""
for _ in $(seq 1 100); do
	if ready "$ENDPOINT"; then READY=yes; break; fi
	sleep 0.1
done
[[ -n "$READY" ]] || fail "$ENDPOINT/readyz did not answer 200"
echo "listening on $ENDPOINT, /readyz answers 200"
grep '^tokenguard: admin credential' "$WORK/serve.out" || fail "no admin credential file announced"

export TOKENGUARD_ENDPOINT="$ENDPOINT"
TOKENGUARD_TOKEN="$(cat "$WORK/tokenguard.db.admin-token")"
export TOKENGUARD_TOKEN

# ---------------------------------------------------------------------------------------------
step "2. Create a compliant token: purpose, owner, minimal scope, declared data, expiry, rotation"
"$TG" token create --json \
	--name invoice-export --owner team-billing@example.com \
	--purpose "nightly export of paid invoices to the accounting system" \
	--scope invoices:read --data-category commercial --data-category identifiers \
	--subject customer:4411 --audience accounting \
	--ttl 30d --rotation-interval 7d --rotation-overlap 1h \
	>"$WORK/created.json" || fail "token create"
TOKEN_ID="$(json_field "$WORK/created.json" id)"
json_field "$WORK/created.json" secret >"$WORK/secret1"
[[ "$TOKEN_ID" == tok_* && -s "$WORK/secret1" ]] || fail "token create returned no id or secret"
echo "created $TOKEN_ID; its secret was returned once (kept in a 0600 file for this demo, not printed)"
"$TG" token show "$TOKEN_ID" || fail "token show"

# ---------------------------------------------------------------------------------------------
step "3. Introspect the secret: active"
"$TG" token introspect <"$WORK/secret1" || fail "a freshly created token is not active"

# ---------------------------------------------------------------------------------------------
step "4. Rotate: a new secret; the previous one keeps working for the 1h overlap"
"$TG" token rotate "$TOKEN_ID" --json >"$WORK/rotated.json" || fail "token rotate"
json_field "$WORK/rotated.json" secret >"$WORK/secret2"
[[ -s "$WORK/secret2" ]] || fail "token rotate returned no secret"
cmp -s "$WORK/secret1" "$WORK/secret2" && fail "rotation returned the same secret"
echo "secret_version $(sed -n 's/^ *"secret_version": \([0-9]*\).*/\1/p' "$WORK/rotated.json"), fingerprint $(json_field "$WORK/rotated.json" fingerprint)"
echo "new secret:"
"$TG" token introspect <"$WORK/secret2" || fail "the rotated secret is not active"
echo "previous secret (inside the overlap):"
"$TG" token introspect <"$WORK/secret1" || fail "the previous secret stopped working inside the overlap"

# ---------------------------------------------------------------------------------------------
step "5. Revoke: instant"
"$TG" token revoke "$TOKEN_ID" >/dev/null || fail "token revoke"
"$TG" token show "$TOKEN_ID" | grep -E '^(id|status|revoked):' || fail "token show after revoke"

# ---------------------------------------------------------------------------------------------
step "6. Introspect after revocation: inactive, and nothing else is said"
for s in secret2 secret1; do
	if "$TG" token introspect --json <"$WORK/$s"; then
		fail "the $s is still active after revocation"
	fi
done

# ---------------------------------------------------------------------------------------------
step "7. Verify the hash-chained audit log"
"$TG" audit verify || fail "audit verify"

# ---------------------------------------------------------------------------------------------
# Terraform steps (provider issue): plan and apply examples/quickstart against $ENDPOINT with
# the provider built into bin/, check the plan with `tokenguard check`, then destroy.
# Add them here, before the service is stopped.

# ---------------------------------------------------------------------------------------------
step "8. Stop the service"
kill -TERM "$SERVER_PID"
if ! wait "$SERVER_PID"; then
	SERVER_PID=""
	fail "the service did not shut down cleanly"
fi
SERVER_PID=""
grep -q '^tokenguard: stopped' "$WORK/serve.out" || fail "the service did not report a clean stop"
echo "stopped cleanly"
printf '\n\033[1mdemo: all steps passed\033[0m\n'
