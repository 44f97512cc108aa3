package server

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Defaults of the failed-authentication limiter.
const (
	// DefaultAuthFailuresPerMinute is how many failed authentications a source may make per
	// minute (and in a burst) before it is refused with 429.
	DefaultAuthFailuresPerMinute = 10
	// maxLimitedSources bounds the limiter's memory: at most this many sources are tracked.
	maxLimitedSources = 10000
)

// failureLimiter limits failed authentication attempts per source address with a token
// bucket: each source holds up to burst tokens, refilled at burst per minute; a failed
// attempt takes one, and a source without a whole token is refused before its credential is
// even looked at (so a brute-force guess cannot be confirmed by a different answer). A
// successful request takes nothing. Time comes from the server's clock, so tests drive it
// with a fake clock.
//
// Memory is bounded: at most maxSources buckets exist. A bucket that has refilled is
// equivalent to no bucket and is dropped first; if every tracked source is still limited,
// an arbitrary one is dropped (that source regains its burst early: a bounded leak of
// attempts, preferred to unbounded memory or refusing new sources).
type failureLimiter struct {
	mu         sync.Mutex
	now        func() time.Time
	burst      float64
	refill     time.Duration // time to regain one token
	maxSources int
	buckets    map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// newFailureLimiter returns a limiter of perMinute failures per source, or nil (no limit)
// when perMinute is not positive.
func newFailureLimiter(perMinute int, now func() time.Time) *failureLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &failureLimiter{now: now, burst: float64(perMinute), refill: time.Minute / time.Duration(perMinute),
		maxSources: maxLimitedSources, buckets: map[string]*bucket{}}
}

// level returns b's tokens at now.
func (l *failureLimiter) level(b *bucket, now time.Time) float64 {
	elapsed := now.Sub(b.at)
	if elapsed <= 0 {
		return b.tokens
	}
	return math.Min(l.burst, b.tokens+float64(elapsed)/float64(l.refill))
}

// blocked reports whether src must be refused now, and after how long it may try again.
func (l *failureLimiter) blocked(src string) (time.Duration, bool) {
	if l == nil {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[src]
	if !ok {
		return 0, false
	}
	lvl := l.level(b, l.now())
	if lvl >= 1 {
		return 0, false
	}
	return time.Duration((1 - lvl) * float64(l.refill)), true
}

// fail records a failed attempt by src.
func (l *failureLimiter) fail(src string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[src]
	if !ok {
		if len(l.buckets) >= l.maxSources {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[src] = b
	}
	b.tokens = math.Max(0, l.level(b, now)-1)
	b.at = now
}

// evict makes room for one more bucket. Called with l.mu held.
func (l *failureLimiter) evict(now time.Time) {
	for src, b := range l.buckets {
		if l.level(b, now) >= l.burst {
			delete(l.buckets, src)
		}
	}
	for src := range l.buckets {
		if len(l.buckets) < l.maxSources {
			return
		}
		delete(l.buckets, src)
	}
}

// size is the number of tracked sources (for tests).
func (l *failureLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// sourceOf is the source address of r for the limiter: the peer's IP, unless the peer is a
// trusted proxy (Config.TrustedProxies). Then it is the rightmost address of X-Forwarded-For
// that is not a trusted proxy: each proxy appends the address it received the request from,
// so the entries right of that one were written by trusted proxies and the ones left of it by
// the client, who can write anything there. When every entry is a trusted proxy, the leftmost
// one. Without trusted proxies forwarding headers are ignored: any client can set them.
func (s *Server) sourceOf(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		peer = host
	}
	if len(s.trustedProxies) == 0 || !s.trustedProxy(peer) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	if len(hops) == 0 {
		return peer
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if !s.trustedProxy(hops[i]) {
			if a, err := netip.ParseAddr(hops[i]); err == nil {
				return a.Unmap().String()
			}
			return hops[i] // not an address: written by a trusted proxy, so used as it is
		}
	}
	return hops[0]
}

// trustedProxy reports whether addr is an address within Config.TrustedProxies.
func (s *Server) trustedProxy(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.trustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// tooManyFailures is the answer to a source over its failure limit.
func tooManyFailures(w http.ResponseWriter, r *http.Request, retryAfter time.Duration) {
	secs := int64(math.Ceil(retryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeErrorFor(w, r, &apiError{status: http.StatusTooManyRequests, code: wire.CodeTooManyFailedAttempts,
		message: "too many failed authentication attempts from this address: wait " + strconv.FormatInt(secs, 10) + "s (see Retry-After) and check the credential"})
}
