package cli

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store/sqlite"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestAdminPurge_dryRunCountsThenPurgeDeletesRetiredTokensAndTheChainVerifies runs
// tokenguard admin purge on a service database: the dry run deletes nothing, the purge
// deletes the token revoked 100 days ago and keeps the live one and the one revoked a day
// ago, records one tokens.purge audit record, and tokenguard audit verify still passes.
func TestAdminPurge_dryRunCountsThenPurgeDeletesRetiredTokensAndTheChainVerifies(t *testing.T) {
	const admin = "tgc_purge-test-admin-credential-0123456789abcdef"
	t.Setenv("TOKENGUARD_ADMIN_TOKEN", admin)
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "tg.db")
	url, _, stop := startServe(t, "--db", db)
	c, err := client.New(client.Config{Endpoint: url, Token: admin, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, name := range []string{"old-revoked", "recent-revoked", "live"} {
		tok, err := c.CreateToken(ctx, wire.CreateTokenRequest{Name: name, Owner: "team-purge", Purpose: "prove that retired tokens are purged",
			Scopes: []string{"orders:read"}, DataCategories: []string{"identifiers"}, DataSubjects: []string{"customer:7"}, TTL: "7d"}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	for _, id := range ids[:2] {
		if _, err := c.RevokeToken(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	// Back-date the revocations, as 100 days and 1 day of waiting would.
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		for i, ago := range []time.Duration{100 * 24 * time.Hour, 24 * time.Hour} {
			tok, err := tx.GetToken(ctx, ids[i])
			if err != nil {
				return err
			}
			at := time.Now().Add(-ago)
			tok.RevokedAt = &at
			if err := tx.UpdateToken(ctx, tok); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := st.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	count := func() int {
		st, err := sqlite.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = st.Close() }()
		var n int
		if err := st.View(ctx, func(r store.Reader) error {
			toks, err := r.ListTokens(ctx, store.TokenFilter{})
			n = len(toks)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}

	code, out, errs := runAdmin(t, "purge", "--db", db, "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run, nothing deleted: would purge 1 tokens") || count() != 3 {
		t.Fatalf("admin purge --dry-run = %d, %d tokens left\n%s%s", code, count(), out, errs)
	}
	code, out, errs = runAdmin(t, "purge", "--db", db)
	if code != 0 || !strings.Contains(out, "purged 1 tokens revoked or expired before") || !strings.Contains(out, "older than 90d") {
		t.Fatalf("admin purge = %d\n%s%s", code, out, errs)
	}
	if n := count(); n != 2 {
		t.Errorf("tokens left after the purge = %d, want 2", n)
	}
	code, out, errs = runAdmin(t, "purge", "--db", db, "--older-than", "12h")
	if code != 0 || !strings.Contains(out, "purged 1 tokens") || count() != 1 {
		t.Fatalf("admin purge --older-than 12h = %d, %d tokens left\n%s%s", code, count(), out, errs)
	}
	var vout, verr bytes.Buffer
	if code := Run([]string{"audit", "verify", "--db", db}, strings.NewReader(""), &vout, &verr); code != 0 {
		t.Fatalf("audit verify after the purges = %d\n%s%s", code, vout.String(), verr.String())
	}
	st, err = sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	var purges []map[string]string
	var revokes int
	if err := st.View(ctx, func(r store.Reader) error {
		recs, err := r.ListAudit(ctx, 0, 1000)
		for _, rec := range recs {
			switch {
			case rec.Action == "tokens.purge":
				if rec.Actor != "admin-cli" {
					t.Errorf("purge record actor = %q, want admin-cli", rec.Actor)
				}
				purges = append(purges, rec.Details)
			case rec.TokenID == ids[0] || rec.TokenID == ids[1]:
				revokes++
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(purges) != 2 || purges[0]["purged"] != "1" || purges[0]["cutoff"] == "" || purges[1]["retention"] != "12h" {
		t.Errorf("purge audit records = %v, want 2 (the dry run writes none)", purges)
	}
	if revokes < 4 {
		t.Errorf("audit records of the purged tokens = %d, want their create and revoke records kept", revokes)
	}
}

// TestAdminPurge_refusesBadInput: a missing or wrong --db, a zero or unparsable age.
func TestAdminPurge_refusesBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.db")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"purge"}, "--db is required"},
		{[]string{"purge", "--db", missing}, "does not exist"},
		{[]string{"purge", "--db", missing, "--older-than", "0d"}, "--older-than"},
		{[]string{"purge", "--db", missing, "--older-than", "ninety days"}, "--older-than"},
		{[]string{"purge", "--db", "postgres://u:hunter2@127.0.0.1/x"}, "--key-file is required"},
	}
	for _, tc := range cases {
		code, out, errs := runAdmin(t, tc.args...)
		if code != ExitUsage || !strings.Contains(errs, tc.want) || strings.Contains(out+errs, "hunter2") {
			t.Errorf("admin %v = %d, %q; want exit %d naming %q (and no password)", tc.args, code, out+errs, ExitUsage, tc.want)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused purge created %s: %v", missing, err)
	}
}
