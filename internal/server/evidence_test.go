package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/keyring"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/policy"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

func TestListDeletionEvidence_pagesEveryRecordWithoutSubjects(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	admin := svc.Client(t)
	var ids []string
	for i := range 3 {
		res, err := admin.CreateDeletionRequest(ctx, wire.DeletionRequest{Subject: fmt.Sprintf("customer:90%d", i), Reference: fmt.Sprintf("DSR-%d", i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		page, err := admin.ListDeletionEvidence(ctx, token, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.DeletionRequests {
			got = append(got, d.ID)
			if d.Status != wire.DeletionComplete || d.CompletedAt == nil || d.Reference == "" {
				t.Errorf("evidence %+v, want a complete request with its reference", d)
			}
		}
		if page.NextPageToken == "" {
			break
		}
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		token = page.NextPageToken
	}
	if len(got) != 3 || got[0] > got[1] || got[1] > got[2] {
		t.Errorf("listed %v, want the 3 requests %v in id order", got, ids)
	}
	status, raw, _ := rawDo(t, http.MethodGet, svc.URL+"/v1/deletion-requests?limit=1000", svc.AdminToken, "")
	if status != http.StatusOK || strings.Contains(string(raw), "customer:90") {
		t.Errorf("listing = %d, holds a subject: %s", status, raw)
	}
	for _, q := range []string{"?page_token=bm9wZQ", "?limit=0", "?subject=x", "?page_token=" + base64.RawURLEncoding.EncodeToString([]byte("after:tok_1"))} {
		if status, raw, _ := rawDo(t, http.MethodGet, svc.URL+"/v1/deletion-requests"+q, svc.AdminToken, ""); status != http.StatusBadRequest {
			t.Errorf("GET /v1/deletion-requests%s = %d %s, want 400", q, status, raw)
		}
	}
}

// TestListRenewals_readsPastTheScanBoundAndOpensReviewers puts renewals on both sides of one
// call's scan bound (50,000 records) and follows next_after to the end.
func TestListRenewals_readsPastTheScanBoundAndOpensReviewers(t *testing.T) {
	ctx := context.Background()
	svc := servertest.Start(t, servertest.Options{})
	keys, err := keyring.Load(svc.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := keys.Seal([]byte("reviewer@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	renewal := func(reason string, details map[string]string) audit.Event {
		d := map[string]string{"reason": reason, "expires_at": at.Add(time.Hour).Format(time.RFC3339Nano), "ttl": "30d"}
		for k, v := range details {
			d[k] = v
		}
		return audit.Event{Time: at, Actor: "cred_x", Action: audit.ActionRenew, TokenID: "tok_r", Outcome: "ok", Details: d}
	}
	events := make([]audit.Event, 0, 60_010)
	events = append(events, renewal("first", map[string]string{"reviewer_sealed": base64.StdEncoding.EncodeToString(sealed)}))
	for range 55_000 {
		events = append(events, audit.Event{Time: at, Actor: "cred_i", Action: audit.ActionIntrospect, TokenID: "tok_r", Outcome: "active"})
	}
	events = append(events, renewal("old record without reviewer", map[string]string{"reviewer_index": "abc"}))
	denied := renewal("refused", nil)
	denied.Outcome = "denied"
	events = append(events, denied, renewal("sealed under a lost key", map[string]string{"reviewer_sealed": "AQVub3BlAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}))
	err = svc.Store.Update(ctx, func(tx store.Tx) error {
		for i := 0; i < len(events); i += 1000 {
			if _, err := tx.AppendAudits(ctx, events[i:min(i+1000, len(events))]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	admin := svc.Client(t)
	var got []wire.Renewal
	calls := 0
	for after := int64(0); ; calls++ {
		page, err := admin.ListRenewals(ctx, after)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Renewals...)
		if page.NextAfter == 0 {
			break
		}
		if page.NextAfter <= after || calls > 5 {
			t.Fatalf("next_after %d after %d: no progress", page.NextAfter, after)
		}
		after = page.NextAfter
	}
	if calls != 1 {
		t.Errorf("read the log in %d continued calls, want 1 (two calls for %d records)", calls, len(events))
	}
	if len(got) != 3 || got[0].Reason != "first" || got[0].Reviewer != "reviewer@example.com" ||
		got[1].Reviewer != "" || got[2].Reason != "sealed under a lost key" || got[2].Reviewer != "" || got[0].ExpiresAt == nil {
		t.Errorf("renewals = %+v, want first (reviewer opened), the old one and the unopenable one (no reviewer), not the refused one", got)
	}
}

func TestPolicyInForce_namesDigestRulesThresholdsAndWaivers(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC))
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, Waivers: []policy.Waiver{
		{Rule: "CPRA-ROT-001", Address: "tokenguard_api_token.a", Reason: "migration", ApprovedBy: "ciso", Expires: time.Date(2030, 5, 31, 0, 0, 0, 0, time.UTC)},
		{Rule: "CPRA-MIN-003", Address: "tokenguard_api_token.b", Reason: "seasonal", ApprovedBy: "ciso", Expires: time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)},
	}})
	got, err := svc.Client(t).Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.NewEngine(ctx, policy.Options{Gate: policy.GateService})
	if err != nil {
		t.Fatal(err)
	}
	if got.Enforcement != server.PolicyMandatory || got.Bundle == nil || got.Bundle.Digest != engine.Bundle().Digest {
		t.Fatalf("policy = %+v, want mandatory with the embedded bundle's digest %s", got, engine.Bundle().Digest)
	}
	ids := map[string]bool{}
	for _, r := range got.Rules {
		ids[r.ID] = true
	}
	if !ids["CPRA-RET-003"] || !ids["CPRA-MIN-001"] || got.Bundle.Thresholds["ttl_max_days"] == nil {
		t.Errorf("rules %v / thresholds %v, want the service gate's rules and the bundle thresholds", ids, got.Bundle.Thresholds)
	}
	if len(got.Waivers) != 2 || !got.Waivers[0].Expired || got.Waivers[1].Expired || got.Waivers[1].Expires != "2030-06-01" {
		t.Errorf("waivers = %+v, want the first expired and the second in force on its last day", got.Waivers)
	}
	off := servertest.Start(t, servertest.Options{PolicyEnforcement: server.PolicyOff})
	if got, err := off.Client(t).Policy(ctx); err != nil || got.Enforcement != server.PolicyOff || got.Bundle != nil || len(got.Rules) != 0 {
		t.Errorf("policy with the gate off = %+v, %v", got, err)
	}
}
