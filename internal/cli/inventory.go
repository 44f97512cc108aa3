package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/spf13/cobra"
	"github.com/zclconf/go-cty/cty"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// tokenResourceType is the Terraform resource type of a tokenguard token.
const tokenResourceType = "tokenguard_api_token"

// purposeWidth is how many characters of a purpose the inventory table shows.
const purposeWidth = 40

// Values of the MANAGED column.
const (
	managedYes     = "yes"
	managedNo      = "no"
	managedUnknown = "unknown" // no Terraform state given
)

// inventoryToken is one row of the inventory.
type inventoryToken struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	Owner            string         `json:"owner"`
	Purpose          string         `json:"purpose"`
	DataCategories   []string       `json:"data_categories"`
	Status           string         `json:"status"`
	ExpiresAt        time.Time      `json:"expires_at"`
	LastUsedAt       *time.Time     `json:"last_used_at,omitempty"`
	Rotation         *wire.Rotation `json:"rotation,omitempty"`
	Managed          string         `json:"managed"`                     // yes, no or unknown
	TerraformAddress string         `json:"terraform_address,omitempty"` // when managed
	TerraformRoot    string         `json:"terraform_root,omitempty"`    // when managed: the --state or --dir that manages it
}

// stateToken is a tokenguard_api_token instance found in Terraform state.
type stateToken struct {
	Address string `json:"address"`
	ID      string `json:"id"`
	Root    string `json:"root,omitempty"` // the --state or --dir it was read from
}

// inventory is the --json output of tokenguard inventory.
type inventory struct {
	Tokens []inventoryToken `json:"tokens"`
	// TerraformState names where the state came from; empty when none was given.
	TerraformState string `json:"terraform_state,omitempty"`
	// MissingFromService lists state entries whose token the service does not know (only
	// computed without filters, when the listing is the whole service).
	MissingFromService []stateToken `json:"missing_from_service,omitempty"`
}

// terraformState is what inventory knows about the Terraform state of one or more roots.
type terraformState struct {
	source    string                // the roots read, joined with ", "
	byID      map[string]stateToken // token id -> where it is managed (the first root that names it)
	entries   []stateToken
	rootNames map[string]bool // names of tokenguard_api_token resources in the root modules
	// twice lists the tokens that more than one root manages: one token in two states.
	twice []string
}

type inventoryOptions struct {
	list             wire.ListTokensOptions // the filters: --unused-for, --status, --owner
	statePaths, dirs []string
	importsPath      string
	configPath       string // --generate-config-out: resource blocks for the imported tokens
	asJSON, force    bool
	connect          connectFunc
}

func newInventoryCommand(s *streams) *cobra.Command {
	var (
		cf clientFlags
		o  inventoryOptions
	)
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "List every token with its owner, purpose, data categories, status, expiry, last use and whether Terraform manages it",
		Long: `List every token of the service (all pages) with its owner, purpose, data categories,
status, expiry, last use, and whether Terraform manages it.

Terraform management is read from state: --state FILE with the output of
"terraform show -json", or --dir DIR to run "terraform show -json" there with the terraform
found on PATH; both repeat, one per root module, and a token is managed when any root holds
it. Without either, MANAGED is "unknown". terraform show -json includes sensitive
values, token secrets among them: keep a --state file private, or prefer --dir, which keeps
the output in memory. Only resource addresses and ids are read from it.

--generate-imports FILE writes an import block for every active token Terraform does not
manage yet. Revoked and expired tokens are listed in the file as comments, not imported:
Terraform would plan to replace them.

--generate-config-out FILE (with --generate-imports) writes the resource block of every
imported token beside them, with the token's data_subjects and a ttl spelling its lifetime, so
that terraform plan imports each token and changes nothing. Use it rather than Terraform's own
"terraform plan -generate-config-out": data_subjects is sensitive, and Terraform writes a
sensitive attribute as null, which the provider refuses for a token with data subjects (the
plan would replace it with a token bound to none). Like Terraform's flag it never overwrites
a file. The file holds the tokens' data subjects, which are personal information: review it
like the rest of your configuration.`,
		Example: `  tokenguard inventory --unused-for 30d
  tokenguard inventory --dir . --generate-imports imports.tf --generate-config-out tokens.tf
  terraform show -json > state.json && tokenguard inventory --state state.json --generate-imports imports.tf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.connect = cf.connector(cmd)
			return runInventory(cmd.Context(), s, o)
		},
	}
	cf.register(cmd)
	f := cmd.Flags()
	f.StringArrayVar(&o.statePaths, "state", nil, "Terraform state as JSON, from terraform show -json (repeatable: one per root)")
	f.StringArrayVar(&o.dirs, "dir", nil, "Terraform working directory: run terraform show -json there, terraform on PATH (repeatable: one per root)")
	f.StringVar(&o.list.UnusedFor, "unused-for", "", "only tokens not used for at least this long, e.g. 30d")
	f.StringVar(&o.list.Status, "status", "", "only tokens with this status: active, expired or revoked")
	f.StringVar(&o.list.Owner, "owner", "", "only tokens of this owner")
	f.StringVar(&o.importsPath, "generate-imports", "", "write import blocks for the active tokens Terraform does not manage to this file")
	f.StringVar(&o.configPath, "generate-config-out", "", "with --generate-imports: write the resource blocks of the imported tokens to this new file")
	f.BoolVar(&o.force, "force", false, "overwrite the --generate-imports file if it exists (never the --generate-config-out file)")
	f.BoolVar(&o.asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// runInventory lists the service's tokens joined with the Terraform state of o, writes the
// --generate-imports file, and prints the inventory with its warnings.
func runInventory(ctx context.Context, s *streams, o inventoryOptions) error {
	if o.importsPath != "" && len(o.statePaths) == 0 && len(o.dirs) == 0 {
		return withCode(ExitUsage, errors.New("--generate-imports needs the Terraform state (--state FILE or --dir DIR): without it every token would be imported, also those Terraform already manages"))
	}
	if o.importsPath == "" && o.force {
		return withCode(ExitUsage, errors.New("--force only applies to --generate-imports"))
	}
	if o.configPath != "" {
		switch {
		case o.importsPath == "":
			return withCode(ExitUsage, errors.New("--generate-config-out needs --generate-imports: it writes the resource blocks that those import blocks import into"))
		case samePath(o.configPath, o.importsPath):
			return withCode(ExitUsage, errors.New("--generate-config-out and --generate-imports name the same file: give each its own, for example imports.tf and tokens.tf"))
		}
		if _, err := os.Stat(o.configPath); err == nil {
			return withCode(ExitUsage, fmt.Errorf("--generate-config-out: %s already exists, and it is never overwritten: choose a new file", o.configPath))
		}
	}
	if o.list.UnusedFor != "" {
		if _, err := token.ParseDuration(o.list.UnusedFor); err != nil {
			return withCode(ExitUsage, fmt.Errorf("--unused-for: %w", err))
		}
	}
	state, err := readStates(ctx, o.statePaths, o.dirs)
	if err != nil {
		return err
	}
	if o.importsPath != "" && !o.force {
		// Fail before any network call; the file is created exclusively later anyway.
		if _, err := os.Stat(o.importsPath); err == nil {
			return withCode(ExitUsage, fmt.Errorf("--generate-imports: %s already exists: pass --force to overwrite it, or choose another file", o.importsPath))
		}
	}

	c, err := o.connect()
	if err != nil {
		return err
	}
	tokens, err := listAllTokens(ctx, c, o.list)
	if err != nil {
		return err
	}
	inv := buildInventory(tokens, state)
	filtered := o.list != (wire.ListTokensOptions{})
	if state != nil && !filtered {
		inv.MissingFromService = missingFromService(tokens, state)
	}

	if o.importsPath != "" {
		n, skipped, err := writeImports(o.importsPath, o.configPath, o.force, tokens, state)
		if err != nil {
			return withCode(ExitUsage, err)
		}
		note := fmt.Sprintf("wrote %d import block(s) to %s", n, o.importsPath)
		if o.configPath != "" {
			note += fmt.Sprintf(" and their resource blocks to %s", o.configPath)
		}
		if skipped > 0 {
			note += fmt.Sprintf(" (%d revoked or expired token(s) listed as comments, not imported)", skipped)
		}
		next := "terraform plan (it should import every token and change nothing), then terraform apply"
		if o.configPath == "" {
			next = "write their resource blocks with --generate-config-out FILE (Terraform's -generate-config-out writes data_subjects as null, which the provider refuses for a token with data subjects)"
		}
		// A note on stderr about a file already written: if stderr fails there is nowhere to say so.
		_, _ = fmt.Fprintf(s.err, "%s; next: %s\n", note, next)
	}
	if state != nil {
		for _, id := range state.twice {
			// Warnings on stderr: if stderr fails there is nowhere to say so.
			_, _ = fmt.Fprintf(s.err, "warning: token %s is managed by more than one root (%s): one token in two states rotates and revokes under both; remove it from all but one with terraform state rm\n",
				id, strings.Join(state.rootsOf(id), ", "))
		}
	}
	if o.asJSON {
		return writeJSONOut(s.out, inv)
	}
	if err := printInventory(s.out, inv); err != nil {
		return err
	}
	for _, m := range inv.MissingFromService {
		// Warnings on stderr after the inventory was written: if stderr fails there is nowhere to say so.
		_, _ = fmt.Fprintf(s.err, "warning: %s holds token %s, which this service does not list (state of %s): check --endpoint, or remove it from state with terraform state rm %s\n",
			m.Address, m.ID, m.Root, m.Address)
	}
	return nil
}

// readStates reads the Terraform state of every --state file and --dir, merged; nil when
// neither is given.
func readStates(ctx context.Context, statePaths, dirs []string) (*terraformState, error) {
	var roots []*terraformState
	for _, p := range statePaths {
		st, err := readStateFile(p)
		if err != nil {
			return nil, withCode(ExitUsage, err)
		}
		roots = append(roots, st)
	}
	for _, d := range dirs {
		st, err := readStateDir(ctx, d)
		if err != nil {
			return nil, withCode(ExitUsage, err)
		}
		roots = append(roots, st)
	}
	return mergeStates(roots), nil
}

// listAllTokens pages through GET /v1/tokens with opts (PageToken is overwritten).
func listAllTokens(ctx context.Context, c *client.Client, opts wire.ListTokensOptions) ([]wire.Token, error) {
	out := []wire.Token{}
	opts.PageToken = ""
	for {
		page, err := c.ListTokens(ctx, opts)
		if err != nil {
			return nil, apiFailure(err)
		}
		out = append(out, page.Tokens...)
		if page.NextPageToken == "" || page.NextPageToken == opts.PageToken {
			return out, nil
		}
		opts.PageToken = page.NextPageToken
	}
}

// buildInventory joins the service's tokens with the state, in the service's order.
func buildInventory(tokens []wire.Token, state *terraformState) inventory {
	inv := inventory{Tokens: make([]inventoryToken, 0, len(tokens))}
	if state != nil {
		inv.TerraformState = state.source
	}
	for _, t := range tokens {
		row := inventoryToken{
			ID: t.ID, Name: t.Name, Owner: t.Owner, Purpose: t.Purpose, DataCategories: t.DataCategories,
			Status: t.Status, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, Rotation: t.Rotation, Managed: managedUnknown,
		}
		if row.DataCategories == nil {
			row.DataCategories = []string{}
		}
		if state != nil {
			row.Managed = managedNo
			if e, ok := state.byID[t.ID]; ok {
				row.Managed, row.TerraformAddress, row.TerraformRoot = managedYes, e.Address, e.Root
			}
		}
		inv.Tokens = append(inv.Tokens, row)
	}
	return inv
}

func missingFromService(tokens []wire.Token, state *terraformState) []stateToken {
	known := make(map[string]bool, len(tokens))
	for _, t := range tokens {
		known[t.ID] = true
	}
	var out []stateToken
	for _, e := range state.entries {
		if !known[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

func printInventory(w io.Writer, inv inventory) error {
	var rows bytes.Buffer
	fmt.Fprintln(&rows, "ID\tNAME\tOWNER\tSTATUS\tEXPIRES\tLAST USED\tCATEGORIES\tMANAGED\tPURPOSE")
	for _, t := range inv.Tokens {
		cats := "none"
		if len(t.DataCategories) > 0 {
			cats = strings.Join(t.DataCategories, ",")
		}
		fmt.Fprintf(&rows, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(t.ID), cell(t.Name), cell(t.Owner), cell(t.Status),
			fmtTime(&t.ExpiresAt), fmtTime(t.LastUsedAt), cell(cats), t.Managed, truncate(cell(t.Purpose), purposeWidth))
	}
	return writeTable(w, &rows)
}

// cell keeps service text on one table cell: control characters (tabs, line breaks) become spaces.
func cell(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncate shortens s to at most n characters, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// readStateFile reads the output of terraform show -json from path.
func readStateFile(path string) (*terraformState, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // G304: the state file the operator names with --state
	if err != nil {
		return nil, fmt.Errorf("--state: %w", err)
	}
	return parseState(raw, path)
}

// readStateDir runs terraform show -json in dir with the terraform found on PATH.
func readStateDir(ctx context.Context, dir string) (*terraformState, error) {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("--dir %s is not a directory: give the Terraform working directory", dir)
	}
	tf, err := exec.LookPath("terraform")
	if err != nil {
		return nil, errors.New("--dir needs the terraform CLI, which is not on PATH: install Terraform, or run terraform show -json > state.json yourself and pass --state state.json")
	}
	var stdout, stderr bytes.Buffer
	run := exec.CommandContext(ctx, tf, "show", "-json", "-no-color") //nolint:gosec // G204: the terraform found on PATH, with fixed arguments
	run.Dir = dir
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("terraform show -json in %s failed (run terraform init there first, or pass --state): %s", dir, msg)
	}
	return parseState(stdout.Bytes(), dir+" (terraform show -json)")
}

// parseState decodes terraform show -json output and collects the managed tokenguard tokens
// of every module.
func parseState(raw []byte, source string) (*terraformState, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%s is empty: expected the output of terraform show -json", source)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%s is not JSON from terraform show -json: %w", source, err)
	}
	if _, ok := probe["planned_values"]; ok {
		return nil, fmt.Errorf("%s is a plan, not state: run terraform show -json without a plan file and pass its output", source)
	}
	if _, ok := probe["format_version"]; !ok {
		return nil, fmt.Errorf("%s has no format_version: it is not the output of terraform show -json (a raw terraform.tfstate is not accepted; run terraform show -json)", source)
	}
	var st tfjson.State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	ts := &terraformState{source: source, byID: map[string]stateToken{}, rootNames: map[string]bool{}}
	if st.Values != nil && st.Values.RootModule != nil {
		var walk func(m *tfjson.StateModule, root bool)
		walk = func(m *tfjson.StateModule, root bool) {
			for _, r := range m.Resources {
				if r == nil || r.Mode != tfjson.ManagedResourceMode || r.Type != tokenResourceType {
					continue
				}
				if root {
					ts.rootNames[r.Name] = true
				}
				id, _ := r.AttributeValues["id"].(string)
				if id == "" {
					continue
				}
				e := stateToken{Address: r.Address, ID: id, Root: source}
				ts.byID[id] = e
				ts.entries = append(ts.entries, e)
			}
			for _, child := range m.ChildModules {
				if child != nil {
					walk(child, false)
				}
			}
		}
		walk(st.Values.RootModule, true)
	}
	slices.SortFunc(ts.entries, func(a, b stateToken) int { return cmp.Compare(a.Address, b.Address) })
	return ts, nil
}

// mergeStates joins the states of several roots into one view; nil when there is none. A
// token that two roots manage is kept under the first and listed in twice.
func mergeStates(roots []*terraformState) *terraformState {
	if len(roots) == 0 {
		return nil
	}
	merged := &terraformState{byID: map[string]stateToken{}, rootNames: map[string]bool{}}
	var sources []string
	for _, r := range roots {
		sources = append(sources, r.source)
		for name := range r.rootNames {
			merged.rootNames[name] = true
		}
		for _, e := range r.entries {
			if prior, ok := merged.byID[e.ID]; ok {
				if prior.Root != e.Root && !slices.Contains(merged.twice, e.ID) {
					merged.twice = append(merged.twice, e.ID)
				}
			} else {
				merged.byID[e.ID] = e
			}
			merged.entries = append(merged.entries, e)
		}
	}
	merged.source = strings.Join(sources, ", ")
	return merged
}

// rootsOf names every root whose state holds the token id.
func (ts *terraformState) rootsOf(id string) []string {
	var roots []string
	for _, e := range ts.entries {
		if e.ID == id && !slices.Contains(roots, e.Root) {
			roots = append(roots, e.Root)
		}
	}
	return roots
}

// writeImports writes an import block for every active token the state does not manage,
// sorted by name, owner and id, each to a unique valid resource name. Unmanaged tokens that are
// not active are listed as comments. The file is created exclusively unless force. With a
// configPath, the resource block of every imported token goes to that file, which is always
// created exclusively (and removed again if the import file cannot be written).
func writeImports(path, configPath string, force bool, tokens []wire.Token, state *terraformState) (written, skipped int, err error) {
	var unmanaged []wire.Token
	for _, t := range tokens {
		if _, ok := state.byID[t.ID]; !ok {
			unmanaged = append(unmanaged, t)
		}
	}
	slices.SortFunc(unmanaged, func(a, b wire.Token) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.ID, b.ID))
	})

	var b, cfg bytes.Buffer
	b.WriteString("# Import blocks for tokenguard tokens Terraform does not manage yet, written by tokenguard inventory.\n")
	if configPath != "" {
		b.WriteString("# Their resource blocks are in " + comment(filepath.Base(configPath)) + ". Next: terraform plan (it imports and changes nothing), then terraform apply.\n")
		cfg.WriteString("# Resource blocks for the tokens " + comment(filepath.Base(path)) + " imports, written by tokenguard inventory from the token service.\n")
		cfg.WriteString("# ttl spells each token's lifetime (expires_at - created_at); data_subjects are personal information.\n")
	} else {
		b.WriteString("# Next: write their resource blocks with tokenguard inventory --generate-config-out FILE, then terraform plan and apply.\n")
	}
	b.WriteString("# An import cannot recover a token's secret: secret is null in state until the next rotation.\n")
	taken := map[string]bool{}
	for name := range state.rootNames {
		taken[name] = true
	}
	for _, t := range unmanaged {
		if t.Status != "active" {
			fmt.Fprintf(&b, "\n# not imported: %s (%s, owner %s) is %s; Terraform would plan to replace it\n",
				comment(t.ID), comment(t.Name), comment(t.Owner), comment(t.Status))
			skipped++
			continue
		}
		name := uniqueName(hclName(t.Name), taken)
		f := hclwrite.NewEmptyFile()
		blk := f.Body().AppendNewBlock("import", nil).Body()
		blk.SetAttributeTraversal("to", hcl.Traversal{hcl.TraverseRoot{Name: tokenResourceType}, hcl.TraverseAttr{Name: name}})
		blk.SetAttributeValue("id", cty.StringVal(t.ID))
		fmt.Fprintf(&b, "\n# %s, owner %s\n", comment(t.Name), comment(t.Owner))
		b.Write(hclwrite.Format(f.Bytes()))
		if configPath != "" {
			fmt.Fprintf(&cfg, "\n# %s: %s, owner %s\n", comment(t.ID), comment(t.Name), comment(t.Owner))
			cfg.Write(resourceBlock(name, t))
		}
		written++
	}

	if configPath != "" {
		if err := writeNewFile(configPath, cfg.Bytes(), false, "--generate-config-out", "it is never overwritten: choose a new file"); err != nil {
			return 0, 0, err
		}
	}
	if err := writeNewFile(path, b.Bytes(), force, "--generate-imports", "pass --force to overwrite it, or choose another file"); err != nil {
		if configPath != "" {
			// No half-written pair: the resource blocks without their imports would create tokens.
			_ = os.Remove(configPath)
		}
		return 0, 0, err
	}
	return written, skipped, nil
}

// writeNewFile writes data to path, created exclusively unless force; flag and advice name the
// option and what to do in the error of an existing file.
func writeNewFile(path string, data []byte, force bool, flag, advice string) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	out, err := os.OpenFile(path, flags, 0o644) //nolint:gosec // configuration meant to be committed: import and resource blocks, no secret
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s: %s already exists: %s", flag, path, advice)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if _, err := out.Write(append(bytes.TrimRight(data, "\n"), '\n')); err != nil {
		_ = out.Close()
		return fmt.Errorf("%s: writing %s: %w", flag, path, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("%s: writing %s: %w", flag, path, err)
	}
	return nil
}

// samePath reports whether a and b name the same file, as far as can be told before either
// exists.
func samePath(a, b string) bool {
	if ia, err := os.Stat(a); err == nil {
		if ib, err := os.Stat(b); err == nil {
			return os.SameFile(ia, ib)
		}
	}
	return filepath.Clean(a) == filepath.Clean(b)
}

// resourceBlock is the tokenguard_api_token resource block that imports t and plans no change:
// every attribute the provider reads from the service, as the provider records it at import
// (empty data_subjects, audiences and labels are left out, as they are null in state; ttl is
// the token's lifetime, as the import derives it). Every string goes through hclwrite, which
// escapes quotes, backslashes, line breaks, template sequences ("${", "%{") and characters
// that are not printable, so Terraform reads back exactly the service's text.
func resourceBlock(name string, t wire.Token) []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body().AppendNewBlock("resource", []string{tokenResourceType, name}).Body()
	body.SetAttributeValue("name", cty.StringVal(t.Name))
	body.SetAttributeValue("owner", cty.StringVal(t.Owner))
	body.SetAttributeValue("purpose", cty.StringVal(t.Purpose))
	body.SetAttributeValue("scopes", stringList(t.Scopes))
	body.SetAttributeValue("data_categories", stringList(t.DataCategories))
	if len(t.DataSubjects) > 0 {
		body.SetAttributeValue("data_subjects", stringList(t.DataSubjects))
	}
	if len(t.Audiences) > 0 {
		body.SetAttributeValue("audiences", stringList(t.Audiences))
	}
	if len(t.Labels) > 0 {
		// Keys are always quoted: a bare key such as null, true or for would not read back as
		// the label's name.
		keys := slices.Sorted(maps.Keys(t.Labels))
		attrs := make([]hclwrite.ObjectAttrTokens, 0, len(keys))
		for _, k := range keys {
			attrs = append(attrs, hclwrite.ObjectAttrTokens{
				Name: hclwrite.TokensForValue(cty.StringVal(k)), Value: hclwrite.TokensForValue(cty.StringVal(t.Labels[k])),
			})
		}
		body.SetAttributeRaw("labels", hclwrite.TokensForObject(attrs))
	}
	body.SetAttributeValue("ttl", cty.StringVal(token.LifetimeTTL(t.CreatedAt, t.ExpiresAt)))
	if t.Rotation != nil && t.Rotation.Interval != "" {
		rot := map[string]cty.Value{"interval": cty.StringVal(tidyDuration(t.Rotation.Interval))}
		if d, err := token.ParseDuration(t.Rotation.Overlap); err == nil && d > 0 {
			rot["overlap"] = cty.StringVal(token.FormatDuration(d))
		}
		body.SetAttributeValue("rotation", cty.ObjectVal(rot))
	}
	return hclwrite.Format(f.Bytes())
}

// stringList is values, sorted, as an HCL list; [] when there are none.
func stringList(values []string) cty.Value {
	if len(values) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, 0, len(values))
	for _, v := range slices.Sorted(slices.Values(values)) {
		vs = append(vs, cty.StringVal(v))
	}
	return cty.ListVal(vs)
}

// tidyDuration spells a duration of the service in the shortest exact form; text it cannot
// read is kept as it is (the provider's validators report it).
func tidyDuration(s string) string {
	if d, err := token.ParseDuration(s); err == nil && d > 0 {
		return token.FormatDuration(d)
	}
	return s
}

// hclName turns a token name into a Terraform resource name: lower-case letters, digits and
// underscores, starting with a letter.
func hclName(s string) string {
	var b strings.Builder
	lastUnderscore := true // drops leading underscores
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			lastUnderscore = false
		case !lastUnderscore:
			b.WriteByte('_')
			lastUnderscore = true
		}
	}
	name := strings.TrimRight(b.String(), "_")
	switch {
	case name == "":
		return "token"
	case name[0] >= '0' && name[0] <= '9':
		return "token_" + name
	}
	return name
}

// uniqueName returns base, or base_2, base_3, ... whichever is not taken yet, and takes it.
func uniqueName(base string, taken map[string]bool) string {
	name := base
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	taken[name] = true
	return name
}

// comment keeps service text inside a one-line HCL comment, and visible: control characters
// (line breaks among them) become spaces, and invisible format characters (zero-width
// spaces, bidirectional overrides that reorder what an editor shows) are written as \u
// escapes.
func comment(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ')
		case unicode.Is(unicode.Cf, r) || (!unicode.IsPrint(r) && r != ' '):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
