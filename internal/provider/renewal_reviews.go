package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// usedReviewsKey is the private-state key of the reviews that already approved a lifetime of
// this token (issue 21): a review approves one renewal, so a later ttl increase under the
// same renewal block is refused at plan, as the service refuses it with 409.
const usedReviewsKey = "used_reviews"

// usedReview is one review recorded in private state: a SHA-256 of its token.ReviewKey (the
// reason and reviewer are in state already; the hash only matches spellings of one review)
// and the ttl it approved.
type usedReview struct {
	Review string `json:"review"`
	TTL    string `json:"ttl"`
}

// reviewHash is the recorded form of the review ren.
func reviewHash(ren renewalModel) string {
	sum := sha256.Sum256([]byte(token.ReviewKey(ren.Reason.ValueString(), ren.ReviewedBy.ValueString())))
	return hex.EncodeToString(sum[:])
}

// loadUsedReviews reads the reviews recorded in p; ok is false when none were recorded (a
// state written before issue 21, or a token never renewed nor created with a renewal block).
func loadUsedReviews(ctx context.Context, p interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}, diags *diag.Diagnostics) (used []usedReview, ok bool) {
	raw, d := p.GetKey(ctx, usedReviewsKey)
	diags.Append(d...)
	if len(raw) == 0 || json.Unmarshal(raw, &used) != nil {
		return nil, false
	}
	return used, true
}

// recordReview adds ren, approving ttl, to the reviews recorded in p.
func recordReview(ctx context.Context, p privateState, ren renewalModel, ttl string, diags *diag.Diagnostics) {
	used, _ := loadUsedReviews(ctx, p, diags)
	h := reviewHash(ren)
	if slices.ContainsFunc(used, func(u usedReview) bool { return u.Review == h }) {
		return
	}
	raw, err := json.Marshal(append(used, usedReview{Review: h, TTL: ttl}))
	if err != nil {
		diags.AddError("Unable To Record Renewal Review", "Encoding the token's used reviews failed: "+err.Error()+". This is a bug in the tokenguard provider: please report it.")
		return
	}
	diags.Append(p.SetKey(ctx, usedReviewsKey, raw)...)
}

// reviewUsed reports whether the configured review ren already approved a lifetime of this
// token, and the ttl it approved: a recorded review, or, for a state with none recorded,
// the renewal block in state (the last applied review).
func reviewUsed(ren renewalModel, used []usedReview, recorded bool, state types.Object, stateRen renewalModel, stateTTL string) (string, bool) {
	h := reviewHash(ren)
	if recorded {
		for _, u := range used {
			if u.Review == h {
				return u.TTL, true
			}
		}
		return "", false
	}
	if !state.IsNull() && !state.IsUnknown() && reviewHash(stateRen) == h {
		return stateTTL, true
	}
	return "", false
}

// renewalKept plans the renewal block of the configuration, or, when the configuration has
// none, the one in state: removing the block after its renewal was applied plans nothing
// (the state keeps the record of the last reviewed renewal), and a new token (a create or a
// replacement) has none.
type renewalKept struct{}

func (renewalKept) Description(context.Context) string {
	return "keeps the last applied renewal in state when the block is removed; a new token has none"
}
func (m renewalKept) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }
func (renewalKept) PlanModifyObject(_ context.Context, req planmodifier.ObjectRequest, resp *planmodifier.ObjectResponse) {
	if !req.ConfigValue.IsNull() {
		return
	}
	if req.State.Raw.IsNull() {
		resp.PlanValue = types.ObjectNull(renewalAttrTypes)
		return
	}
	resp.PlanValue = req.StateValue
}
