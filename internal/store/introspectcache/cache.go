// Package introspectcache keeps introspection reads (store.Store.ReadForIntrospection)
// between requests, and uses a kept read only when a revision read that started after the
// request arrived shows that no token or credential has changed since the read was made.
//
// The database gives its introspection revision (store.Revision) a new random value in the
// transaction of every change of a token or a credential, by triggers, also for changes made
// outside tokenguard. A read is kept with the revision read in its own statement; a request
// that finds a kept read for its credential and token waits for a revision read that starts
// after it arrived (one read serves every request waiting: see revisionReads) and uses the
// kept read only when both revisions are equal. Otherwise it reads the database as before.
// So a revocation (or any other change) committed before a request arrived, by any instance
// or by hand in SQL, is seen by that request: no kept read outlives it.
//
// What is kept is the read, not the verdict: the caller judges expiry, rotation overlaps and
// credential grants on every request, at that request's instant.
package introspectcache

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// DefaultMaxEntries is how many reads a Cache keeps unless told otherwise: about 2 kB each
// (a token's scopes, audiences and sealed owner, and the secret hashes the database holds).
const DefaultMaxEntries = 10000

// revisionReadsInFlight is how many revision reads run at once. One: in
// BenchmarkIntrospect_handlerPostgreSQL two in flight shared fewer requests per read (4.1 to
// 5.1 against 6.1 to 7.7) for no more throughput, and on SQLite the reads are CPU, not waits.
const revisionReadsInFlight = 1

// hashSize is the size of the secret hashes a Cache keys its reads by (HMAC-SHA256).
const hashSize = 32

// Store is what a Cache reads: store.Store's introspection read and revision read.
type Store interface {
	ReadForIntrospection(ctx context.Context, credentialHash, tokenHash []byte) (store.IntrospectionRead, error)
	ReadRevision(ctx context.Context) (store.Revision, error)
}

// Cache is a bounded set of introspection reads, safe for concurrent use. Its
// ReadForIntrospection answers as the store's does.
type Cache struct {
	st        Store
	revisions *revisionReads
	max       int

	mu      sync.Mutex
	entries map[entryKey]store.IntrospectionRead

	hits, misses atomic.Uint64
}

// entryKey is a credential's secret hash followed by a token secret's hash.
type entryKey [2 * hashSize]byte

// New returns a Cache of at most maxEntries reads of st (DefaultMaxEntries when maxEntries is
// not positive).
func New(st Store, maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Cache{st: st, revisions: newRevisionReads(st.ReadRevision, revisionReadsInFlight), max: maxEntries,
		entries: make(map[entryKey]store.IntrospectionRead)}
}

// ReadForIntrospection returns what st.ReadForIntrospection would return for the hashes if
// called now: a kept read when a revision read that started after this call shows the
// database unchanged since that read, otherwise a read of the database (kept for the next
// calls when it found both the credential and the token). The returned read may be shared
// with other calls: its slices must not be modified.
func (c *Cache) ReadForIntrospection(ctx context.Context, credentialHash, tokenHash []byte) (store.IntrospectionRead, error) {
	if len(credentialHash) != hashSize || len(tokenHash) != hashSize {
		return c.st.ReadForIntrospection(ctx, credentialHash, tokenHash)
	}
	var k entryKey
	copy(k[:hashSize], credentialHash)
	copy(k[hashSize:], tokenHash)
	c.mu.Lock()
	kept, ok := c.entries[k]
	c.mu.Unlock()
	if ok {
		// A failed revision read (the database, or a revision trigger found missing) is
		// answered by reading the database, which is always right.
		if rev, err := c.revisions.read(ctx); err == nil && rev == kept.Revision {
			c.hits.Add(1)
			return kept, nil
		}
	}
	c.misses.Add(1)
	got, err := c.st.ReadForIntrospection(ctx, credentialHash, tokenHash)
	if err != nil {
		return store.IntrospectionRead{}, err
	}
	// Reads that found nothing are not kept: secrets that identify nothing (guesses, typos)
	// would only push out the reads of real callers.
	if got.CredentialFound && got.TokenFound {
		c.keep(k, got)
	} else if ok {
		c.drop(k)
	}
	return got, nil
}

// drop forgets the read kept under k.
func (c *Cache) drop(k entryKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, k)
}

// keep stores got under k, first dropping another read when the cache is full.
func (c *Cache) keep(k entryKey, got store.IntrospectionRead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for other := range c.entries { // map order: an arbitrary read goes
			delete(c.entries, other)
			break
		}
	}
	c.entries[k] = got
}

// Len is how many reads the cache keeps.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Stats are the calls of ReadForIntrospection answered with a kept read (Hits) and with a read
// of the database (Misses), and the revision reads made for them (RevisionReads; fewer than
// the calls that found a kept read when calls share reads), since New.
type Stats struct{ Hits, Misses, RevisionReads uint64 }

// Stats returns the counts so far.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), RevisionReads: c.revisions.reads.Load()}
}
