package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to read the database as the store left it

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// dbSnapshot is a logical dump of a tokenguard SQLite database: the schema and every row of
// every table, each row rendered exactly (blobs in hex, NULL distinct from ""), rows sorted.
//
// Why a logical dump and not a checksum of the files: the database runs in WAL mode, so a
// committed change lives in tokenguard.db-wal until a checkpoint copies it into
// tokenguard.db, and a checkpoint (automatic, or when the last connection closes) rewrites
// both files without any logical change; a rolled-back write transaction may also have
// appended uncommitted frames to the -wal. File bytes therefore change when nothing changed,
// and a checksum would fail spuriously. Reading every table through SQLite on a separate
// read-only connection sees exactly the committed state, which is what "unchanged" means.
type dbSnapshot struct {
	rows     map[string][]string // table -> sorted rendered rows
	auditMax int64
}

// closeOrFail closes c, naming what in the failure; deferred, it checks a Close the test
// would otherwise drop.
func closeOrFail(t *testing.T, what string, c io.Closer) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Errorf("closing %s: %v", what, err)
	}
}

func snapshotDB(t *testing.T, path string) dbSnapshot {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the snapshot database", db)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the snapshot connection", conn)
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one consistent view
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	snap := dbSnapshot{rows: map[string][]string{}}
	schema, err := tx.QueryContext(ctx, `SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for schema.Next() {
		var typ, name, ddl string
		if err := schema.Scan(&typ, &name, &ddl); err != nil {
			t.Fatal(err)
		}
		snap.rows["sqlite_master"] = append(snap.rows["sqlite_master"], typ+" "+name+" "+ddl)
		if typ == "table" {
			tables = append(tables, name)
		}
	}
	if err := schema.Err(); err != nil {
		t.Fatal(err)
	}
	if err := schema.Close(); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		rows, err := tx.QueryContext(ctx, `SELECT * FROM "`+table+`"`) //nolint:gosec // G202: a table name read from sqlite_master, quoted
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				switch x := v.(type) {
				case nil:
					fmt.Fprintf(&b, "%s=NULL;", cols[i])
				case []byte:
					fmt.Fprintf(&b, "%s=x'%x';", cols[i], x)
				default:
					fmt.Fprintf(&b, "%s=%T:%v;", cols[i], x, x)
				}
				if table == "audit" && cols[i] == "seq" {
					if n, ok := v.(int64); ok && n > snap.auditMax {
						snap.auditMax = n
					}
				}
			}
			snap.rows[table] = append(snap.rows[table], b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(snap.rows[table])
	}
	return snap
}

// auditActionsAfter returns the actions of the audit records with seq > after, in order.
func auditActionsAfter(t *testing.T, path string, after int64) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the audit database", db)
	rows, err := db.Query(`SELECT action FROM audit WHERE seq > ? ORDER BY seq`, after)
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the audit query", rows)
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// diffExceptNewAudit compares two snapshots, ignoring audit rows added after before's last
// one (checked separately). It returns a description of the first difference, or "".
func diffExceptNewAudit(before, after dbSnapshot) string {
	for table, want := range before.rows {
		got := after.rows[table]
		if table == "audit" {
			// New records are checked by auditActionsAfter; here every old record must be
			// there unchanged (rows sort by their rendering, so filter instead of cutting).
			got = nil
			for _, r := range after.rows["audit"] {
				if slices.Contains(want, r) {
					got = append(got, r)
				}
			}
		}
		if !slices.Equal(want, got) {
			return fmt.Sprintf("table %s changed: %d rows before, %d after", table, len(want), len(got))
		}
	}
	for table := range after.rows {
		if _, ok := before.rows[table]; !ok {
			return "table " + table + " appeared"
		}
	}
	return ""
}

// badCase is one hostile or broken request and the exact refusal it must get.
type badCase struct {
	name         string
	method, path string
	contentType  string // "" means application/json for a non-empty body; "none" sends no header
	body         string
	introspector bool     // send the introspect-only credential instead of the admin one
	header       []string // extra header name/value pairs
	status       int
	code, field  string
	msg          string   // a substring naming the problem
	exact        string   // when set, the whole answer body (introspection)
	audited      []string // audit actions the service records by design for this request
}

func TestBadInput_catalogueRefusedWithClearErrorsNoPanicAndDatabaseUnchanged(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, AuthFailuresPerMinute: -1})
	admin := svc.Client(t)
	base, err := admin.CreateToken(ctx, compliantRequest("base"), "")
	if err != nil {
		t.Fatal(err)
	}
	_, icSecret := introspector(t, svc)

	good := func(edit func(m map[string]any)) string {
		b, _ := json.Marshal(compliantRequest("fresh"))
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		edit(m)
		out, _ := json.Marshal(m)
		return string(out)
	}
	goodBody := good(func(map[string]any) {})
	nest := func(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }
	flipped := "0"
	if strings.HasSuffix(base.Secret, "0") {
		flipped = "1"
	}
	badChecksum := base.Secret[:len(base.Secret)-1] + flipped // one checksum character changed
	otherEnv, _ := token.NewSecret("test", base.ID)
	unknownID, _ := token.NewID()
	unknownSecret, _ := token.NewSecret("live", unknownID)
	// base's random part and checksum under another id: a guess at another token's secret.
	otherIDSecret := "tg_live_" + strings.TrimPrefix(unknownID, "tok_") + base.Secret[len("tg_live_")+token.IDPartLength:]
	tokPath := "/v1/tokens/" + base.ID
	inactive := `{"active":false}`

	cases := []badCase{
		// Broken JSON.
		{name: "truncated JSON", method: "POST", path: "/v1/tokens", body: `{"name":`, status: 400, code: "invalid_request", msg: "truncated JSON"},
		{name: "syntax error", method: "POST", path: "/v1/tokens", body: `{"name" "x"}`, status: 400, code: "invalid_request", msg: "not valid JSON (at byte"},
		{name: "trailing garbage", method: "POST", path: "/v1/tokens", body: goodBody + `xyz`, status: 400, code: "invalid_request", msg: "data after the JSON object"},
		{name: "two JSON objects", method: "POST", path: "/v1/tokens", body: goodBody + goodBody, status: 400, code: "invalid_request", msg: "data after the JSON object"},
		{name: "array instead of object", method: "POST", path: "/v1/tokens", body: `[]`, status: 400, code: "invalid_request", msg: "must be a JSON object"},
		{name: "string instead of object", method: "POST", path: "/v1/tokens", body: `"tok"`, status: 400, code: "invalid_request", msg: "must be a JSON object"},
		{name: "JSON null", method: "POST", path: "/v1/tokens", body: `null`, status: 400, code: "invalid_request", field: "name", msg: "name is required"},
		{name: "invalid UTF-8", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["name"] = "x" })[:9] + "\xff\xfe\"}", status: 400, code: "invalid_request", msg: "not valid UTF-8"},
		{name: "empty body", method: "POST", path: "/v1/tokens", body: "", contentType: "application/json", status: 400, code: "invalid_request", msg: "body is empty"},
		{name: "whitespace body", method: "POST", path: "/v1/tokens", body: " \n\t ", status: 400, code: "invalid_request", msg: "body is empty"},
		// Wrong types.
		{name: "name as number", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["name"] = 5 }), status: 400, code: "invalid_request", field: "name", msg: "must be a JSON string"},
		{name: "scopes as string", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["scopes"] = "orders:read" }), status: 400, code: "invalid_request", field: "scopes", msg: "must be a JSON array"},
		{name: "data_categories as object", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["data_categories"] = map[string]int{"a": 1} }), status: 400, code: "invalid_request", field: "data_categories", msg: "must be a JSON array"},
		{name: "ttl as number", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["ttl"] = 30 }), status: 400, code: "invalid_request", field: "ttl", msg: "must be a JSON string"},
		{name: "rotation as string", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["rotation"] = "7d" }), status: 400, code: "invalid_request", field: "rotation", msg: "must be a JSON object"},
		{name: "scope entry as number", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["scopes"] = []any{1} }), status: 400, code: "invalid_request", field: "scopes", msg: "must be a JSON string"},
		// Unknown and duplicate fields, nesting.
		{name: "unknown field secret", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["secret"] = "tg_live_mine" }), status: 400, code: "invalid_request", field: "secret", msg: `unknown field "secret"`},
		{name: "unknown nested field", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["rotation"] = map[string]string{"every": "7d"} }), status: 400, code: "invalid_request", field: "every", msg: `unknown field "every"`},
		{name: "duplicate key", method: "POST", path: "/v1/tokens", body: `{"name":"a","name":"b"}`, status: 400, code: "invalid_request", field: "name", msg: "appears twice"},
		{name: "duplicate key differing in case", method: "POST", path: "/v1/tokens", body: `{"name":"a","NAME":"b"}`, status: 400, code: "invalid_request", field: "name", msg: "without regard to case"},
		{name: "duplicate nested key", method: "POST", path: "/v1/tokens", body: `{"rotation":{"interval":"7d","interval":"1d"}}`, status: 400, code: "invalid_request", field: "rotation.interval", msg: "appears twice"},
		{name: "duplicate label key", method: "POST", path: "/v1/tokens", body: `{"labels":{"team":"a","team":"b"}}`, status: 400, code: "invalid_request", field: "labels", msg: `key "team" appears twice`},
		{name: "deeply nested array", method: "POST", path: "/v1/tokens", body: `{"scopes":` + nest(5000) + `}`, status: 400, code: "invalid_request", msg: "nested more than 32 levels"},
		{name: "deeply nested objects", method: "POST", path: "/v1/tokens", body: strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100), status: 400, code: "invalid_request", msg: "nested more than 32 levels"},
		// Sizes.
		{name: "10 MB purpose", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["purpose"] = strings.Repeat("p", 10<<20) }), status: 413, code: "body_too_large", msg: "larger than 1048576 bytes"},
		{name: "purpose over 1000 bytes", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["purpose"] = "export " + strings.Repeat("invoices ", 200) }), status: 400, code: "invalid_request", field: "purpose", msg: "longer than 1000"},
		{name: "huge scopes array", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) {
			s := make([]string, 50000)
			for i := range s {
				s[i] = fmt.Sprintf("s%d", i)
			}
			m["scopes"] = s
		}), status: 400, code: "invalid_request", field: "scopes", msg: "more than 100 entries"},
		{name: "name of 67 four-byte emoji", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["name"] = strings.Repeat("🚀", 67) }), status: 400, code: "invalid_request", field: "name", msg: "longer than 200"},
		// Characters.
		{name: "NUL in name", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["name"] = "orders\x00sync" }), status: 400, code: "invalid_request", field: "name", msg: "control characters"},
		{name: "escape sequence in owner", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["owner"] = "team\x1b[31m-red" }), status: 400, code: "invalid_request", field: "owner", msg: "control characters"},
		{name: "newline in scope", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["scopes"] = []string{"orders:read\nadmin"} }), status: 400, code: "invalid_request", field: "scopes", msg: "control characters"},
		{name: "bidi override in name", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["name"] = "sync\u202Etxt.exe" }), status: 400, code: "invalid_request", field: "name", msg: "bidirectional control"},
		{name: "unpaired surrogate escape", method: "POST", path: "/v1/tokens", body: strings.Replace(goodBody, `"name":"fresh"`, `"name":"fr\ud800esh"`, 1), status: 400, code: "invalid_request", field: "name", msg: "U+FFFD"},
		{name: "only unicode spaces as name", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["name"] = "\u00a0\u2003" }), status: 400, code: "invalid_request", field: "name", msg: "name is required"},
		{name: "control character in label", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["labels"] = map[string]string{"team": "a\x07"} }), status: 400, code: "invalid_request", field: "labels", msg: "control"},
		// Rule violations the service's validation also refuses answer as the policy gate's (default mandatory).
		{name: "generic purpose", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["purpose"] = "test" }), status: 422, code: "policy_violation", field: "purpose", msg: "CPRA-MIN-001", audited: []string{"token.refuse"}},
		{name: "unknown data category", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["data_categories"] = []string{"ssn'; DROP TABLE tokens;--"} }), status: 422, code: "policy_violation", field: "data_categories", msg: "CPRA-MIN-005", audited: []string{"token.refuse"}},
		// Durations.
		{name: "negative ttl", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["ttl"] = "-5d" }), status: 400, code: "invalid_request", field: "ttl", msg: "must be positive"},
		{name: "zero ttl", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["ttl"] = "0s" }), status: 400, code: "invalid_request", field: "ttl", msg: "must be positive"},
		{name: "ttl 999999999d", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["ttl"] = "999999999d" }), status: 400, code: "invalid_request", field: "ttl", msg: "too long"},
		{name: "ttl overflowing Go duration", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["ttl"] = "99999999999999999999h" }), status: 400, code: "invalid_request", field: "ttl", msg: "invalid duration"},
		{name: "ttl of max int64 nanoseconds", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["ttl"] = "9223372036854775807ns" }), status: 422, code: "ttl_exceeds_max", field: "ttl", msg: "longer than this service's maximum", audited: []string{"token.refuse"}},
		{name: "ttl with space", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["ttl"] = "30 d" }), status: 400, code: "invalid_request", field: "ttl", msg: "whole number"},
		{name: "negative rotation interval", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["rotation"] = map[string]string{"interval": "-1h"} }), status: 400, code: "invalid_request", field: "rotation.interval", msg: "must be positive"},
		{name: "garbage rotation overlap", method: "POST", path: "/v1/tokens", body: good(func(m map[string]any) { m["rotation"] = map[string]string{"overlap": "1 week"} }), status: 400, code: "invalid_request", field: "rotation.overlap", msg: "invalid duration"},
		// Content types.
		{name: "text/plain", method: "POST", path: "/v1/tokens", body: goodBody, contentType: "text/plain", status: 415, code: "unsupported_media_type", msg: "send application/json"},
		{name: "no content type", method: "POST", path: "/v1/tokens", body: goodBody, contentType: "none", status: 415, code: "unsupported_media_type"},
		{name: "malformed content type", method: "POST", path: "/v1/tokens", body: goodBody, contentType: "application/json; charset", status: 415, code: "unsupported_media_type"},
		// Other routes' bodies.
		{name: "patch with owner", method: "PATCH", path: tokPath, body: `{"owner":"someone-else"}`, status: 400, code: "invalid_request", field: "owner", msg: "unknown field"},
		// Issue 13 (one verdict for every write): a PATCH that breaks a rule is answered as the
		// create would be, 422 policy_violation.
		{name: "patch with empty scopes", method: "PATCH", path: tokPath, body: `{"scopes":[]}`, status: 422, code: "policy_violation", field: "scopes", msg: "CPRA-MIN-002", audited: []string{"token.refuse"}},
		{name: "rotate with negative overlap", method: "POST", path: tokPath + "/rotate", body: `{"overlap":"-1h"}`, status: 400, code: "invalid_request", field: "overlap", msg: "must be positive"},
		{name: "rotate with unknown field", method: "POST", path: tokPath + "/rotate", body: `{"secret":"tg_live_chosen"}`, status: 400, code: "invalid_request", field: "secret", msg: "unknown field"},
		{name: "idempotency key with space", method: "POST", path: tokPath + "/rotate", body: `{}`, header: []string{"Idempotency-Key", "a b"}, status: 400, code: "invalid_request", field: "Idempotency-Key", msg: "printable ASCII"},
		{name: "idempotency key non-ASCII", method: "POST", path: tokPath + "/rotate", body: `{}`, header: []string{"Idempotency-Key", "ключ"}, status: 400, code: "invalid_request", field: "Idempotency-Key", msg: "printable ASCII"},
		{name: "idempotency key 300 chars", method: "POST", path: "/v1/tokens", body: goodBody, header: []string{"Idempotency-Key", strings.Repeat("k", 300)}, status: 400, code: "invalid_request", field: "Idempotency-Key", msg: "longer than 255"},
		{name: "renew without reason", method: "POST", path: tokPath + "/renew", body: `{"ttl":"10d","reviewed_by":"security"}`, status: 400, code: "invalid_request", field: "reason", msg: "reason is required"},
		{name: "renew reviewed by the owner", method: "POST", path: tokPath + "/renew", body: `{"ttl":"10d","reason":"still needed","reviewed_by":"TEAM-billing@example.com"}`, status: 422, code: "reviewer_is_owner", field: "reviewed_by", audited: []string{"token.refuse"}},
		{name: "renew beyond max ttl", method: "POST", path: tokPath + "/renew", body: `{"ttl":"365d","reason":"still needed","reviewed_by":"security"}`, status: 422, code: "ttl_exceeds_max", field: "ttl", audited: []string{"token.refuse"}},
		{name: "revoke reason too long", method: "POST", path: tokPath + "/revoke", body: `{"reason":"` + strings.Repeat("r", 1001) + `"}`, status: 400, code: "invalid_request", field: "reason", msg: "longer than 1000"},
		{name: "credential with admin right", method: "POST", path: "/v1/credentials", body: `{"name":"escalate","rights":["admin"]}`, status: 400, code: "invalid_request", field: "rights", msg: "cannot be granted"},
		{name: "credential name with NUL", method: "POST", path: "/v1/credentials", body: `{"name":"api\u0000x"}`, status: 400, code: "invalid_request", field: "name", msg: "control characters"},
		// Ids and paths.
		{name: "nonexistent token id", method: "POST", path: "/v1/tokens/" + unknownID + "/rotate", body: `{}`, status: 404, code: "not_found", msg: "token not found"},
		{name: "encoded path traversal id", method: "POST", path: "/v1/tokens/..%2F..%2Fcredentials/revoke", body: `{}`, status: 400, code: "invalid_request", msg: "not canonical"},
		{name: "encoded slash in id", method: "GET", path: "/v1/tokens/tok_a%2Fb", status: 404, code: "not_found", msg: "token not found"},
		{name: "dot-dot path", method: "POST", path: "/v1/tokens/../credentials", body: `{"name":"sneaky"}`, status: 400, code: "invalid_request", msg: "not canonical"},
		{name: "double slash path", method: "GET", path: "/v1//tokens", status: 400, code: "invalid_request", msg: "not canonical"},
		{name: "NUL in id", method: "GET", path: "/v1/tokens/tok_%00", status: 404, code: "not_found"},
		{name: "10 KB id", method: "PATCH", path: "/v1/tokens/tok_" + strings.Repeat("A", 10000), body: `{"purpose":"nightly export of invoices to the ledger"}`, status: 404, code: "not_found"},
		{name: "SQL in id", method: "DELETE", path: "/v1/tokens/" + url.PathEscape("x' OR '1'='1"), status: 404, code: "not_found"},
		{name: "other credential reading a token", method: "GET", path: tokPath, introspector: true, status: 403, code: "forbidden"},
		{name: "other credential rotating a token", method: "POST", path: tokPath + "/rotate", body: `{}`, introspector: true, status: 403, code: "forbidden"},
		{name: "unknown route", method: "GET", path: "/v1/secrets", status: 404, code: "not_found"},
		{name: "wrong method", method: "PUT", path: tokPath, body: goodBody, status: 405, code: "method_not_allowed"},
		// Query parameters.
		{name: "negative limit", method: "GET", path: "/v1/tokens?limit=-1", status: 400, code: "invalid_request", field: "limit"},
		{name: "overflowing limit", method: "GET", path: "/v1/tokens?limit=99999999999999999999", status: 400, code: "invalid_request", field: "limit"},
		{name: "unknown query parameter", method: "GET", path: "/v1/tokens?where=1%3D1", status: 400, code: "invalid_request", field: "where", msg: "unknown query parameter"},
		{name: "bogus status filter", method: "GET", path: "/v1/tokens?status=all'--", status: 400, code: "invalid_request", field: "status"},
		// Introspection: every unusable secret answers exactly {"active":false}.
		{name: "introspect bad checksum", method: "POST", path: "/v1/introspect", introspector: true, body: `{"token":"` + badChecksum + `"}`, status: 200, exact: inactive},
		{name: "introspect malformed secret", method: "POST", path: "/v1/introspect", introspector: true, body: `{"token":"hello"}`, status: 200, exact: inactive},
		{name: "introspect 10 KB secret", method: "POST", path: "/v1/introspect", introspector: true, body: `{"token":"tg_live_` + strings.Repeat("A", 10000) + `"}`, status: 200, exact: inactive},
		{name: "introspect other environment", method: "POST", path: "/v1/introspect", introspector: true, body: `{"token":"` + otherEnv + `"}`, status: 200, exact: inactive},
		{name: "introspect unknown token", method: "POST", path: "/v1/introspect", introspector: true, body: `{"token":"` + unknownSecret + `"}`, status: 200, exact: inactive, audited: []string{"token.introspect"}},
		{name: "introspect another id with this secret's random part", method: "POST", path: "/v1/introspect", introspector: true, body: `{"token":"` + otherIDSecret + `"}`, status: 200, exact: inactive},
		{name: "introspect form with bad checksum", method: "POST", path: "/v1/introspect", introspector: true, contentType: "application/x-www-form-urlencoded", body: "token=" + url.QueryEscape(badChecksum), status: 200, exact: inactive},
		{name: "introspect without token", method: "POST", path: "/v1/introspect", introspector: true, body: `{}`, status: 400, code: "invalid_request", field: "token", msg: "token is required"},
		{name: "introspect token as number", method: "POST", path: "/v1/introspect", introspector: true, body: `{"token":12345}`, status: 400, code: "invalid_request", field: "token", msg: "must be a JSON string"},
		{name: "introspect unknown field", method: "POST", path: "/v1/introspect", introspector: true, body: `{"tokn":"x"}`, status: 400, code: "invalid_request", field: "tokn", msg: "unknown field"},
	}
	if len(cases) < 40 {
		t.Fatalf("catalogue has %d cases, want at least 40", len(cases))
	}
	t.Logf("%d hostile or broken inputs", len(cases))

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshotDB(t, svc.DBPath)
			cred := svc.AdminToken
			if tc.introspector {
				cred = icSecret
			}
			req, err := http.NewRequest(tc.method, svc.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tc.path, "%") { // keep the client from re-encoding the path
				req.URL.RawPath = strings.SplitN(tc.path, "?", 2)[0]
			}
			switch {
			case tc.contentType == "none":
			case tc.contentType != "":
				req.Header.Set("Content-Type", tc.contentType)
			case tc.body != "":
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Authorization", "Bearer "+cred)
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("request failed: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			if err := resp.Body.Close(); err != nil {
				t.Fatalf("closing the response: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, body, tc.status)
			}
			if tc.exact != "" {
				if string(body) != tc.exact {
					t.Fatalf("body = %s, want exactly %s", body, tc.exact)
				}
			} else {
				var eb wire.ErrorBody
				var top map[string]json.RawMessage
				if err := json.Unmarshal(body, &top); err != nil || decodeErrorBodyFor(tc.path, body, &eb) != nil ||
					(!strings.HasPrefix(tc.path, "/v1/introspect") && len(top) != errorShapeKeys(top)) {
					t.Fatalf("body %s is not the one error shape", body)
				}
				if eb.Error.Code != tc.code || eb.Error.Field != tc.field || eb.Error.Message == "" || !strings.Contains(eb.Error.Message, tc.msg) {
					t.Fatalf("error = %s field %q: %q; want %s field %q with a message containing %q",
						eb.Error.Code, eb.Error.Field, eb.Error.Message, tc.code, tc.field, tc.msg)
				}
				if len(eb.Error.Message) > 2000 {
					t.Fatalf("error message is %d bytes: it echoes the input", len(eb.Error.Message))
				}
			}
			// The service is still up and answering.
			if st, b, _ := rawDo(t, "GET", svc.URL+tokPath, svc.AdminToken, ""); st != 200 {
				t.Fatalf("follow-up request = %d %s: the service did not survive", st, b)
			}
			// Introspection records are group-committed: write them before reading the file.
			svc.Flush(t)
			after := snapshotDB(t, svc.DBPath)
			if d := diffExceptNewAudit(before, after); d != "" {
				t.Fatalf("database changed by a refused request: %s", d)
			}
			if got := auditActionsAfter(t, svc.DBPath, before.auditMax); !slices.Equal(got, tc.audited) {
				t.Fatalf("audit records added = %v, want %v", got, tc.audited)
			}
		})
	}
	logs := svc.Logs.String()
	if strings.Contains(logs, "panic") {
		t.Fatalf("a handler panicked:\n%s", logs)
	}
	for _, secret := range []string{base.Secret, icSecret, svc.AdminToken} {
		if strings.Contains(logs, secret) {
			t.Fatal("a secret appears in the service log")
		}
	}
}

func TestBadInput_sqlMetacharactersAndUnicodeAreStoredVerbatimNotExecuted(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	if _, err := admin.CreateToken(ctx, compliantRequest("bystander"), ""); err != nil {
		t.Fatal(err)
	}
	req := compliantRequest(`x'); DROP TABLE tokens;--`)
	req.Owner = `' OR '1'='1`
	req.Purpose = `export invoices where name LIKE '%_\' -- and "quoted" text; SELECT 1`
	req.Labels = map[string]string{`k"; DELETE FROM audit; --`: `v' UNION SELECT secret_hash FROM credentials --`}
	req.DataSubjects = []string{`customer:1' OR 1=1 --`, "customer:東京-🚀"}
	req.Scopes = []string{"orders:read", "naïve:scope"}
	tok, err := admin.CreateToken(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := admin.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != req.Name || got.Owner != req.Owner || got.Purpose != req.Purpose ||
		!slices.Equal(got.Scopes, req.Scopes) || !slices.Equal(got.DataSubjects, req.DataSubjects) ||
		got.Labels[`k"; DELETE FROM audit; --`] != req.Labels[`k"; DELETE FROM audit; --`] {
		t.Fatalf("stored token differs from the request:\n got %+v\nwant %+v", got, req)
	}
	for _, tc := range []struct {
		owner string
		want  int
	}{{`' OR '1'='1`, 1}, {`%`, 0}, {`team-billing@example.com' --`, 0}, {`team-billing@example.com`, 1}} {
		list, err := admin.ListTokens(ctx, wire.ListTokensOptions{Owner: tc.owner})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Tokens) != tc.want {
			t.Fatalf("list owner=%q = %d tokens, want %d", tc.owner, len(list.Tokens), tc.want)
		}
	}
	list, err := admin.ListTokens(ctx, wire.ListTokensOptions{Subject: `customer:1' OR 1=1 --`})
	if err != nil || len(list.Tokens) != 1 || list.Tokens[0].ID != tok.ID {
		t.Fatalf("list by the SQL-looking subject = %+v, %v; want exactly the token", list.Tokens, err)
	}
	snap := snapshotDB(t, svc.DBPath)
	if len(snap.rows["tokens"]) != 2 || len(snap.rows["credentials"]) != 1 || snap.auditMax < 3 {
		t.Fatalf("after SQL-looking input: %d tokens, %d credentials, audit up to %d; want 2, 1, >= 3",
			len(snap.rows["tokens"]), len(snap.rows["credentials"]), snap.auditMax)
	}
}
