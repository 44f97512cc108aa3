#!/usr/bin/env bash
# tokenguard demo (run by `make demo` after `make build`): the whole story on the embedded
# SQLite default, with the real tools and nothing downloaded.
#
# It starts the token service on a free loopback port with its database and key file in a
# temporary directory, makes the provider built into bin/ available to Terraform through a
# dev_overrides CLI configuration, and then runs examples/quickstart: the non-compliant
# configuration is blocked at `terraform plan` and by `tokenguard check`; the compliant one is
# applied and its secret rotated in place; then inventory, a deletion request, the audit chain
# and the rotation report.
#
# Every step checks its outcome, not only its exit code, and the script exits non-zero at the
# first step that misbehaves. It never prints a secret. On exit it stops the service and
# removes the temporary directory (Terraform state included), leaving no process behind.
#
# Environment: TOKENGUARD_BIN_DIR (default ./bin) holds tokenguard and
# terraform-provider-tokenguard; TERRAFORM (default: terraform on PATH).
set -euo pipefail

BIN_DIR="${TOKENGUARD_BIN_DIR:-}"
[[ -z "$BIN_DIR" || "$BIN_DIR" == /* ]] || BIN_DIR="$PWD/$BIN_DIR" # relative to the caller
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN_DIR="${BIN_DIR:-$ROOT/bin}"
# The demo configures everything itself: settings of the caller's environment (a policy file,
# a TF_VAR_enforcement, another endpoint) must not change the story.
for v in $(compgen -v TOKENGUARD_) $(compgen -v TF_); do unset "$v"; done
TG="$BIN_DIR/tokenguard"
TF="${TERRAFORM:-$(command -v terraform || true)}"
[[ -x "$TG" && -x "$BIN_DIR/terraform-provider-tokenguard" ]] ||
	{ echo "demo: $BIN_DIR/tokenguard or terraform-provider-tokenguard not found: run 'make build' first" >&2; exit 2; }
[[ -n "$TF" && -x "$TF" ]] || { echo "demo: terraform not found on PATH: install Terraform >= 1.11" >&2; exit 2; }
BIN_DIR="$(cd "$BIN_DIR" && pwd)" # dev_overrides needs an absolute path

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tokenguard-demo.XXXXXX")"
chmod 700 "$WORK"
SERVER_PID=""

stop_server() {
	if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		# A clean stop takes milliseconds; never hang on a service that does not stop.
		for _ in $(seq 1 100); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
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
# show FILE: print FILE indented, for output kept to check before showing.
show() { sed 's/^/    /' "$1"; }
# ready ENDPOINT: whether GET ENDPOINT/readyz answers 200 (curl, or bash's /dev/tcp without it).
ready() {
	if command -v curl >/dev/null; then
		curl -fsS --max-time 2 -o /dev/null "$1/readyz" 2>/dev/null
		return
	fi
	local hostport="${1#http://}" status
	exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || return 1
	printf 'GET /readyz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$hostport" >&3
	read -r -t 2 _ status _ <&3 || true
	exec 3<&-
	[[ "$status" == 200 ]]
}
# tf DIR ARGS...: terraform in DIR, never interactive, without colour.
tf() {
	local dir="$1"
	shift
	"$TF" -chdir="$dir" "$@" -no-color
}

# ---------------------------------------------------------------------------------------------
step "1. Start the token service (SQLite and key file in a temporary directory)"
"$TG" serve --listen 127.0.0.1:0 \
	--db "$WORK/tokenguard.db" >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
echo "service pid $SERVER_PID"
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
[[ -s "$WORK/tokenguard.db.admin-token" ]] || fail "no admin credential file was written"
echo "listening on $ENDPOINT; the admin credential was written to a 0600 file (not printed)"

export TOKENGUARD_ENDPOINT="$ENDPOINT"
TOKENGUARD_TOKEN="$(cat "$WORK/tokenguard.db.admin-token")"
export TOKENGUARD_TOKEN

# ---------------------------------------------------------------------------------------------
step "2. Point Terraform at the provider in bin/ (dev_overrides: no registry, no terraform init)"
cat >"$WORK/terraform.tfrc" <<EOF
provider_installation {
  dev_overrides {
    "tokenguard/tokenguard" = "$BIN_DIR"
  }
  direct {}
}
EOF
export TF_CLI_CONFIG_FILE="$WORK/terraform.tfrc" TF_IN_AUTOMATION=1 TF_INPUT=0
unset TF_CLI_ARGS TF_CLI_ARGS_plan TF_CLI_ARGS_apply TF_WORKSPACE TF_DATA_DIR
# The configurations are copied so that state (which holds the secret) stays in $WORK.
cp -R "$ROOT/examples/quickstart" "$WORK/quickstart"
NONCOMPLIANT="$WORK/quickstart/noncompliant"
COMPLIANT="$WORK/quickstart/compliant"
"$TF" version >"$WORK/tfversion.out" 2>&1 || { show "$WORK/tfversion.out" >&2; fail "terraform version"; }
head -n 1 "$WORK/tfversion.out"
echo "provider: $BIN_DIR/terraform-provider-tokenguard"

# ---------------------------------------------------------------------------------------------
step "3. Non-compliant token: blocked at terraform plan by the provider's policy gate"
if tf "$NONCOMPLIANT" plan -input=false >"$WORK/blocked.out" 2>&1; then
	fail "terraform plan of examples/quickstart/noncompliant succeeded; the policy gate should block it"
fi
grep -q 'Error: CPRA Policy Violation' "$WORK/blocked.out" ||
	{ show "$WORK/blocked.out" >&2; fail "terraform plan failed, but not with a CPRA policy violation"; }
grep -E '^CPRA-[A-Z]+-[0-9]+ ' "$WORK/blocked.out" | sed 's/:.*//; s/^/    blocked: /'
for id in CPRA-MIN-002 CPRA-RET-002 CPRA-ROT-001 CPRA-SPI-001; do
	grep -q "^$id " "$WORK/blocked.out" || fail "the blocked plan does not name rule $id"
done
echo "terraform plan exit code: non-zero; nothing was created"

# ---------------------------------------------------------------------------------------------
step "4. The same plan in CI: tokenguard check blocks it (exit code 1)"
# An advisory gate lets Terraform write the plan, so the CI gate has something to check.
tf "$NONCOMPLIANT" plan -input=false -var enforcement=advisory -out="$WORK/noncompliant.tfplan" \
	>"$WORK/advisory.out" 2>&1 || { show "$WORK/advisory.out" >&2; fail "terraform plan with an advisory gate"; }
tf "$NONCOMPLIANT" show -json "$WORK/noncompliant.tfplan" >"$WORK/noncompliant.json" 2>"$WORK/show.err" ||
	{ show "$WORK/show.err" >&2; fail "terraform show -json"; }
set +e
"$TG" check --config-dir "$NONCOMPLIANT" "$WORK/noncompliant.json" >"$WORK/check.out" 2>&1
CHECK_RC=$?
set -e
grep -E '^  (ERROR|WARN)|resource.* checked' "$WORK/check.out" | cut -c1-110
[[ $CHECK_RC -eq 1 ]] || { show "$WORK/check.out" >&2; fail "tokenguard check exited $CHECK_RC, want 1 (blocking findings)"; }
for id in CPRA-MIN-002 CPRA-RET-002 CPRA-ROT-001 CPRA-SPI-001; do
	grep -q "ERROR *$id" "$WORK/check.out" || fail "tokenguard check does not report $id"
done

# ---------------------------------------------------------------------------------------------
step "5. Compliant tokens: terraform apply"
tf "$COMPLIANT" apply -input=false -auto-approve -var release=1 >"$WORK/apply1.out" 2>&1 ||
	{ show "$WORK/apply1.out" >&2; fail "terraform apply of examples/quickstart/compliant"; }
grep -E '^(Apply complete|Plan:)' "$WORK/apply1.out" | sed 's/^/    /'
TOKEN_ID="$(tf "$COMPLIANT" output -raw token_id)"
VERSION1="$(tf "$COMPLIANT" output -raw secret_version)"
FP1="$(tf "$COMPLIANT" output -raw fingerprint)"
[[ "$TOKEN_ID" == tok_* ]] || fail "apply produced no token id"
[[ "$VERSION1" == 1 ]] || fail "a new token has secret_version $VERSION1, want 1"
echo "token $TOKEN_ID, secret_version $VERSION1, fingerprint $FP1 (the secret is in state only, marked sensitive)"

# ---------------------------------------------------------------------------------------------
step "6. A new release changes a rotation trigger: the secret rotates in place"
tf "$COMPLIANT" apply -input=false -auto-approve -var release=2 >"$WORK/apply2.out" 2>&1 ||
	{ show "$WORK/apply2.out" >&2; fail "terraform apply -var release=2"; }
grep -q 'will be updated in-place' "$WORK/apply2.out" || fail "the rotation was not planned as an in-place update"
grep -q 'Resources: 0 added, 1 changed, 0 destroyed' "$WORK/apply2.out" || fail "the rotation did not change exactly one resource in place"
grep -E '^Apply complete' "$WORK/apply2.out" | sed 's/^/    /'
TOKEN_ID2="$(tf "$COMPLIANT" output -raw token_id)"
VERSION2="$(tf "$COMPLIANT" output -raw secret_version)"
FP2="$(tf "$COMPLIANT" output -raw fingerprint)"
[[ "$TOKEN_ID2" == "$TOKEN_ID" ]] || fail "the token id changed from $TOKEN_ID to $TOKEN_ID2"
[[ "$VERSION2" == 2 ]] || fail "secret_version is $VERSION2 after the rotation, want 2"
[[ "$FP2" != "$FP1" ]] || fail "the fingerprint did not change: the secret was not rotated"
echo "token $TOKEN_ID2 (same id), secret_version $VERSION1 -> $VERSION2, fingerprint $FP1 -> $FP2"

# ---------------------------------------------------------------------------------------------
step "7. tokenguard inventory: every token, its purpose and data, and whether Terraform manages it"
"$TG" inventory --dir "$COMPLIANT" >"$WORK/inventory.out" 2>&1 || { show "$WORK/inventory.out" >&2; fail "tokenguard inventory"; }
show "$WORK/inventory.out"
grep -E "^$TOKEN_ID +invoice-export +.* active +.* yes " "$WORK/inventory.out" >/dev/null ||
	fail "the inventory does not list $TOKEN_ID as active and managed by Terraform"
grep -qE '^tok_[A-Za-z0-9]+ +crm-sync +.* active +.* yes ' "$WORK/inventory.out" ||
	fail "the inventory does not list crm-sync as active and managed by Terraform"

# ---------------------------------------------------------------------------------------------
step "8. Customer 4411 asks for deletion: tokenguard erase revokes every token bound to them"
"$TG" erase --subject customer:4411 --categories commercial,identifiers --reference DSR-DEMO-0001 \
	>"$WORK/erase.out" 2>&1 || { show "$WORK/erase.out" >&2; fail "tokenguard erase"; }
show "$WORK/erase.out"
grep -q '^Deletion request del_.* complete' "$WORK/erase.out" || fail "the deletion request did not complete"
grep -qE "^$TOKEN_ID +invoice-export" "$WORK/erase.out" || fail "the deletion request did not revoke $TOKEN_ID"
grep -qE '^tok_[A-Za-z0-9]+ +crm-sync +team-sales@example.com' "$WORK/erase.out" ||
	fail "the deletion request does not name crm-sync's owner as a holder to notify"
"$TG" token show "$TOKEN_ID" >"$WORK/show.out" 2>&1 || fail "token show"
grep -qE '^status: +revoked' "$WORK/show.out" || fail "$TOKEN_ID is not revoked after the deletion request"
echo "$TOKEN_ID is now revoked"
# The configuration still binds a token to the erased customer: the provider's gate asks the
# service for erased subjects and blocks the apply that would re-issue it (CPRA-DEL-001; the
# plan only warns, since the configuration did not change, so a destroy is never blocked) ...
if tf "$COMPLIANT" apply -input=false -auto-approve -var release=2 >"$WORK/reissue.out" 2>&1; then
	fail "terraform apply re-issues a token for the erased subject; CPRA-DEL-001 should block it"
fi
grep -q '^CPRA-DEL-001 ' "$WORK/reissue.out" ||
	{ show "$WORK/reissue.out" >&2; fail "terraform apply failed, but not with CPRA-DEL-001"; }
echo "terraform apply, blocked: $(grep -m1 -o '^CPRA-DEL-001 [^:]*' "$WORK/reissue.out")"
# ... and so does the CI gate, given the service's erased subjects (an advisory plan for it).
tf "$COMPLIANT" plan -input=false -var release=2 -var enforcement=advisory -out="$WORK/reissue.tfplan" \
	>"$WORK/reissue-advisory.out" 2>&1 || { show "$WORK/reissue-advisory.out" >&2; fail "terraform plan with an advisory gate"; }
tf "$COMPLIANT" show -json "$WORK/reissue.tfplan" >"$WORK/reissue.json" 2>"$WORK/show.err" ||
	{ show "$WORK/show.err" >&2; fail "terraform show -json"; }
set +e
"$TG" check --service "$ENDPOINT" "$WORK/reissue.json" >"$WORK/check-del.out" 2>&1
CHECK_RC=$?
set -e
echo "tokenguard check --service, blocked:"
grep -E '^  (ERROR|WARN)' "$WORK/check-del.out" | cut -c1-110
[[ $CHECK_RC -eq 1 ]] && grep -q 'ERROR *CPRA-DEL-001' "$WORK/check-del.out" ||
	{ show "$WORK/check-del.out" >&2; fail "tokenguard check did not block re-issuing a token for the erased subject (CPRA-DEL-001)"; }

# ---------------------------------------------------------------------------------------------
step "9. tokenguard audit verify: the hash-chained audit log is intact"
"$TG" audit verify --key-file "$WORK/tokenguard.db.key" >"$WORK/audit.out" 2>&1 || { show "$WORK/audit.out" >&2; fail "tokenguard audit verify"; }
show "$WORK/audit.out"
grep -qE '^audit chain verified: [0-9]+ records' "$WORK/audit.out" || fail "audit verify did not report a verified chain"

# ---------------------------------------------------------------------------------------------
step "10. The rotation evidence report for auditors"
"$TG" report rotation --key-file "$WORK/tokenguard.db.key" --format html --output "$WORK/rotation.html" >"$WORK/report.out" 2>&1 ||
	{ show "$WORK/report.out" >&2; fail "tokenguard report rotation"; }
[[ -s "$WORK/rotation.html" ]] && grep -q "$TOKEN_ID" "$WORK/rotation.html" ||
	fail "the rotation report was not written or does not list $TOKEN_ID"
sed 's/ to .*//; s/^/    /' "$WORK/report.out"
echo "(rotation.html is removed with the temporary directory; against your own service run:"
echo " tokenguard report rotation --key-file <db>.key --format html --output rotation.html)"

# ---------------------------------------------------------------------------------------------
step "11. Stop the service and clean up"
kill -TERM "$SERVER_PID"
if ! wait "$SERVER_PID"; then
	SERVER_PID=""
	fail "the service did not shut down cleanly"
fi
STOPPED_PID="$SERVER_PID"
SERVER_PID=""
grep -q '^tokenguard: stopped' "$WORK/serve.out" || fail "the service did not report a clean stop"
kill -0 "$STOPPED_PID" 2>/dev/null && fail "service pid $STOPPED_PID is still running"
echo "service pid $STOPPED_PID stopped; the temporary directory is removed on exit"
printf '\n\033[1mdemo: all steps passed\033[0m\n'
