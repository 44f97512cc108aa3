// Taking over a token an interrupted apply or an expired holder left behind under the planned name.

package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// createOverExpiredHolder handles a create refused because a token of the owner that is not
// revoked holds the name. When that token has expired it can no longer be verified: it is
// revoked, which frees the name, and the create is sent again (this is how an expired token is
// replaced under lifecycle create_before_destroy, where the new token is created before the
// old one is destroyed). An active holder is reported with what to do, and nothing changes.
// done is false when a diagnostic was added; otherwise tok and err are the retried create's.
func (r *apiTokenResource) createOverExpiredHolder(ctx context.Context, req wire.CreateTokenRequest, diags *diag.Diagnostics) (tok wire.Token, done bool, err error) {
	holder, found, err := liveTokenNamed(ctx, r.data.client, req.Owner, req.Name)
	if err != nil {
		addClientError(diags, "Unable To Create Token", "looking up the token that holds the name "+strconv.Quote(req.Name), err)
		return wire.Token{}, false, nil
	}
	if found && holder.Status == "active" {
		if full, getErr := r.data.client.GetToken(ctx, holder.ID); getErr == nil {
			if age, ok := orphanOf(full, req, r.now()); ok {
				return r.adoptOrphan(ctx, full, age, req.Recipient, diags)
			}
		}
		diags.AddAttributeError(path.Root("name"), "Token Name In Use",
			fmt.Sprintf("Owner %q already has an active token named %q (%s), and a name is unique per owner among tokens that "+
				"are not revoked. If this is a replacement under lifecycle create_before_destroy, the new token is created while "+
				"the old one is still active: remove create_before_destroy (Terraform then revokes the old token first), or "+
				"make name differ between the old and the new token. If another Terraform state manages %s (another workspace "+
				"or root module with this configuration), do not import it here: one token must be managed by one state only, "+
				"or each apply would rotate, renew or revoke the other state's secret. Give this configuration's token a name of "+
				"its own, for example with terraform.workspace in it. Import %s only if no state manages it.",
				req.Owner, req.Name, holder.ID, holder.ID, holder.ID))
		return wire.Token{}, false, nil
	}
	if found {
		if _, err := r.data.client.RevokeToken(ctx, holder.ID); err != nil && !errors.Is(err, client.ErrNotFound) {
			addClientError(diags, "Unable To Create Token", "revoking the expired token "+holder.ID+" that holds the name "+strconv.Quote(req.Name), err)
			return wire.Token{}, false, nil
		}
	}
	// A new idempotency key: the refused create issued nothing.
	tok, err = r.data.client.CreateToken(ctx, req, "")
	return tok, true, err
}

// adoptOrphan takes over the orphan t of an interrupted create and rotates it: the secret it
// was issued with went to the apply that was interrupted and is lost, so state gets a new one,
// sealed to recipient when there is one.
func (r *apiTokenResource) adoptOrphan(ctx context.Context, t wire.Token, age time.Duration, recipient string, diags *diag.Diagnostics) (wire.Token, bool, error) {
	// The service allows no zero overlap override: the lost secret ends with the token's own.
	rotated, err := r.data.client.RotateToken(ctx, t.ID, wire.RotateRequest{Recipient: recipient}, "")
	if err != nil {
		addClientError(diags, "Unable To Create Token", "rotating the token "+t.ID+" left by an interrupted apply", err)
		return wire.Token{}, false, nil
	}
	diags.AddAttributeWarning(path.Root("name"), "Token Adopted From An Interrupted Apply",
		fmt.Sprintf("Token %s named %q was issued %s ago by a create whose answer never reached Terraform (an interrupted or "+
			"timed-out apply): it matches this configuration exactly, holds its first secret and has never been used. It is "+
			"taken over instead of failing on its name, and its secret was rotated so that state holds one; the first secret, "+
			"which nobody received, stops working %s.", t.ID, t.Name, age.Round(time.Second), lostSecretEnd(rotated)))
	return rotated, true, nil
}

// liveTokenNamed finds the owner's token called name that is not revoked.
func liveTokenNamed(ctx context.Context, c *client.Client, owner, name string) (wire.Token, bool, error) {
	var found wire.Token
	ok := false
	err := eachToken(ctx, c, wire.ListTokensOptions{Owner: owner}, func(t wire.Token) bool {
		if t.Name == name && t.Status != "revoked" {
			found, ok = t, true
			return false
		}
		return true
	})
	return found, ok, err
}
