package policy

import (
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// verdictMemo keeps the findings of token rules across EvaluateTokens calls of one engine
// (Options.KeepVerdicts). The provider gate evaluates one planned token per call, so the
// tables of a single call (engine_reads.go) never serve a second token; kept across calls, a
// plan of hundreds of tokens that share their scopes, categories, ttl and rotation evaluates
// each rule once per distinct projection instead of once per token.
//
// What a rule sees is the engine (its bundle, data and erased subjects: an engine is
// compiled for one of each, and the memo is the engine's), the token (for rules with declared
// reads, its projection), input.plan and the instant (time.now_ns). The tables are keyed by
// the token or its projection, exactly as within one call; input.plan and the instant are
// the memo's epoch: a call with another instant or other plan facts reads and fills the
// tables of its own epoch, so no finding computed at one instant answers for another (a
// token crossing its expiry, a rule that reads time.now_ns or input.plan.timestamp). The
// provider checks at whole seconds, so the calls of one second share an epoch.
//
// Memory is bounded: keptEpochs epochs, each with at most maxProjections findings per rule
// with declared reads and maxWholeTokens per managed_by for the rules without; a table whose
// lookups rarely hit goes cold and is dropped (see projectionTable).
type verdictMemo struct {
	mu     sync.Mutex
	epochs []*memoEpoch // most recent first
}

// memoEpoch holds the findings kept for one instant and one input.plan.
type memoEpoch struct {
	now    time.Time
	plan   *ast.Term
	tables projectionTables
	whole  map[string]*projectionTable
}

// keptEpochs is how many epochs the memo keeps: the current one and the one before, so that
// calls straddling a second boundary in parallel do not keep replacing each other's tables.
const keptEpochs = 2

// maxWholeTokens bounds the whole tokens kept per managed_by and epoch (a whole token is a
// larger key than a projection).
const maxWholeTokens = 1 << 12

// epoch returns the tables of the epoch of now and plan, starting it (and dropping the oldest
// beyond keptEpochs) when the memo holds none.
func (m *verdictMemo) epoch(e *Engine, now time.Time, plan *ast.Term) *memoEpoch {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ep := range m.epochs {
		if ep.now.Equal(now) && ep.plan.Equal(plan) {
			return ep
		}
	}
	ep := &memoEpoch{now: now, plan: plan, tables: e.newProjectionTables(), whole: map[string]*projectionTable{}}
	for managedBy := range e.token {
		ep.whole[managedBy] = &projectionTable{entries: map[int][]projectionEntry{}, limit: maxWholeTokens}
	}
	m.epochs = append([]*memoEpoch{ep}, m.epochs...)
	if len(m.epochs) > keptEpochs {
		m.epochs = m.epochs[:keptEpochs]
	}
	return ep
}
