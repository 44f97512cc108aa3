package policy

import (
	"reflect"
	"slices"
	"strings"
)

// Ways to treat findings on what a plan leaves as it was (the --existing flag of `tokenguard
// check` and policy.existing of the provider).
const (
	// ExistingBlock (the default) judges every planned token alike: a blocking finding blocks
	// whether or not the plan touches what the rule reads.
	ExistingBlock = "block"
	// ExistingWarn is the ratchet: a blocking finding on an attribute the plan does not change,
	// of a token that already exists, is a warning; new tokens and changed attributes block.
	// Tightening a policy then stops new debt without failing every plan of the workspace on
	// tokens nobody touches.
	ExistingWarn = "warn"
)

// OnUnchanged reports whether finding f is about something plan change c leaves as it was: c
// updates an existing token in place or leaves it alone (a create or replacement is a new
// token), and the top-level attribute f names (its Field's first part) has the same value
// before and after and is not unknown. A finding naming no field, or a field that is not an
// attribute of the change, counts as unchanged only when the change is a no-op.
func OnUnchanged(c TokenChange, f Finding) bool {
	if c.Before == nil || slices.Contains(c.Actions, "create") || slices.Contains(c.Actions, "delete") {
		return false
	}
	noop := len(c.Actions) == 1 && (c.Actions[0] == "no-op" || c.Actions[0] == "read")
	root, _, _ := strings.Cut(f.Field, ".")
	if root == "" {
		return noop
	}
	before, inBefore := c.Before[root]
	after, inAfter := c.After[root]
	if !inBefore && !inAfter {
		return noop
	}
	for _, u := range c.Unknown {
		if u == root || strings.HasPrefix(u, root+".") || strings.HasPrefix(u, root+"[") {
			return false
		}
	}
	return reflect.DeepEqual(before, after)
}

// ExistingNote starts the message of a finding MarkExisting turned into a warning.
const ExistingNote = "existing, not blocking (--existing warn: this plan does not change it): "

// MarkExisting turns each error finding of fs about what change c leaves as it was
// (OnUnchanged) into a warning whose message starts with ExistingNote: the ratchet of
// `tokenguard check --existing warn`.
func MarkExisting(c TokenChange, fs []Finding) {
	for i := range fs {
		if fs[i].Severity == SeverityError && OnUnchanged(c, fs[i]) {
			fs[i].Severity = SeverityWarning
			fs[i].Message = ExistingNote + fs[i].Message
		}
	}
}
