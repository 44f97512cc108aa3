// Package token holds the domain rules of tokenguard tokens that need no I/O: the secret
// format and its checksum, durations, the CPRA data vocabulary and field validation.
package token

import (
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// Prefix starts every tokenguard secret so secret scanners can find leaked tokens.
const Prefix = "tg_"

const (
	base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// IDPartLength is the length of the id part of a secret and of a token id after "tok_".
	IDPartLength = 16
	// RandomLength base62 characters carry 130 bits of randomness.
	RandomLength   = 22
	checksumLength = 6
	// IDPrefix starts every token id.
	IDPrefix = "tok_"
)

// ErrMalformed is returned by ParseSecret for any string that is not a well-formed secret.
var ErrMalformed = errors.New("malformed token")

// Secret is a parsed tokenguard secret.
type Secret struct {
	Env    string // environment label, e.g. "live"
	IDPart string // the id part; the token id is IDPrefix + IDPart
	Value  string // the whole secret string
}

// TokenID returns the id of the token this secret belongs to.
func (s Secret) TokenID() string { return IDPrefix + s.IDPart }

// NewID returns a fresh token id, "tok_" followed by IDPartLength base62 characters.
func NewID() (string, error) {
	part, err := randomBase62(IDPartLength)
	if err != nil {
		return "", err
	}
	return IDPrefix + part, nil
}

// NewSecret mints a secret for the token id in environment env.
func NewSecret(env, id string) (string, error) {
	if !validEnv(env) {
		return "", fmt.Errorf("invalid environment label %q: use 1-16 lowercase letters or digits", env)
	}
	idPart, ok := strings.CutPrefix(id, IDPrefix)
	if !ok || !isBase62(idPart) || len(idPart) != IDPartLength {
		return "", fmt.Errorf("invalid token id %q", id)
	}
	random, err := randomBase62(RandomLength)
	if err != nil {
		return "", err
	}
	body := Prefix + env + "_" + idPart + "_" + random
	return body + checksum(body), nil
}

// ParseSecret checks the shape and checksum of s without touching storage.
func ParseSecret(s string) (Secret, error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return Secret{}, ErrMalformed
	}
	parts := strings.Split(rest, "_")
	if len(parts) != 3 {
		return Secret{}, ErrMalformed
	}
	env, idPart, tail := parts[0], parts[1], parts[2]
	if !validEnv(env) || len(idPart) != IDPartLength || !isBase62(idPart) ||
		len(tail) != RandomLength+checksumLength || !isBase62(tail) {
		return Secret{}, ErrMalformed
	}
	body := s[:len(s)-checksumLength]
	if checksum(body) != s[len(s)-checksumLength:] {
		return Secret{}, ErrMalformed
	}
	return Secret{Env: env, IDPart: idPart, Value: s}, nil
}

// checksum is CRC32 (IEEE) of body in base62, left-padded to six characters.
func checksum(body string) string {
	n := crc32.ChecksumIEEE([]byte(body))
	out := make([]byte, checksumLength)
	for i := checksumLength - 1; i >= 0; i-- {
		out[i] = base62Alphabet[n%62]
		n /= 62
	}
	return string(out)
}

func randomBase62(n int) (string, error) {
	out := make([]byte, n)
	buf := make([]byte, n*2)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62: reject to keep the distribution uniform
				continue
			}
			out[i] = base62Alphabet[b%62]
			i++
			if i == n {
				break
			}
		}
	}
	return string(out), nil
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return s != ""
}

func validEnv(env string) bool {
	if len(env) == 0 || len(env) > 16 {
		return false
	}
	for i := 0; i < len(env); i++ {
		c := env[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
