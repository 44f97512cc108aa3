// Package plangen writes synthetic Terraform plans in the shape of `terraform show -json`
// (format 1.2: resource_changes, planned_values, configuration, timestamp) for the check
// benchmark. Plans are deterministic for a given Options value, so tokenguard, conftest and
// opa eval all read the same bytes and a run can be reproduced.
//
// Token resources are a mix of compliant and non-compliant tokenguard_api_token changes and
// the token-like resources of other providers (gitlab_personal_access_token,
// aws_iam_access_key). Every violation the generator plants is one the peer policy in
// bench/peer encodes, so all three checkers must agree on the number of findings per rule.
package plangen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Timestamp is the plan timestamp of every generated plan; expiry dates are relative to it.
var Timestamp = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// Options describe one plan.
type Options struct {
	// Resources is the number of resource changes in the plan.
	Resources int
	// TokenShare is the fraction of Resources that are token-like (1 for a token-only plan);
	// the rest are ordinary infrastructure (instances, buckets, DNS records, ...).
	TokenShare float64
	// ExternalShare is the fraction of token-like resources that belong to other providers
	// (GitLab access tokens and AWS access keys) rather than tokenguard.
	ExternalShare float64
	// Seed makes the plan reproducible.
	Seed uint64
}

// Stats counts what a generated plan holds.
type Stats struct {
	Resources  int `json:"resources"`
	Tokenguard int `json:"tokenguard_tokens"`
	External   int `json:"external_tokens"`
	Bytes      int `json:"bytes"`
}

// resource is one generated resource: its change and its configuration.
type resource struct {
	typ, name, provider string
	after               map[string]any
	unknown             map[string]any
	sensitive           map[string]any
}

// Write streams the plan JSON to w, one resource at a time, and reports what it wrote.
func Write(w io.Writer, o Options) (Stats, error) {
	cw := &countingWriter{w: bufio.NewWriterSize(w, 1<<20)}
	var st Stats
	// Resources are generated twice (resource_changes, then planned_values and configuration)
	// from the same seed, so nothing is held in memory.
	gen := func(i int) resource {
		r := rand.New(rand.NewPCG(o.Seed+uint64(i), uint64(i)*0x2545f4914f6cdd1d))
		// Token-like resources are spread evenly: resource i is one when the running count
		// of tokens, floor((i+1)*share), steps up at i.
		isToken := int(float64(i+1)*o.TokenShare) > int(float64(i)*o.TokenShare)
		if !isToken {
			return infraResource(r, i)
		}
		if r.Float64() < o.ExternalShare {
			return externalToken(r, i)
		}
		return tokenguardToken(r, i)
	}
	p := func(s string) { _, _ = io.WriteString(cw, s) }
	p(`{"format_version":"1.2","terraform_version":"1.11.4","planned_values":{"root_module":{"resources":[`)
	for i := range o.Resources {
		res := gen(i)
		if i > 0 {
			p(",")
		}
		if err := writeJSON(cw, map[string]any{
			"address": res.typ + "." + res.name, "mode": "managed", "type": res.typ, "name": res.name,
			"provider_name": res.provider, "schema_version": 0, "values": res.after,
			"sensitive_values": res.sensitive,
		}); err != nil {
			return st, err
		}
	}
	p(`]}},"resource_changes":[`)
	for i := range o.Resources {
		res := gen(i)
		st.Resources++
		switch {
		case res.typ == "tokenguard_api_token":
			st.Tokenguard++
		case res.typ == "gitlab_personal_access_token" || res.typ == "aws_iam_access_key":
			st.External++
		}
		if i > 0 {
			p(",")
		}
		if err := writeJSON(cw, map[string]any{
			"address": res.typ + "." + res.name, "mode": "managed", "type": res.typ, "name": res.name,
			"provider_name": res.provider,
			"change": map[string]any{
				"actions": []string{"create"}, "before": nil, "after": res.after,
				"after_unknown": res.unknown, "before_sensitive": false, "after_sensitive": res.sensitive,
			},
		}); err != nil {
			return st, err
		}
	}
	p(`],"configuration":{"provider_config":{"tokenguard":{"name":"tokenguard","full_name":"registry.terraform.io/tokenguard/tokenguard","expressions":{"endpoint":{"constant_value":"https://tokens.example.com"}}}},"root_module":{"resources":[`)
	for i := range o.Resources {
		res := gen(i)
		if i > 0 {
			p(",")
		}
		exprs := map[string]any{}
		for k, v := range res.after {
			if v != nil {
				exprs[k] = map[string]any{"constant_value": v}
			}
		}
		if err := writeJSON(cw, map[string]any{
			"address": res.typ + "." + res.name, "mode": "managed", "type": res.typ, "name": res.name,
			"provider_config_key": providerKey(res.typ), "expressions": exprs, "schema_version": 0,
		}); err != nil {
			return st, err
		}
	}
	p(`]}},"timestamp":"` + Timestamp.Format(time.RFC3339) + `","applyable":true,"complete":true,"errored":false}` + "\n")
	if err := cw.w.Flush(); err != nil {
		return st, err
	}
	st.Bytes = cw.n
	return st, cw.err
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

type countingWriter struct {
	w   *bufio.Writer
	n   int
	err error
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += n
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

func providerKey(typ string) string {
	switch typ {
	case "tokenguard_api_token":
		return "tokenguard"
	case "gitlab_personal_access_token":
		return "gitlab"
	case "google_storage_bucket":
		return "google"
	case "terraform_data":
		return "terraform"
	}
	return "aws"
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

// tokenguardToken is a tokenguard_api_token create. About 60% are compliant; the rest carry
// one or two planted violations each, chosen so that every token rule of the peer policy
// fires somewhere.
func tokenguardToken(r *rand.Rand, i int) resource {
	name := fmt.Sprintf("svc_%d", i)
	after := map[string]any{
		"name":              fmt.Sprintf("svc-%d", i),
		"owner":             pick(r, "team-billing", "team-support", "team-data", "alice@example.com"),
		"purpose":           fmt.Sprintf("Reads invoice totals of account group %d for the monthly revenue report", i),
		"scopes":            []any{"invoices:read", pick[any](r, "customers:read", "reports:write")},
		"data_categories":   []any{"commercial", "identifiers"},
		"data_subjects":     []any{},
		"audiences":         []any{"billing-api"},
		"ttl":               pick(r, "30d", "14d", "720h"),
		"rotation":          map[string]any{"interval": "7d", "overlap": "1h"},
		"rotation_triggers": nil,
		"renewal":           nil,
		"replace_before":    nil,
		"labels":            map[string]any{"cost_centre": fmt.Sprintf("cc-%d", i%97), "team": "billing"},
	}
	violations := 0
	if r.Float64() < 0.4 {
		violations = 1 + r.IntN(2)
	}
	for range violations {
		switch r.IntN(16) {
		case 0:
			after["purpose"] = pick(r, "test", "TBD", " misc ", "api access")
		case 1:
			after["purpose"] = pick(r, "billing x", "reports")
		case 2:
			after["purpose"] = pick[any](r, "", "   ", nil)
		case 3:
			after["scopes"] = []any{"invoices:*", pick[any](r, "customers:read", "*")}
		case 4:
			after["scopes"] = []any{pick[any](r, "admin", "billing:admin", "read:all")}
		case 5:
			after["scopes"] = []any{}
		case 6:
			after["owner"] = pick[any](r, "", nil)
		case 7:
			after["data_categories"] = []any{"commercial", pick[any](r, "pii", "emails")}
		case 8:
			after["data_categories"] = nil
		case 9:
			after["ttl"] = nil
		case 10:
			after["ttl"] = pick(r, "365d", "120d")
		case 11:
			// Sensitive categories: tighter caps, and an audience is required.
			after["data_categories"] = []any{"health", "identifiers"}
			after["audiences"] = pick[any](r, []any{}, []any{"  "}, []any{"clinic-api"})
			after["ttl"] = pick(r, "30d", "60d")
		case 12:
			after["rotation"] = map[string]any{"interval": pick(r, "60d", "45d"), "overlap": "1h"}
		case 13:
			after["rotation"] = map[string]any{"interval": "7d", "overlap": pick(r, "48h", "7d", "8d")}
		case 14:
			after["rotation"] = nil
			after["ttl"] = pick(r, "60d", "90d", "14d")
		case 15:
			after["rotation"] = map[string]any{"interval": "20d", "overlap": "1h"}
			after["ttl"] = "10d"
		}
	}
	computed := []string{"id", "secret", "fingerprint", "status", "created_at", "expires_at", "rotated_at", "last_used_at", "secret_version"}
	unknown := map[string]any{}
	for _, k := range computed {
		unknown[k] = true
	}
	unknown["scopes"], unknown["data_categories"], unknown["audiences"] = []any{}, []any{}, []any{}
	unknown["labels"], unknown["data_subjects"] = map[string]any{}, []any{}
	if after["rotation"] != nil {
		unknown["rotation"] = map[string]any{}
	}
	return resource{
		typ: "tokenguard_api_token", name: name, provider: "registry.terraform.io/tokenguard/tokenguard",
		after: after, unknown: unknown,
		sensitive: map[string]any{"secret": true, "data_subjects": []any{}, "labels": map[string]any{}, "scopes": []any{}},
	}
}

// externalToken is a GitLab personal access token (expiry and scopes vary) or an AWS access
// key (which never expires).
func externalToken(r *rand.Rand, i int) resource {
	if r.IntN(4) == 0 {
		return resource{
			typ: "aws_iam_access_key", name: fmt.Sprintf("ci_%d", i), provider: "registry.terraform.io/hashicorp/aws",
			after:     map[string]any{"user": fmt.Sprintf("ci-deployer-%d", i), "pgp_key": nil, "status": "Active"},
			unknown:   map[string]any{"id": true, "secret": true, "ses_smtp_password_v4": true, "encrypted_secret": true, "create_date": true, "key_fingerprint": true},
			sensitive: map[string]any{"secret": true, "ses_smtp_password_v4": true},
		}
	}
	after := map[string]any{
		"name":        fmt.Sprintf("deploy-%d", i),
		"user_id":     1000 + i%500,
		"description": fmt.Sprintf("Pulls the container images of project %d", i%300),
		"scopes":      []any{"read_registry", "read_repository"},
		"expires_at":  Timestamp.AddDate(0, 0, pick(r, 20, 25)).Format("2006-01-02"),
	}
	switch r.IntN(5) {
	case 0:
		after["expires_at"] = Timestamp.AddDate(0, 0, pick(r, 60, 200)).Format("2006-01-02")
	case 1:
		after["expires_at"] = nil
	case 2:
		after["scopes"] = []any{"api", pick[any](r, "read_registry", "sudo")}
	}
	return resource{
		typ: "gitlab_personal_access_token", name: fmt.Sprintf("deploy_%d", i), provider: "registry.terraform.io/gitlabhq/gitlab",
		after:     after,
		unknown:   map[string]any{"id": true, "token": true, "active": true, "revoked": true, "created_at": true, "scopes": []any{false, false}},
		sensitive: map[string]any{"token": true, "scopes": []any{}},
	}
}

// infraResource is an ordinary, non-token resource of a large estate.
func infraResource(r *rand.Rand, i int) resource {
	switch r.IntN(4) {
	case 0:
		return resource{
			typ: "aws_instance", name: fmt.Sprintf("app_%d", i), provider: "registry.terraform.io/hashicorp/aws",
			after: map[string]any{
				"ami": "ami-0c55b159cbfafe1f0", "instance_type": pick(r, "t3.micro", "m6i.large", "c7g.xlarge"),
				"subnet_id": fmt.Sprintf("subnet-%08x", r.Uint32()), "monitoring": true, "ebs_optimized": nil,
				"tags":                   map[string]any{"Name": fmt.Sprintf("app-%d", i), "team": "platform", "env": "prod"},
				"vpc_security_group_ids": []any{fmt.Sprintf("sg-%08x", r.Uint32())},
				"root_block_device":      []any{map[string]any{"volume_size": 20 + r.IntN(100), "volume_type": "gp3", "encrypted": true}},
				"user_data":              nil, "user_data_replace_on_change": false,
			},
			unknown:   map[string]any{"id": true, "arn": true, "private_ip": true, "public_ip": true, "primary_network_interface_id": true, "root_block_device": []any{map[string]any{"volume_id": true, "device_name": true}}},
			sensitive: map[string]any{"tags": map[string]any{}, "root_block_device": []any{map[string]any{}}},
		}
	case 1:
		return resource{
			typ: "aws_s3_bucket", name: fmt.Sprintf("data_%d", i), provider: "registry.terraform.io/hashicorp/aws",
			after: map[string]any{
				"bucket": fmt.Sprintf("acme-data-%d", i), "force_destroy": false, "object_lock_enabled": nil,
				"tags": map[string]any{"team": pick(r, "data", "ml", "web"), "retention": "365d"},
			},
			unknown:   map[string]any{"id": true, "arn": true, "bucket_domain_name": true, "region": true, "hosted_zone_id": true},
			sensitive: map[string]any{"tags": map[string]any{}},
		}
	case 2:
		return resource{
			typ: "google_storage_bucket", name: fmt.Sprintf("logs_%d", i), provider: "registry.terraform.io/hashicorp/google",
			after: map[string]any{
				"name": fmt.Sprintf("acme-logs-%d", i), "location": pick(r, "US", "EU"), "storage_class": "STANDARD",
				"uniform_bucket_level_access": true, "labels": map[string]any{"team": "sre"},
				"lifecycle_rule": []any{map[string]any{"action": []any{map[string]any{"type": "Delete"}}, "condition": []any{map[string]any{"age": 30}}}},
			},
			unknown:   map[string]any{"id": true, "self_link": true, "url": true, "project": true},
			sensitive: map[string]any{"labels": map[string]any{}, "lifecycle_rule": []any{}},
		}
	}
	return resource{
		typ: "aws_route53_record", name: fmt.Sprintf("dns_%d", i), provider: "registry.terraform.io/hashicorp/aws",
		after: map[string]any{
			"zone_id": "Z0123456789ABCDEFGHIJ", "name": fmt.Sprintf("svc-%d.example.com", i), "type": "CNAME",
			"ttl": 300, "records": []any{fmt.Sprintf("lb-%d.example.net", i%50)},
		},
		unknown:   map[string]any{"id": true, "fqdn": true},
		sensitive: map[string]any{"records": []any{}},
	}
}
