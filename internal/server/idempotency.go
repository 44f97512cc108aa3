package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// MaxIdempotencyKeyLength is the longest Idempotency-Key header accepted.
const MaxIdempotencyKeyLength = 255

// ReplayHeader is set to "true" on a response replayed from an earlier request with the same
// Idempotency-Key.
const ReplayHeader = "Idempotent-Replayed"

// DefaultIdempotencyRetention is how long a stored idempotent answer is kept: 24 hours.
const DefaultIdempotencyRetention = 24 * time.Hour

// idempotencyPurgeEvery is how often, at most, one instance deletes the expired answers (in
// the transaction of a request that carries a key). An expired answer met in between is
// never replayed: lookups compare its age too.
const idempotencyPurgeEvery = time.Minute

// errAnswerExpired marks a stored answer found past its retention: the transaction is
// rolled back, the expired answers purged, and the request run as a new one.
var errAnswerExpired = errors.New("stored idempotent answer expired")

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
	// The request body is kept only as a keyed hash: it may hold personal data (a subject).
	sum, _ := s.keys.HashSecret(idempotencyBodyPrefix + string(body))

	if key != "" {
		if err := s.purgeExpiredAnswersDue(ctx, false); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		var status int
		var resp []byte
		replayed := false
		err := s.store.Update(ctx, func(tx store.Tx) error {
			if key != "" {
				rec, err := tx.GetIdempotency(ctx, scoped)
				if err == nil && s.answerExpired(rec) {
					return errAnswerExpired // purged below, then the request runs as a new one
				}
				switch {
				case err == nil:
					if !s.sameRequest(rec.RequestHash, body) {
						return conflict(wire.CodeIdempotencyKeyReused, "Idempotency-Key",
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
				err = tx.PutIdempotency(ctx, store.Idempotency{Key: scoped, RequestHash: sum, Status: st, Response: sealed, CreatedAt: now})
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
		if errors.Is(err, errAnswerExpired) && attempt < 3 {
			// Past its retention the key is a new request: delete the expired answers in a
			// transaction of their own (committed whatever the request then does), and run it.
			if err := s.purgeExpiredAnswersDue(ctx, true); err != nil {
				return err
			}
			continue
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

// idempotencyBodyPrefix separates the keyed hash of a request body from those of secrets.
const idempotencyBodyPrefix = "idempotency-request\x00"

// sameRequest reports whether stored, the request hash of an idempotency record, is the hash
// of body: the keyed hash under any key set of the keyring, or the plain SHA-256 that records
// written before keyed hashes hold (they expire with their retention).
func (s *Server) sameRequest(stored, body []byte) bool {
	for _, h := range s.keys.SecretHashes(idempotencyBodyPrefix + string(body)) {
		if hmac.Equal(stored, h) {
			return true
		}
	}
	legacy := sha256.Sum256(body)
	return hmac.Equal(stored, legacy[:])
}

// answerExpired reports whether rec is past the idempotency retention at the server's clock.
func (s *Server) answerExpired(rec store.Idempotency) bool {
	return rec.CreatedAt.Before(s.clock().Add(-s.idemRetention))
}

// purgeExpiredAnswersDue deletes, in a transaction of its own, every stored answer past the
// idempotency retention (their sealed secrets with them): always when force, else at most
// once per idempotencyPurgeEvery on this instance.
func (s *Server) purgeExpiredAnswersDue(ctx context.Context, force bool) error {
	now := s.clock()
	last := s.idemPurgedAt.Load()
	if !force && now.UnixNano()-last < int64(idempotencyPurgeEvery) && now.UnixNano() >= last {
		return nil
	}
	s.idemPurgedAt.Store(now.UnixNano())
	return s.store.Update(ctx, func(tx store.Tx) error { return s.purgeExpiredAnswers(ctx, tx) })
}

// purgeExpiredAnswers deletes, in tx, every stored answer past the idempotency retention.
func (s *Server) purgeExpiredAnswers(ctx context.Context, tx store.Tx) error {
	n, err := tx.PurgeIdempotency(ctx, s.clock().Add(-s.idemRetention))
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("purged expired idempotent answers", "count", n)
	}
	return nil
}

// eraseAnswersOf replaces, in tx, every stored idempotent answer that holds the data subject
// with blind index subjIdx (a token answer listing it in data_subjects) by a 410
// answer_erased error naming the token and the deletion request: a replay then answers
// neither the subject nor the secret, and does not mint again. Stored answers are sealed, so
// each one within retention is opened to look; they expire after the idempotency retention,
// which bounds the walk. It returns how many answers it replaced.
func (s *Server) eraseAnswersOf(ctx context.Context, tx store.Tx, subjIdx, deletionID string) (int, error) {
	erased := 0
	for after := ""; ; {
		page, err := tx.ListIdempotency(ctx, after, deletionScanPage)
		if err != nil {
			return erased, fmt.Errorf("listing stored idempotent answers: %w", err)
		}
		for _, rec := range page {
			plain, err := s.keys.Open(rec.Response)
			if err != nil {
				return erased, fmt.Errorf("opening a stored idempotent answer: %w", err)
			}
			var answer struct {
				ID           string   `json:"id"`
				DataSubjects []string `json:"data_subjects"`
			}
			if json.Unmarshal(plain, &answer) != nil ||
				!slices.ContainsFunc(answer.DataSubjects, func(subj string) bool { return s.subjectIndex(subj) == subjIdx }) {
				continue
			}
			var body wire.ErrorBody
			body.Error.Code = wire.CodeAnswerErased
			body.Error.Message = fmt.Sprintf("the answer to this request is no longer kept: it held a data subject erased by deletion request %s "+
				"(Cal. Civ. Code 1798.105); token %s is revoked and its secret is not returned again. Nothing was done now: create a new token if one is still needed",
				deletionID, answer.ID)
			out, err := json.Marshal(body)
			if err != nil {
				return erased, err
			}
			sealed, err := s.keys.Seal(out)
			if err != nil {
				return erased, err
			}
			if err := tx.ReplaceIdempotency(ctx, rec.Key, http.StatusGone, sealed); err != nil {
				return erased, err
			}
			erased++
		}
		if len(page) < deletionScanPage {
			return erased, nil
		}
		after = page[len(page)-1].Key
	}
}
