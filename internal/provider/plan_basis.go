package provider

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// planBasisKey is the private-state key of a token's planBasis.
const planBasisKey = "plan_basis"

// planBasis is what Read settles about a token and keeps in private state, so that ModifyPlan
// decides from state and configuration alone. Terraform plans a resource again at apply, from
// the prior state of a saved plan: a decision that read the clock there (rotation due,
// expiry, replace_before) could differ from the plan the practitioner approved, which fails
// the apply. Deciding at the instant of the refresh, as time_rotating does, gives the same
// answer at plan and at apply; a rotation that falls due in between shows in the next plan.
type planBasis struct {
	// RefreshedAt is the provider clock's time at the last read, create or update.
	RefreshedAt time.Time `json:"refreshed_at"`
	// StaleVersion is the secret_version of the secret in state when the service holds a
	// newer one (rotated outside Terraform, or by an apply that was interrupted before it
	// saved the new secret); 0 when the secret in state is the current one.
	StaleVersion int64 `json:"stale_version,omitempty"`
	// StaleUntil is when the stale secret stops working; nil when it already has (or never
	// had an overlap).
	StaleUntil *time.Time `json:"stale_until,omitempty"`
	// TTLDerived is true when ttl in state was derived from the token's lifetime at import
	// rather than configured: the configured ttl replaces it without a renewal or replacement.
	TTLDerived bool `json:"ttl_derived,omitempty"`
}

// privateState is the private-state accessor every request and response of the framework has.
type privateState interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// loadPlanBasis reads the basis of p; ok is false when none was recorded (a state written by
// an older provider and not refreshed since).
func loadPlanBasis(ctx context.Context, p interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}, diags *diag.Diagnostics) (planBasis, bool) {
	var b planBasis
	raw, d := p.GetKey(ctx, planBasisKey)
	diags.Append(d...)
	if len(raw) == 0 {
		return b, false
	}
	if err := json.Unmarshal(raw, &b); err != nil || b.RefreshedAt.IsZero() {
		return planBasis{}, false
	}
	return b, true
}

// save writes b to p.
func (b planBasis) save(ctx context.Context, p privateState, diags *diag.Diagnostics) {
	raw, err := json.Marshal(b)
	if err != nil {
		diags.AddError("Unable To Record Plan Basis", "Encoding the token's plan basis failed: "+err.Error()+". This is a bug in the tokenguard provider: please report it.")
		return
	}
	diags.Append(p.SetKey(ctx, planBasisKey, raw)...)
}
