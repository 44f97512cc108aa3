package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// DefaultTokenRetention is how long a revoked or expired token is kept (for inventory,
// reports and Terraform's view of a token revoked outside it) before it is purged.
const DefaultTokenRetention = 90 * token.Day

// actionTokensPurge is the audit action of a purge of retired tokens.
const actionTokensPurge = "tokens.purge"

// errDryRun rolls back the transaction of a dry-run purge.
var errDryRun = errors.New("dry run")

// PurgeResult says what PurgeRetiredTokens did (or, in a dry run, would do).
type PurgeResult struct {
	Purged int       // tokens deleted
	Cutoff time.Time // tokens expired or revoked before this instant were deleted
}

// PurgeRetiredTokens deletes from st, in one write transaction, every token expired or
// revoked before now - retention, and appends one tokens.purge audit record (actor, count,
// cutoff) to the same transaction, so the purge is recorded or not done. The audit log and
// deletion-request evidence are never touched. With recordEmpty false, a purge that finds
// nothing writes no record (the service's hourly job); with dryRun, the transaction is rolled
// back and the result says how many tokens would go.
func PurgeRetiredTokens(ctx context.Context, st store.Store, retention time.Duration, now time.Time, actor string, recordEmpty, dryRun bool) (PurgeResult, error) {
	if retention <= 0 {
		return PurgeResult{}, fmt.Errorf("token retention %s: give a positive duration, e.g. 90d", token.FormatDuration(retention))
	}
	now = now.UTC().Truncate(time.Microsecond)
	res := PurgeResult{Cutoff: now.Add(-retention)}
	err := st.Update(ctx, func(tx store.Tx) error {
		n, err := tx.PurgeTokens(ctx, res.Cutoff)
		if err != nil {
			return err
		}
		res.Purged = n
		if dryRun {
			return errDryRun
		}
		if n == 0 && !recordEmpty {
			return nil
		}
		_, err = tx.AppendAudit(ctx, audit.Event{Time: now, Actor: actor, Action: actionTokensPurge, Outcome: "ok",
			Details: map[string]string{
				"purged":    strconv.Itoa(n),
				"cutoff":    res.Cutoff.Format(time.RFC3339Nano),
				"retention": token.FormatDuration(retention),
			}})
		return err
	})
	if dryRun && errors.Is(err, errDryRun) {
		return res, nil
	}
	if err != nil {
		return PurgeResult{}, fmt.Errorf("purging tokens retired before %s (nothing was deleted): %w", res.Cutoff.Format(time.RFC3339), err)
	}
	return res, nil
}

// PurgeRetiredTokens runs PurgeRetiredTokens on the server's store with its clock and
// Config.TokenRetention, as the service's periodic job does, and logs what it deleted.
func (s *Server) PurgeRetiredTokens(ctx context.Context) (PurgeResult, error) {
	res, err := PurgeRetiredTokens(ctx, s.store, s.tokenRetention, s.clock(), "system", false, false)
	if err != nil {
		s.log.Error("token retention: purge failed", "error", err.Error())
		return res, err
	}
	if res.Purged > 0 {
		s.log.Info("token retention: purged retired tokens", "count", res.Purged, "cutoff", res.Cutoff.Format(time.RFC3339))
	}
	return res, nil
}

// StartTokenPurges runs PurgeRetiredTokens now, in the background, and then every interval
// until Close (tokenguard serve: hourly). Call it once, after start-up's own audit records
// (KeyAuditChain, the admin bootstrap) are written; a second call does nothing.
func (s *Server) StartTokenPurges(interval time.Duration) {
	if interval <= 0 || s.purger != nil {
		return
	}
	s.purger = newTokenPurger(s, interval)
}

// tokenPurger runs Server.PurgeRetiredTokens once at start and then every interval.
type tokenPurger struct {
	srv      *Server
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

func newTokenPurger(srv *Server, interval time.Duration) *tokenPurger {
	p := &tokenPurger{srv: srv, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *tokenPurger) run() {
	defer close(p.done)
	purge := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		_, _ = p.srv.PurgeRetiredTokens(ctx) // logged; the next tick tries again
	}
	purge()
	ticker := time.NewTicker(p.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			purge()
		case <-p.stop:
			return
		}
	}
}

// close stops the job, waiting for a purge in progress (and the one at start) to end.
func (p *tokenPurger) close() {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
	})
}
