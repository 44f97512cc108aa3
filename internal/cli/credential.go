package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// newCredentialCommand is "tokenguard credential": management and resource-server
// credentials of the token service.
func newCredentialCommand(s *streams) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Create, list, rotate and revoke API credentials (roles admin, issuer, reader, introspect)",
		Long: `Credentials authenticate callers of the token service; managing them needs an admin credential.

Roles:
  admin       every route: credentials, deletion requests and everything below
  issuer      create, read, change, rotate, renew and revoke tokens (what Terraform needs)
  reader      read tokens, the audit log, access requests, deletion evidence, renewals
  introspect  POST /v1/introspect and POST /v1/revoke only (resource servers)

An issuer or reader may be restricted to the tokens of one owner (--owner): another owner's
tokens are then answered as absent, and routes about every owner are refused.`,
	}
	cf.register(cmd)
	cmd.AddCommand(newCredentialCreateCommand(s, &cf), newCredentialListCommand(s, &cf),
		newCredentialRotateCommand(s, &cf), newCredentialRevokeCommand(s, &cf))
	return cmd
}

func newCredentialCreateCommand(s *streams, cf *clientFlags) *cobra.Command {
	var req wire.CreateCredentialRequest
	var idemKey string
	var asJSON bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a credential of a role and print its secret once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCredentialCreate(cmd.Context(), s, credentialCreateOptions{req: req, idemKey: idemKey, asJSON: asJSON, connect: cf.connector(cmd)})
		},
	}
	f := create.Flags()
	f.StringVar(&req.Name, "name", "", "which pipeline or resource server uses the credential (required)")
	f.StringVar(&req.Role, "role", "introspect", "admin, issuer, reader or introspect")
	f.StringVar(&req.Owner, "owner", "", "issuer or reader only: restrict the credential to the tokens of this owner")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key to send (default: a new random key)")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return create
}

type credentialCreateOptions struct {
	req     wire.CreateCredentialRequest
	idemKey string
	asJSON  bool
	connect connectFunc
}

// runCredentialCreate creates the credential o.req and prints its secret once.
func runCredentialCreate(ctx context.Context, s *streams, o credentialCreateOptions) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	cred, err := c.CreateCredential(ctx, o.req, o.idemKey)
	if err != nil {
		return apiFailure(err)
	}
	if o.asJSON {
		return writeJSONOut(s.out, cred)
	}
	return printCredentialSecret(s, cred, "SECRET (shown only this once; store it now, it cannot be retrieved again):")
}

// printCredentialSecret prints cred and, after heading, its secret.
func printCredentialSecret(s *streams, cred wire.Credential, heading string) error {
	owner := cred.Owner
	if owner == "" {
		owner = "(any)"
	}
	_, err := fmt.Fprintf(s.out, "id:      %s\nname:    %s\nrole:    %s\nowner:   %s\ncreated: %s\n",
		cred.ID, cred.Name, cred.Role, owner, fmtTime(&cred.CreatedAt))
	if err == nil && cred.PreviousValidUntil != nil {
		_, err = fmt.Fprintf(s.out, "previous secret valid until: %s\n", fmtTime(cred.PreviousValidUntil))
	}
	if err == nil {
		_, err = fmt.Fprintf(s.out, "\n%s\n%s\n", heading, cred.Secret)
	}
	return err
}

func newCredentialListCommand(s *streams, cf *clientFlags) *cobra.Command {
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List credentials: id, name, role, owner restriction, created, rotated, revoked (never a secret)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCredentialList(cmd.Context(), s, credentialListOptions{asJSON: asJSON, connect: cf.connector(cmd)})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return list
}

type credentialListOptions struct {
	asJSON  bool
	connect connectFunc
}

// runCredentialList lists the credentials, never a secret.
func runCredentialList(ctx context.Context, s *streams, o credentialListOptions) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	creds, err := c.ListCredentials(ctx)
	if err != nil {
		return apiFailure(err)
	}
	if o.asJSON {
		if creds == nil {
			creds = []wire.Credential{}
		}
		return writeJSONOut(s.out, creds)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "ID\tNAME\tROLE\tOWNER\tCREATED\tROTATED\tREVOKED")
	for _, cr := range creds {
		owner := cr.Owner
		if owner == "" {
			owner = "-"
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cr.ID, cr.Name, cr.Role, owner,
			fmtTime(&cr.CreatedAt), fmtTime(cr.RotatedAt), fmtTime(cr.RevokedAt))
	}
	return tw.Flush()
}

func newCredentialRotateCommand(s *streams, cf *clientFlags) *cobra.Command {
	var req wire.RotateCredentialRequest
	var idemKey string
	var asJSON bool
	rotate := &cobra.Command{
		Use:   "rotate ID",
		Short: "Give a credential a new secret; the old one keeps working for --overlap, then is refused",
		Long: `Give a credential a new secret, printed once. The previous secret keeps working for --overlap
(default 1h), so clients switch to the new one without a failed request; then it is refused.
Works for every credential, the bootstrap admin credential and the one you call with included.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCredentialRotate(cmd.Context(), s, credentialRotateOptions{req: req, idemKey: idemKey, asJSON: asJSON, id: args[0], connect: cf.connector(cmd)})
		},
	}
	f := rotate.Flags()
	f.StringVar(&req.Overlap, "overlap", "1h", "how long the previous secret keeps working (0s to 30d)")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key to send (default: a new random key); reuse it to retry safely")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return rotate
}

type credentialRotateOptions struct {
	id      string
	req     wire.RotateCredentialRequest
	idemKey string
	asJSON  bool
	connect connectFunc
}

// runCredentialRotate gives the credential o.id a new secret and prints it once.
func runCredentialRotate(ctx context.Context, s *streams, o credentialRotateOptions) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	cred, err := c.RotateCredential(ctx, o.id, o.req, o.idemKey)
	if err != nil {
		return apiFailure(err)
	}
	if o.asJSON {
		return writeJSONOut(s.out, cred)
	}
	return printCredentialSecret(s, cred, "NEW SECRET (shown only this once; switch your clients to it before the previous one stops working):")
}

func newCredentialRevokeCommand(s *streams, cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a credential at once: its next request is refused with 401",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCredentialRevoke(cmd.Context(), s, credentialRevokeOptions{id: args[0], connect: cf.connector(cmd)})
		},
	}
}

type credentialRevokeOptions struct {
	id      string
	connect connectFunc
}

// runCredentialRevoke revokes the credential o.id.
func runCredentialRevoke(ctx context.Context, s *streams, o credentialRevokeOptions) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	cred, err := c.RevokeCredential(ctx, o.id)
	if err != nil {
		return apiFailure(err)
	}
	_, err = fmt.Fprintf(s.out, "revoked credential %s (%s)\n", cred.ID, cred.Name)
	return err
}
