package server_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// revocableStore gives a store the server.CredentialRevoker capability for tests, until the
// SQLite and PostgreSQL stores implement RevokeCredential themselves: it remembers the
// credentials inserted through it and overlays revocations on every credential read.
// Revocations live in memory (they do not survive a restart); writes become visible only when
// the wrapped transaction commits, like the real thing.
type revocableStore struct {
	store.Store
	mu      sync.Mutex
	byID    map[string]store.Credential
	revoked map[string]time.Time
}

func newRevocableStore(st store.Store) store.Store {
	return &revocableStore{Store: st, byID: map[string]store.Credential{}, revoked: map[string]time.Time{}}
}

func (s *revocableStore) overlay(c store.Credential) store.Credential {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.revoked[c.ID]; ok {
		c.RevokedAt = &at
	}
	return c
}

func (s *revocableStore) View(ctx context.Context, fn func(store.Reader) error) error {
	return s.Store.View(ctx, func(r store.Reader) error { return fn(&revocableReader{Reader: r, s: s}) })
}

func (s *revocableStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	var x *revocableTx
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		x = &revocableTx{Tx: tx, s: s, revoked: map[string]time.Time{}}
		return fn(x)
	})
	if err == nil && x != nil {
		s.mu.Lock()
		for _, c := range x.inserted {
			s.byID[c.ID] = c
		}
		for id, at := range x.revoked {
			s.revoked[id] = at
		}
		s.mu.Unlock()
	}
	return err
}

type revocableReader struct {
	store.Reader
	s *revocableStore
}

func (r *revocableReader) GetCredentialByHash(ctx context.Context, hash []byte) (store.Credential, error) {
	c, err := r.Reader.GetCredentialByHash(ctx, hash)
	if err != nil {
		return c, err
	}
	return r.s.overlay(c), nil
}

type revocableTx struct {
	store.Tx
	s        *revocableStore
	inserted []store.Credential
	revoked  map[string]time.Time
}

var _ server.CredentialRevoker = (*revocableTx)(nil)

func (x *revocableTx) GetCredentialByHash(ctx context.Context, hash []byte) (store.Credential, error) {
	c, err := x.Tx.GetCredentialByHash(ctx, hash)
	if err != nil {
		return c, err
	}
	return x.s.overlay(c), nil
}

func (x *revocableTx) InsertCredential(ctx context.Context, c store.Credential) error {
	if err := x.Tx.InsertCredential(ctx, c); err != nil {
		return err
	}
	x.inserted = append(x.inserted, c)
	return nil
}

func (x *revocableTx) RevokeCredential(_ context.Context, id string, at time.Time) (store.Credential, bool, error) {
	x.s.mu.Lock()
	c, ok := x.s.byID[id]
	prev, done := x.s.revoked[id]
	x.s.mu.Unlock()
	for _, ins := range x.inserted {
		if ins.ID == id {
			c, ok = ins, true
		}
	}
	if !ok {
		return store.Credential{}, false, fmt.Errorf("credential %q: %w", id, store.ErrNotFound)
	}
	if p, pending := x.revoked[id]; pending {
		prev, done = p, true
	}
	if done {
		c.RevokedAt = &prev
		return c, false, nil
	}
	x.revoked[id] = at
	c.RevokedAt = &at
	return c, true, nil
}
