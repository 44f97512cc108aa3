package server_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestCredentialGrant_databaseEditsWithoutTheKeyFileAreRefused attacks the credentials table
// as someone with write access to the database but not the key file: raising an issuer to
// admin, lifting an owner restriction, moving one credential's secret onto an admin
// credential, stretching a rotation's overlap and blanking the grant MAC. Every edited
// credential is refused (401) at its next request, since each request checks the keyed MAC
// the service wrote over id, role, owner restriction and secret hashes; untouched
// credentials keep working. A blanked MAC is sealed again at the next start, with a
// credential.adopt audit record naming the role it was given (the documented limit).
func TestCredentialGrant_databaseEditsWithoutTheKeyFileAreRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now, AuthFailuresPerMinute: -1})
	admin := svc.Client(t)
	mk := func(name, role, owner string) wire.Credential {
		t.Helper()
		c, err := admin.CreateCredential(ctx, wire.CreateCredentialRequest{Name: name, Role: role, Owner: owner}, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	raised := mk("raised", "issuer", "")
	unrestricted := mk("unrestricted", "issuer", ownerA)
	mover := mk("mover", "reader", "")
	target := mk("target", "admin", "")
	stretched := mk("stretched", "reader", "")
	blanked := mk("blanked", "introspect", "")
	bystander := mk("bystander", "reader", "")
	clock.Advance(time.Minute)
	_, err := admin.RotateCredential(ctx, stretched.ID, wire.RotateCredentialRequest{Overlap: "1m"}, "")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)

	db, err := sql.Open("sqlite", "file:"+svc.DBPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`UPDATE credentials SET rights = '["admin"]' WHERE id = ?`, raised.ID)
	exec(`UPDATE credentials SET owner_index = '' WHERE id = ?`, unrestricted.ID)
	// The mover's secret now opens the admin credential's row.
	var moverHash []byte
	if err := db.QueryRowContext(ctx, "SELECT secret_hash FROM credentials WHERE id = ?", mover.ID).Scan(&moverHash); err != nil {
		t.Fatal(err)
	}
	exec(`UPDATE credentials SET secret_hash = randomblob(32) WHERE id = ?`, mover.ID)
	exec(`UPDATE credentials SET secret_hash = ? WHERE id = ?`, moverHash, target.ID)
	exec(`UPDATE credentials SET prev_valid_until = '2099-01-01T00:00:00.000000000Z' WHERE id = ?`, stretched.ID)
	exec(`UPDATE credentials SET grant_mac = '' WHERE id = ?`, blanked.ID)

	cases := []struct {
		name, secret, method, path, body string
	}{
		{"an issuer raised to admin", raised.Secret, "GET", "/v1/credentials", ""},
		{"an owner restriction lifted", unrestricted.Secret, "GET", "/v1/tokens", ""},
		{"a reader's secret moved onto an admin credential", mover.Secret, "GET", "/v1/credentials", ""},
		{"an ended overlap stretched", stretched.Secret, "GET", "/v1/tokens", ""},
		{"a blanked grant MAC", blanked.Secret, "POST", "/v1/introspect", `{"token":"x"}`},
	}
	for _, c := range cases {
		if st, body, _ := rawDo(t, c.method, svc.URL+c.path, c.secret, c.body); st != 401 {
			t.Errorf("%s: %s %s = %d %s, want 401", c.name, c.method, c.path, st, body)
		}
	}
	if st, _, _ := rawDo(t, "GET", svc.URL+"/v1/tokens", bystander.Secret, ""); st != 200 {
		t.Fatalf("an untouched reader = %d, want 200", st)
	}
	if st, _, _ := rawDo(t, "GET", svc.URL+"/v1/credentials", svc.AdminToken, ""); st != 200 {
		t.Fatalf("the untouched admin = %d, want 200", st)
	}

	// The limit: a blanked MAC is sealed again at the next start, and the audit log says so.
	svc.Close()
	svc = servertest.Start(t, servertest.Options{Dir: dir, Now: clock.Now, AuthFailuresPerMinute: -1})
	if st, body, _ := rawDo(t, "POST", svc.URL+"/v1/introspect", blanked.Secret, `{"token":"x"}`); st != 200 {
		t.Fatalf("the blanked credential after a restart = %d %s, want 200 (adopted)", st, body)
	}
	if st, _, _ := rawDo(t, "GET", svc.URL+"/v1/credentials", raised.Secret, ""); st != 401 {
		t.Fatalf("the raised issuer after a restart = %d, want 401 (its MAC was not blanked)", st)
	}
	page, err := svc.Client(t).ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	adopted := 0
	for _, r := range page.Records {
		if r.Action == "credential.adopt" {
			adopted++
			if r.Details["credential"] != blanked.ID || r.Details["role"] != "introspect" || r.Actor != "system" {
				t.Errorf("credential.adopt record = %+v", r)
			}
		}
	}
	if adopted != 1 {
		t.Fatalf("%d credential.adopt records, want 1", adopted)
	}
	t.Logf("%d edits of the credentials table without the key file: each refused 401; 1 blanked MAC re-sealed at restart with an audit record", len(cases))
}
