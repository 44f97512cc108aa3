package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"text/tabwriter"
	"time"
)

// bench access: the access request and the evidence pack on a service holding many tokens
// and a long audit log (issue 19: 100k tokens, 1M audit records). The service is seeded
// through its own API (durable creates, real introspections, so every audit record is one
// the service wrote); the seeded database is kept in -work and reused while its size flags
// are unchanged. Then tokenguard access, report evidence and report verify run as child
// processes against it and are measured.
//
// The three tokens of the measured subject, their rotation, renewal and revocation, and the
// credential are made through the service's API; the bulk (every other token, one in ten
// rotated, and the verification records) is written straight into the database through the
// store API in batches, chained under the key file's audit key (seedDirect), and the
// benchmark checks that the whole chain verifies (tokenguard audit verify) before measuring.

type accessOptions struct {
	tokens  int
	records int
}

func (o *accessOptions) flags(fs *flag.FlagSet) {
	fs.IntVar(&o.tokens, "access-tokens", 100_000, "tokens in the service of the access benchmark")
	fs.IntVar(&o.records, "access-records", 1_000_000, "audit records in the service of the access benchmark (at least the tokens)")
}

// accessSubject is the data subject whose access request is measured: bound to three tokens,
// one rotated, one renewed and one revoked, among every other token's own subject.
const accessSubject = "customer:bench-subject"

type accessResult struct {
	Host         hostInfo      `json:"host"`
	Tokens       int           `json:"tokens"`
	AuditRecords int           `json:"audit_records"`
	SeedSeconds  float64       `json:"seed_seconds,omitempty"` // 0 when the seeded database was reused
	Runs         []Measurement `json:"runs"`
	PackBytes    int64         `json:"pack_bytes"`
	Checks       []string      `json:"checks"`
}

func benchAccess(ctx context.Context, c config, o accessOptions) error {
	tg, err := c.tool("tokenguard")
	if err != nil {
		return err
	}
	if o.records < o.tokens {
		return fmt.Errorf("-access-records %d is fewer than -access-tokens %d: every token's creation is a record", o.records, o.tokens)
	}
	dir := filepath.Join(c.work, fmt.Sprintf("access-%d-%d", o.tokens, o.records))
	db, key, adminFile := filepath.Join(dir, "tokenguard.db"), filepath.Join(dir, "tokenguard.key"), filepath.Join(dir, "admin-token")
	res := accessResult{Host: host(), Tokens: o.tokens}
	seeded := false
	if _, err := os.Stat(filepath.Join(dir, "seeded")); err == nil {
		seeded = true
	} else {
		_ = os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(adminFile, []byte(randomSecret()), 0o600); err != nil {
			return err
		}
	}
	raw, err := os.ReadFile(adminFile)
	if err != nil {
		return err
	}
	admin := string(raw)
	serve := func(extra ...string) (*server, error) {
		return startServer(ctx, "tokenguard", []string{"TOKENGUARD_ADMIN_TOKEN=" + admin}, tg, append([]string{"serve",
			"--listen", "127.0.0.1:0", "--db", db, "--key-file", key, "--log-level", "error"}, extra...)...)
	}
	if !seeded {
		// Seeding runs with the policy gate off: evaluating the bundle is most of a create's
		// CPU (about 16 ms a create on this machine), and the gate is not what is measured.
		seeder, err := serve("--policy-enforcement", "off")
		if err != nil {
			return err
		}
		start := time.Now()
		verifier, err := seedAccess(ctx, seeder.url, admin)
		seeder.stop()
		if err != nil {
			return err
		}
		// The bulk goes straight into the database, in batches, chained under the audit key
		// (through the API, one durable request a token, 100k tokens took most of an hour).
		if err := seedDirect(ctx, db, key, verifier, o.tokens-3, o.records, c.stdout); err != nil {
			return err
		}
		// A child's peak RSS (getrusage) starts from this process's at the fork: give the
		// seeding's memory back. It still floors every step of a seeding run at this
		// process's size (about 60 MB at 100k tokens): printAccess says so, and a second run,
		// which reuses the database, measures the steps alone.
		debug.FreeOSMemory()
		res.SeedSeconds = time.Since(start).Seconds()
		if err := os.WriteFile(filepath.Join(dir, "seeded"), nil, 0o600); err != nil {
			return err
		}
	}
	srv, err := serve()
	if err != nil {
		return err
	}
	defer srv.stop()
	env := []string{"TOKENGUARD_ENDPOINT=" + srv.url, "TOKENGUARD_TOKEN=" + admin, "TOKENGUARD_KEY_FILE=" + key}
	// The seeded chain must verify as the service's own does: measured, and a failure stops the run.
	m, err := runMeasured(ctx, "tokenguard audit verify", "", env, []int{0}, tg, "audit", "verify")
	if err != nil {
		return fmt.Errorf("the seeded audit chain does not verify: %w", err)
	}
	res.Runs = append(res.Runs, m)
	res.Checks = append(res.Checks, "tokenguard audit verify passed on the seeded chain")
	answer := filepath.Join(c.work, "access-answer.json")
	m, err = runMeasured(ctx, "tokenguard access", answer, env, []int{0}, tg, "access", "--subject", accessSubject, "--format", "json")
	if err != nil {
		return err
	}
	res.Runs = append(res.Runs, m)
	res.Checks = append(res.Checks, checkAccessAnswer(answer))
	pack := filepath.Join(c.work, "evidence-pack.zip")
	_ = os.Remove(pack)
	m, err = runMeasured(ctx, "tokenguard report evidence", "", env, []int{0}, tg, "report", "evidence", "--output", pack)
	if err != nil {
		return err
	}
	res.Runs = append(res.Runs, m)
	if info, err := os.Stat(pack); err == nil {
		res.PackBytes = info.Size()
	}
	m, err = runMeasured(ctx, "tokenguard report verify", "", env, []int{0}, tg, "report", "verify", pack)
	if err != nil {
		return err
	}
	res.Runs = append(res.Runs, m)
	res.Checks = append(res.Checks, "report verify passed on the pack")
	var audit struct {
		Records []struct {
			Seq int64 `json:"seq"`
		} `json:"records"`
	}
	if err := getJSON(ctx, srv.url+"/v1/audit?after="+fmt.Sprint(o.records-10)+"&limit=1000", admin, &audit); err == nil && len(audit.Records) > 0 {
		res.AuditRecords = int(audit.Records[len(audit.Records)-1].Seq)
	}
	printAccess(c, res)
	return writeJSON(c.results, "access.json", res)
}

// checkAccessAnswer says whether the measured answer is the right one: three tokens.
func checkAccessAnswer(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "access answer: " + err.Error()
	}
	var a struct {
		Tokens []struct {
			Status  string            `json:"status"`
			History []json.RawMessage `json:"history"`
			Usage   []struct {
				Active int64 `json:"active"`
			} `json:"usage"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return "access answer: " + err.Error()
	}
	var history, uses int64
	for _, t := range a.Tokens {
		history += int64(len(t.History))
		for _, u := range t.Usage {
			uses += u.Active
		}
	}
	verdict := "HOLDS"
	if len(a.Tokens) != 3 || history != 6 {
		verdict = "FAILS"
	}
	return fmt.Sprintf("access answer %s: %d tokens (want 3), %d history entries (want 6: 3 created, rotated, renewed, revoked), %d verifications", verdict, len(a.Tokens), history, uses)
}

// seedAccess creates, through the service's API, the verifier credential and three tokens
// bound to accessSubject (one then rotated, one renewed, one revoked), and introspects each.
// It returns the verifier credential's id, which the bulk verification records name.
func seedAccess(ctx context.Context, url, admin string) (string, error) {
	hc := &http.Client{Timeout: 60 * time.Second}
	var cred struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := call(ctx, hc, url+"/v1/credentials", admin, map[string]any{"name": "bench-verifier"}, &cred); err != nil {
		return "", fmt.Errorf("creating the verifier credential: %w", err)
	}
	mine := make([]struct{ ID, Secret string }, 3)
	for i := range mine {
		body := tokenBody(fmt.Sprintf("subject-token-%d", i))
		body["data_subjects"] = []string{accessSubject, "customer:shared-" + fmt.Sprint(i)}
		var tok struct{ ID, Secret string }
		if err := call(ctx, hc, url+"/v1/tokens", admin, body, &tok); err != nil {
			return "", err
		}
		mine[i] = tok
	}
	var rotated struct{ Secret string }
	if err := call(ctx, hc, url+"/v1/tokens/"+mine[0].ID+"/rotate", admin, map[string]any{}, &rotated); err != nil {
		return "", err
	}
	if err := call(ctx, hc, url+"/v1/tokens/"+mine[1].ID+"/renew", admin, map[string]any{"ttl": "30d", "reason": "benchmark renewal", "reviewed_by": "bench-reviewer"}, nil); err != nil {
		return "", err
	}
	if err := call(ctx, hc, url+"/v1/tokens/"+mine[2].ID+"/revoke", admin, map[string]any{}, nil); err != nil {
		return "", err
	}
	for _, secret := range []string{rotated.Secret, mine[1].Secret, mine[2].Secret} {
		if got := introspect(ctx, hc, url+"/v1/introspect", cred.Secret, secret); got != "active" && got != "inactive" {
			return "", errors.New("introspection: " + got)
		}
	}
	return cred.ID, nil
}

// parallel runs fn in n goroutines and returns the first error.
func parallel(n int, fn func() error) error {
	errs := make(chan error, n)
	for range n {
		go func() { errs <- fn() }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func getJSON(ctx context.Context, url, bearer string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

func printAccess(c config, r accessResult) {
	fmt.Fprintf(c.stdout, "\naccess request and evidence pack: %d tokens, %d audit records (SQLite)\n", r.Tokens, r.AuditRecords)
	if r.SeedSeconds > 0 {
		fmt.Fprintf(c.stdout, "seeded in %.0f s (the subject's tokens through the API, the bulk through the store in batches)\n", r.SeedSeconds)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "step\twall s\tCPU s\tpeak RSS MB")
	for _, m := range r.Runs {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.0f\n", m.Tool, m.WallSeconds, m.CPUSeconds, m.PeakRSSMB)
	}
	_ = tw.Flush()
	fmt.Fprintf(c.stdout, "pack: %.1f MB\n", float64(r.PackBytes)/(1<<20))
	if r.SeedSeconds > 0 {
		fmt.Fprintln(c.stdout, "peak RSS of a seeding run is at least this benchmark's own at the fork: run again (the database is reused) for the steps alone")
	}
	for _, ch := range r.Checks {
		fmt.Fprintln(c.stdout, ch)
	}
}
