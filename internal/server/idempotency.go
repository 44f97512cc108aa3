package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
)

// MaxIdempotencyKeyLength is the longest Idempotency-Key header accepted.
const MaxIdempotencyKeyLength = 255

// ReplayHeader is set to "true" on a response replayed from an earlier request with the same
// Idempotency-Key.
const ReplayHeader = "Idempotent-Replayed"

// errIdempotencyRace marks a lost race to store an idempotency record: another request with
// the same key committed first, so the whole transaction is rolled back and replayed.
var errIdempotencyRace = errors.New("idempotency key stored concurrently")

// mutationFunc does a mutation inside tx at instant now and returns the status and the body
// of the response. It returns an *apiError for refusals.
type mutationFunc func(tx store.Tx, now time.Time) (status int, response any, err error)

// mutate runs fn in one write transaction and writes its response. With an Idempotency-Key
// header, the response is stored (sealed: it may hold a secret) in the same transaction,
// keyed by credential, method, path and client key; a later request with the same key and
// body gets the stored response verbatim, and one with a different body gets 409. Because
// the record commits with the mutation, two concurrent retries cannot both mint.
func (s *Server) mutate(w http.ResponseWriter, r *http.Request, c *caller, body []byte, fn mutationFunc) error {
	ctx := r.Context()
	key := r.Header.Get("Idempotency-Key")
	if len(key) > MaxIdempotencyKeyLength {
		return invalid("Idempotency-Key", "Idempotency-Key is longer than %d characters", MaxIdempotencyKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return invalid("Idempotency-Key", "Idempotency-Key must be printable ASCII without spaces")
		}
	}
	scoped := c.id + " " + r.Method + " " + r.URL.EscapedPath() + " " + key
	sum := sha256.Sum256(body)

	for attempt := 0; ; attempt++ {
		var status int
		var resp []byte
		replayed := false
		err := s.store.Update(ctx, func(tx store.Tx) error {
			if key != "" {
				rec, err := tx.GetIdempotency(ctx, scoped)
				switch {
				case err == nil:
					if !hmac.Equal(rec.RequestHash, sum[:]) {
						return conflict("idempotency_key_reused", "Idempotency-Key",
							"this Idempotency-Key was already used with a different request body: use a new key for a new request")
					}
					plain, err := s.keys.Open(rec.Response)
					if err != nil {
						return fmt.Errorf("opening stored idempotent response: %w", err)
					}
					status, resp, replayed = rec.Status, plain, true
					return nil
				case !errors.Is(err, store.ErrNotFound):
					return err
				}
			}
			now := s.clock()
			st, v, err := fn(tx, now)
			if err != nil {
				return err
			}
			out, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("encoding response: %w", err)
			}
			if key != "" {
				sealed, err := s.keys.Seal(out)
				if err != nil {
					return err
				}
				err = tx.PutIdempotency(ctx, store.Idempotency{Key: scoped, RequestHash: sum[:], Status: st, Response: sealed, CreatedAt: now})
				if errors.Is(err, store.ErrConflict) {
					return errIdempotencyRace
				}
				if err != nil {
					return err
				}
			}
			status, resp = st, out
			return nil
		})
		if errors.Is(err, errIdempotencyRace) && attempt < 3 {
			continue // the other request committed: the next attempt replays its response
		}
		if err != nil {
			return err
		}
		if replayed {
			w.Header().Set(ReplayHeader, "true")
		}
		writeRaw(w, status, resp)
		return nil
	}
}
