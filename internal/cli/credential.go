package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
)

// newCredentialCommand is "tokenguard credential": credentials for resource servers.
func newCredentialCommand(s *streams) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Create API credentials for resource servers (introspection only)",
	}
	cf.register(cmd)
	var req client.CreateCredentialRequest
	var idemKey string
	var asJSON bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an introspect-only credential and print its secret once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			cred, err := c.CreateCredential(cmd.Context(), req, idemKey)
			if err != nil {
				return apiFailure(err)
			}
			if asJSON {
				return writeJSONOut(s.out, cred)
			}
			_, err = fmt.Fprintf(s.out, "id:      %s\nname:    %s\nrights:  %s\ncreated: %s\n\nSECRET (shown only this once; store it now, it cannot be retrieved again):\n%s\n",
				cred.ID, cred.Name, strings.Join(cred.Rights, ", "), fmtTime(&cred.CreatedAt), cred.Secret)
			return err
		},
	}
	f := create.Flags()
	f.StringVar(&req.Name, "name", "", "which resource server uses the credential (required)")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key to send (default: a new random key)")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	cmd.AddCommand(create, newCredentialRevokeCommand(s, &cf))
	return cmd
}

func newCredentialRevokeCommand(s *streams, cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a credential at once: its next request is refused with 401",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			cred, err := c.RevokeCredential(cmd.Context(), args[0])
			if err != nil {
				return apiFailure(err)
			}
			_, err = fmt.Fprintf(s.out, "revoked credential %s (%s)\n", cred.ID, cred.Name)
			return err
		},
	}
}
