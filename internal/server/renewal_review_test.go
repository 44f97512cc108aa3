package server_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// A review approves one renewal (issue 21): the second renewal under the same review, however
// it is spelt, is refused with 409 naming the earlier use; a new review renews; another
// token may use the same review once.
func TestRenew_reviewApprovesOneRenewal(t *testing.T) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now})
	admin := svc.Client(t)
	created, err := admin.CreateToken(ctx, compliantRequest("invoice-export"), "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	review := wire.RenewRequest{TTL: "45d", Reason: "Quarter-end close needs two more weeks", ReviewedBy: "security@example.com"}
	if _, err := admin.RenewToken(ctx, created.ID, review, ""); err != nil {
		t.Fatalf("first renewal: %v", err)
	}
	clock.Advance(time.Hour)
	spellings := []wire.RenewRequest{
		{TTL: "60d", Reason: review.Reason, ReviewedBy: review.ReviewedBy},
		{TTL: "60d", Reason: "  quarter-end CLOSE needs two  more weeks", ReviewedBy: "Security@Example.com"},
		{TTL: "60d", Reason: review.Reason, ReviewedBy: "ｓｅｃｕｒｉｔｙ@example.com"},
		{TTL: "60d", Reason: "Quarter-end\u200b close needs two more weeks", ReviewedBy: review.ReviewedBy}, // zero-width space
		{TTL: "10d", Reason: review.Reason, ReviewedBy: review.ReviewedBy},                                  // shorter: still a second use
	}
	seq := regexp.MustCompile(`already approved a renewal of token ` + created.ID + ` at ` + t0.Format(time.RFC3339) + ` \(audit record seq \d+, ttl 45d\)`)
	for _, r := range spellings {
		_, err := admin.RenewToken(ctx, created.ID, r, "")
		wantAPIError(t, err, http.StatusConflict, "renewal_review_used", "renewal")
		var re *client.ResponseError
		if errors.As(err, &re) && !seq.MatchString(re.Message) {
			t.Errorf("409 message %q does not name the earlier use", re.Message)
		}
	}
	got, err := admin.GetToken(ctx, created.ID)
	if err != nil || !got.ExpiresAt.Equal(t0.Add(45*24*time.Hour)) {
		t.Fatalf("after refused renewals expires_at = %v (%v), want the first renewal's %v", got.ExpiresAt, err, t0.Add(45*24*time.Hour))
	}
	renewed, err := admin.RenewToken(ctx, created.ID, wire.RenewRequest{TTL: "60d", Reason: "Audit extension approved", ReviewedBy: "security@example.com"}, "")
	if err != nil || !renewed.ExpiresAt.Equal(clock.Now().Add(60*24*time.Hour)) {
		t.Fatalf("renewal under a new review = %+v, %v", renewed, err)
	}
	other, err := admin.CreateToken(ctx, compliantRequest("invoice-export-2"), "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := admin.RenewToken(ctx, other.ID, review, ""); err != nil {
		t.Fatalf("the review of another token's renewal refused for this token: %v", err)
	}
}
