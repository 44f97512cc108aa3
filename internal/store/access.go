package store

// MaxHistoryTokens is the most token ids one ListTokenHistory or CountTokenVerifications
// call takes; callers with more split them.
const MaxHistoryTokens = 1000

// VerificationCount is how many verifications (introspections that named the token) the
// audit log holds for one token on one UTC day with one outcome ("active" or "inactive").
type VerificationCount struct {
	TokenID string
	Day     string // YYYY-MM-DD, UTC
	Outcome string
	Count   int64
}
