package server

import (
	"context"
	"sync"
	"time"
)

// writeProbeEvery is how long a passed write probe stands for /readyz. /readyz needs no
// credential and the probe takes the write lock (and on SQLite writes 256 KiB), so a healthy
// database sees at most one probe a second however often /readyz is asked, and concurrent
// calls share the probe in flight. A failed probe is not remembered: the next call probes
// again, so recovery shows at once.
const writeProbeEvery = time.Second

// writeProbes runs and remembers the write probe for /readyz.
type writeProbes struct {
	mu       sync.Mutex
	passedAt time.Time     // when the last probe passed (the server's clock); zero: never
	inFlight chan struct{} // closed when the running probe ends; nil: none runs
	result   error         // of the last probe that ended
}

// check answers from a probe that passed within writeProbeEvery of now, or from the probe in
// flight, or runs probe.
func (p *writeProbes) check(ctx context.Context, now time.Time, probe func(context.Context) error) error {
	p.mu.Lock()
	if !p.passedAt.IsZero() && now.Sub(p.passedAt) >= 0 && now.Sub(p.passedAt) < writeProbeEvery {
		p.mu.Unlock()
		return nil
	}
	if wait := p.inFlight; wait != nil {
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.result
	}
	done := make(chan struct{})
	p.inFlight = done
	p.mu.Unlock()

	err := probe(ctx)
	p.mu.Lock()
	p.result, p.inFlight = err, nil
	if err == nil {
		p.passedAt = now
	} else {
		p.passedAt = time.Time{}
	}
	p.mu.Unlock()
	close(done)
	return err
}
