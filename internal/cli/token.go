package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
)

// clientFlags are the flags of every command that talks to a running service.
type clientFlags struct {
	endpoint, token, caCert string
	insecureHTTP            bool
}

func (f *clientFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.endpoint, "endpoint", "http://127.0.0.1:8790", "token service URL (env TOKENGUARD_ENDPOINT)")
	pf.StringVar(&f.token, "token", "", "API credential; prefer the environment variable, flags show in process lists (env TOKENGUARD_TOKEN)")
	pf.StringVar(&f.caCert, "ca-cert", "", "PEM file of a CA to trust for the endpoint (env TOKENGUARD_CA_CERT)")
	pf.BoolVar(&f.insecureHTTP, "insecure-http", false, "allow plain HTTP to a non-loopback endpoint (env TOKENGUARD_INSECURE_HTTP)")
}

// newClient builds the API client from the flags, falling back to the environment.
func (f *clientFlags) newClient(cmd *cobra.Command) (*client.Client, error) {
	if err := applyEnv(cmd, map[string]string{
		"endpoint": "TOKENGUARD_ENDPOINT", "token": "TOKENGUARD_TOKEN", "ca-cert": "TOKENGUARD_CA_CERT",
		"insecure-http": "TOKENGUARD_INSECURE_HTTP",
	}); err != nil {
		return nil, err
	}
	if f.token == "" {
		return nil, withCode(ExitUsage, errors.New("no API credential: set TOKENGUARD_TOKEN (or --token)"))
	}
	cfg := client.Config{Endpoint: f.endpoint, Token: f.token, InsecureHTTP: f.insecureHTTP, UserAgent: "tokenguard-cli/" + Version}
	if f.caCert != "" {
		pem, err := os.ReadFile(f.caCert)
		if err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("--ca-cert: %w", err))
		}
		cfg.CACertPEM = string(pem)
	}
	c, err := client.New(cfg)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return c, nil
}

// apiFailure gives an API error its exit code: a refused request (4xx) is an input error,
// anything else (5xx, network) a failure.
func apiFailure(err error) error {
	var re *client.ResponseError
	if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
		return withCode(ExitUsage, err)
	}
	return withCode(ExitFindings, err)
}

func newTokenCommand(s *streams) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list, show, rotate, renew, revoke and introspect tokens on a running service",
	}
	cf.register(cmd)
	cmd.AddCommand(
		newTokenCreateCommand(s, &cf),
		newTokenListCommand(s, &cf),
		newTokenShowCommand(s, &cf),
		newTokenRotateCommand(s, &cf),
		newTokenRenewCommand(s, &cf),
		newTokenRevokeCommand(s, &cf),
		newTokenIntrospectCommand(s, &cf),
	)
	return cmd
}

func newTokenCreateCommand(s *streams, cf *clientFlags) *cobra.Command {
	var req client.CreateTokenRequest
	var labels []string
	var noPersonal, asJSON bool
	var interval, overlap, idemKey string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print its secret once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if noPersonal && len(req.DataCategories) > 0 {
				return withCode(ExitUsage, errors.New("--no-personal-data and --data-category contradict each other: give one"))
			}
			if !noPersonal && len(req.DataCategories) == 0 {
				return withCode(ExitUsage, errors.New("declare the personal data the token reaches: --data-category CATEGORY (repeatable), or --no-personal-data"))
			}
			if noPersonal {
				req.DataCategories = []string{}
			}
			if len(labels) > 0 {
				req.Labels = map[string]string{}
				for _, kv := range labels {
					k, v, ok := strings.Cut(kv, "=")
					if !ok {
						return withCode(ExitUsage, fmt.Errorf("--label %q: use key=value", kv))
					}
					req.Labels[k] = v
				}
			}
			if interval != "" || overlap != "" {
				req.Rotation = &client.Rotation{Interval: interval, Overlap: overlap}
			}
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			tok, err := c.CreateToken(cmd.Context(), req, idemKey)
			if err != nil {
				return apiFailure(err)
			}
			return printToken(s.out, tok, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "token name, unique per owner (required)")
	f.StringVar(&req.Owner, "owner", "", "accountable team or person (required)")
	f.StringVar(&req.Purpose, "purpose", "", "one specific sentence: what the token is for (required)")
	f.StringArrayVar(&req.Scopes, "scope", nil, "scope the token needs (repeatable, at least one)")
	f.StringArrayVar(&req.DataCategories, "data-category", nil, "CPRA data category the token reaches (repeatable)")
	f.BoolVar(&noPersonal, "no-personal-data", false, "declare that the token reaches no personal information")
	f.StringArrayVar(&req.DataSubjects, "subject", nil, "data subject the token acts for, e.g. customer:4411 (repeatable)")
	f.StringArrayVar(&req.Audiences, "audience", nil, "system the token is valid for (repeatable)")
	f.StringArrayVar(&labels, "label", nil, "label key=value (repeatable)")
	f.StringVar(&req.TTL, "ttl", "", "lifetime, e.g. 30d or 12h (default: the service's default)")
	f.StringVar(&interval, "rotation-interval", "", "rotate when this much time has passed since the last rotation, e.g. 7d")
	f.StringVar(&overlap, "rotation-overlap", "", "how long the previous secret keeps working after a rotation, e.g. 1h")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key to send (default: a new random key)")
	f.StringVar(&req.Recipient, "recipient", "", recipientFlagHelp)
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func newTokenListCommand(s *streams, cf *clientFlags) *cobra.Command {
	var opts client.ListTokensOptions
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens, optionally filtered",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			var out client.TokenList
			for {
				page, err := c.ListTokens(cmd.Context(), opts)
				if err != nil {
					return apiFailure(err)
				}
				out.Tokens = append(out.Tokens, page.Tokens...)
				out.NextPageToken = page.NextPageToken
				if !all || page.NextPageToken == "" {
					break
				}
				opts.PageToken = page.NextPageToken
			}
			if out.Tokens == nil {
				out.Tokens = []client.Token{}
			}
			if asJSON {
				return writeJSONOut(s.out, out)
			}
			var rows bytes.Buffer
			fmt.Fprintln(&rows, "ID\tNAME\tSTATUS\tOWNER\tEXPIRES\tLAST USED")
			for _, t := range out.Tokens {
				fmt.Fprintf(&rows, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Status, t.Owner, fmtTime(&t.ExpiresAt), fmtTime(t.LastUsedAt))
			}
			if err := writeTable(s.out, &rows); err != nil {
				return err
			}
			if out.NextPageToken != "" {
				// A hint after the listing was written: if stderr fails there is nowhere left to say so.
				_, _ = fmt.Fprintf(s.err, "more tokens: run again with --page-token %s (or --all)\n", out.NextPageToken)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Owner, "owner", "", "only tokens of this owner")
	f.StringVar(&opts.Status, "status", "", "only tokens with this status: active, expired or revoked")
	f.StringVar(&opts.DataCategory, "data-category", "", "only tokens reaching this CPRA data category")
	f.StringVar(&opts.Subject, "subject", "", "only tokens bound to this data subject")
	f.StringVar(&opts.UnusedFor, "unused-for", "", "only tokens not used for at least this long, e.g. 30d")
	f.IntVar(&opts.Limit, "limit", 0, "page size (default 100, at most 1000)")
	f.StringVar(&opts.PageToken, "page-token", "", "page to read, from a previous listing")
	f.BoolVar(&all, "all", false, "follow every page")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func newTokenShowCommand(s *streams, cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			tok, err := c.GetToken(cmd.Context(), args[0])
			if err != nil {
				return apiFailure(err)
			}
			return printToken(s.out, tok, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func newTokenRotateCommand(s *streams, cf *clientFlags) *cobra.Command {
	var req client.RotateRequest
	var idemKey string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate ID",
		Short: "Rotate a token's secret and print the new secret once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			tok, err := c.RotateToken(cmd.Context(), args[0], req, idemKey)
			if err != nil {
				return apiFailure(err)
			}
			return printToken(s.out, tok, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Overlap, "overlap", "", "how long the previous secret keeps working (default: the token's rotation overlap)")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key to send (default: a new random key)")
	f.StringVar(&req.Recipient, "recipient", "", recipientFlagHelp)
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

// recipientFlagHelp is the help of --recipient on token create and token rotate.
const recipientFlagHelp = "age X25519 public key (age1…, from age-keygen): the service seals the secret to it and prints only the sealed file; decrypt with age -d -i key.txt"

func newTokenRenewCommand(s *streams, cf *clientFlags) *cobra.Command {
	var req client.RenewRequest
	var idemKey string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "renew ID",
		Short: "Move a token's expiry later, with a reason and a reviewer other than the owner",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			tok, err := c.RenewToken(cmd.Context(), args[0], req, idemKey)
			if err != nil {
				return apiFailure(err)
			}
			return printToken(s.out, tok, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.TTL, "ttl", "", "new lifetime counted from now (default: the service's default)")
	f.StringVar(&req.Reason, "reason", "", "why the token still needs to exist (required)")
	f.StringVar(&req.ReviewedBy, "reviewed-by", "", "who reviewed the renewal; not the owner (required)")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key to send (default: a new random key)")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func newTokenRevokeCommand(s *streams, cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once (revoking a revoked token succeeds)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			tok, err := c.RevokeToken(cmd.Context(), args[0])
			if err != nil {
				return apiFailure(err)
			}
			return printToken(s.out, tok, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func newTokenIntrospectCommand(s *streams, cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "introspect",
		Short: "Ask whether the secret read from standard input is active (exit 1 when it is not)",
		Long: `Read a secret from the first line of standard input and introspect it.

The secret is read from standard input, never from an argument, so it does not show in
process lists or shell history. Exit 0 when active, 1 when not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := bufio.NewReader(io.LimitReader(s.in, 4096)).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return withCode(ExitUsage, fmt.Errorf("reading the secret from standard input: %w", err))
			}
			secret := strings.TrimSpace(line)
			if secret == "" {
				return withCode(ExitUsage, errors.New("no secret on standard input: pipe the secret in, e.g. tokenguard token introspect < secret.txt"))
			}
			c, err := cf.newClient(cmd)
			if err != nil {
				return err
			}
			in, err := c.Introspect(cmd.Context(), secret)
			if err != nil {
				return apiFailure(err)
			}
			if asJSON {
				if err := writeJSONOut(s.out, in); err != nil {
					return err
				}
			} else if in.Active {
				if _, err := fmt.Fprintf(s.out, "active: true\ntoken id: %s\nscope: %s\nexpires: %s\n", in.TokenID, in.Scope,
					time.Unix(in.ExpiresAt, 0).UTC().Format(time.RFC3339)); err != nil {
					return err
				}
			} else if _, err := fmt.Fprintln(s.out, "active: false"); err != nil {
				return err
			}
			if !in.Active {
				return withCode(ExitFindings, errors.New(""))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the introspection answer as JSON")
	return cmd
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeTable writes rows, lines of tab-separated cells, to w as aligned columns in one piece
// and returns the write error. Printing into a bytes.Buffer cannot fail, so callers fill rows
// freely and check only this write.
func writeTable(w io.Writer, rows *bytes.Buffer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if _, err := tw.Write(rows.Bytes()); err != nil {
		return err
	}
	return tw.Flush()
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func joinOrDash(v []string) string {
	if len(v) == 0 {
		return "-"
	}
	return strings.Join(v, ", ")
}

// printToken prints a token as text (or JSON). A secret, present only right after create or
// rotate, is printed once with a label saying so.
func printToken(w io.Writer, t client.Token, asJSON bool) error {
	if asJSON {
		return writeJSONOut(w, t)
	}
	var rows bytes.Buffer
	row := func(k, v string) { fmt.Fprintf(&rows, "%s:\t%s\n", k, v) }
	row("id", t.ID)
	row("name", t.Name)
	row("status", t.Status)
	row("owner", t.Owner)
	row("purpose", t.Purpose)
	row("scopes", joinOrDash(t.Scopes))
	cats := "none (reaches no personal information)"
	if len(t.DataCategories) > 0 {
		cats = strings.Join(t.DataCategories, ", ")
	}
	row("data categories", cats)
	row("data subjects", joinOrDash(t.DataSubjects))
	row("audiences", joinOrDash(t.Audiences))
	var labels []string
	for k, v := range t.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	row("labels", joinOrDash(labels))
	rot := "-"
	if t.Rotation != nil {
		rot = "interval " + dashIfEmpty(t.Rotation.Interval) + ", overlap " + dashIfEmpty(t.Rotation.Overlap)
	}
	row("rotation", rot)
	row("created", fmtTime(&t.CreatedAt))
	row("expires", fmtTime(&t.ExpiresAt))
	row("rotated", fmtTime(t.RotatedAt))
	if t.PreviousValidTil != nil {
		row("previous secret valid until", fmtTime(t.PreviousValidTil))
	}
	row("revoked", fmtTime(t.RevokedAt))
	row("last used", fmtTime(t.LastUsedAt))
	row("secret version", fmt.Sprint(t.SecretVersion))
	row("fingerprint", t.Fingerprint)
	if err := writeTable(w, &rows); err != nil {
		return err
	}
	if t.Secret != "" {
		_, err := fmt.Fprintf(w, "\nSECRET (shown only this once; store it now, it cannot be retrieved again):\n%s\n", t.Secret)
		return err
	}
	if t.SealedSecret != "" {
		_, err := fmt.Fprintf(w, "\nSEALED SECRET (shown only this once; save it to a file and decrypt with age -d -i key.txt):\n%s", t.SealedSecret)
		return err
	}
	return nil
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
