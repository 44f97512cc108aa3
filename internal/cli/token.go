package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

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
	var req wire.CreateTokenRequest
	var labels []string
	var noPersonal, asJSON bool
	var interval, overlap, idemKey string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print its secret once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTokenCreate(cmd.Context(), s, tokenCreateOptions{req: req, labels: labels, noPersonal: noPersonal, asJSON: asJSON, interval: interval, overlap: overlap, idemKey: idemKey, connect: cf.connector(cmd)})
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

type tokenCreateOptions struct {
	req        wire.CreateTokenRequest
	labels     []string
	noPersonal bool
	asJSON     bool
	interval   string
	overlap    string
	idemKey    string
	connect    connectFunc
}

// runTokenCreate creates a token from o.req and the flags around it, and prints it with its secret.
func runTokenCreate(ctx context.Context, s *streams, o tokenCreateOptions) error {
	if o.noPersonal && len(o.req.DataCategories) > 0 {
		return withCode(ExitUsage, errors.New("--no-personal-data and --data-category contradict each other: give one"))
	}
	if !o.noPersonal && len(o.req.DataCategories) == 0 {
		return withCode(ExitUsage, errors.New("declare the personal data the token reaches: --data-category CATEGORY (repeatable), or --no-personal-data"))
	}
	if o.noPersonal {
		o.req.DataCategories = []string{}
	}
	if len(o.labels) > 0 {
		o.req.Labels = map[string]string{}
		for _, kv := range o.labels {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return withCode(ExitUsage, fmt.Errorf("--label %q: use key=value", kv))
			}
			o.req.Labels[k] = v
		}
	}
	if o.interval != "" || o.overlap != "" {
		o.req.Rotation = &wire.Rotation{Interval: o.interval, Overlap: o.overlap}
	}
	c, err := o.connect()
	if err != nil {
		return err
	}
	tok, err := c.CreateToken(ctx, o.req, o.idemKey)
	if err != nil {
		return apiFailure(err)
	}
	return printToken(s.out, tok, o.asJSON)
}

func newTokenListCommand(s *streams, cf *clientFlags) *cobra.Command {
	var opts wire.ListTokensOptions
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens, optionally filtered",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTokenList(cmd.Context(), s, tokenListOptions{opts: opts, all: all, asJSON: asJSON, connect: cf.connector(cmd)})
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

type tokenListOptions struct {
	opts    wire.ListTokensOptions
	all     bool
	asJSON  bool
	connect connectFunc
}

// runTokenList lists the tokens o.opts selects: one page, or every page with o.all.
func runTokenList(ctx context.Context, s *streams, o tokenListOptions) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	var out wire.TokenList
	for {
		page, err := c.ListTokens(ctx, o.opts)
		if err != nil {
			return apiFailure(err)
		}
		out.Tokens = append(out.Tokens, page.Tokens...)
		out.NextPageToken = page.NextPageToken
		if !o.all || page.NextPageToken == "" {
			break
		}
		o.opts.PageToken = page.NextPageToken
	}
	if out.Tokens == nil {
		out.Tokens = []wire.Token{}
	}
	if o.asJSON {
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
}

func newTokenShowCommand(s *streams, cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenShow(cmd.Context(), s, tokenShowOptions{asJSON: asJSON, id: args[0], connect: cf.connector(cmd)})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

type tokenShowOptions struct {
	id      string
	asJSON  bool
	connect connectFunc
}

// runTokenShow prints the token o.id.
func runTokenShow(ctx context.Context, s *streams, o tokenShowOptions) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	tok, err := c.GetToken(ctx, o.id)
	if err != nil {
		return apiFailure(err)
	}
	return printToken(s.out, tok, o.asJSON)
}

func newTokenRotateCommand(s *streams, cf *clientFlags) *cobra.Command {
	var req wire.RotateRequest
	var idemKey string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate ID",
		Short: "Rotate a token's secret and print the new secret once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenRotate(cmd.Context(), s, tokenRotateOptions{req: req, idemKey: idemKey, asJSON: asJSON, id: args[0], connect: cf.connector(cmd)})
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Overlap, "overlap", "", "how long the previous secret keeps working (default: the token's rotation overlap)")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key to send (default: a new random key)")
	f.StringVar(&req.Recipient, "recipient", "", recipientFlagHelp)
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

type tokenRotateOptions struct {
	id      string
	req     wire.RotateRequest
	idemKey string
	asJSON  bool
	connect connectFunc
}

// runTokenRotate rotates the token o.id and prints it with its new secret.
func runTokenRotate(ctx context.Context, s *streams, o tokenRotateOptions) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	tok, err := c.RotateToken(ctx, o.id, o.req, o.idemKey)
	if err != nil {
		return apiFailure(err)
	}
	return printToken(s.out, tok, o.asJSON)
}

// recipientFlagHelp is the help of --recipient on token create and token rotate.
const recipientFlagHelp = "age X25519 public key (age1…, from age-keygen): the service seals the secret to it and prints only the sealed file; decrypt with age -d -i key.txt"

func newTokenRenewCommand(s *streams, cf *clientFlags) *cobra.Command {
	var req wire.RenewRequest
	var idemKey string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "renew ID",
		Short: "Move a token's expiry later, with a reason and a reviewer other than the owner",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenRenew(cmd.Context(), s, tokenRenewOptions{req: req, idemKey: idemKey, asJSON: asJSON, id: args[0], connect: cf.connector(cmd)})
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

type tokenRenewOptions struct {
	id      string
	req     wire.RenewRequest
	idemKey string
	asJSON  bool
	connect connectFunc
}

// runTokenRenew renews the token o.id and prints it.
func runTokenRenew(ctx context.Context, s *streams, o tokenRenewOptions) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	tok, err := c.RenewToken(ctx, o.id, o.req, o.idemKey)
	if err != nil {
		return apiFailure(err)
	}
	return printToken(s.out, tok, o.asJSON)
}

func newTokenRevokeCommand(s *streams, cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once (revoking a revoked token succeeds)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenRevoke(cmd.Context(), s, tokenRevokeOptions{asJSON: asJSON, id: args[0], connect: cf.connector(cmd)})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

type tokenRevokeOptions struct {
	id      string
	asJSON  bool
	connect connectFunc
}

// runTokenRevoke revokes the token o.id and prints it.
func runTokenRevoke(ctx context.Context, s *streams, o tokenRevokeOptions) error {
	c, err := o.connect()
	if err != nil {
		return err
	}
	tok, err := c.RevokeToken(ctx, o.id)
	if err != nil {
		return apiFailure(err)
	}
	return printToken(s.out, tok, o.asJSON)
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
			return runTokenIntrospect(cmd.Context(), s, tokenIntrospectOptions{asJSON: asJSON, connect: cf.connector(cmd)})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the introspection answer as JSON")
	return cmd
}

type tokenIntrospectOptions struct {
	asJSON  bool
	connect connectFunc
}

// runTokenIntrospect introspects the secret on the first line of standard input; exit 1 when it is not active.
func runTokenIntrospect(ctx context.Context, s *streams, o tokenIntrospectOptions) error {
	line, err := bufio.NewReader(io.LimitReader(s.in, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return withCode(ExitUsage, fmt.Errorf("reading the secret from standard input: %w", err))
	}
	secret := strings.TrimSpace(line)
	if secret == "" {
		return withCode(ExitUsage, errors.New("no secret on standard input: pipe the secret in, e.g. tokenguard token introspect < secret.txt"))
	}
	c, err := o.connect()
	if err != nil {
		return err
	}
	in, err := c.Introspect(ctx, secret)
	if err != nil {
		return apiFailure(err)
	}
	if o.asJSON {
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
}

// printToken prints a token as text (or JSON). A secret, present only right after create or
// rotate, is printed once with a label saying so.
func printToken(w io.Writer, t wire.Token, asJSON bool) error {
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
