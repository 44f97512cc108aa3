package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// Headers of a GitHub secret scanning partner report: the id of the key that signed the
// body, and the signature (base64 of an ASN.1 DER ECDSA P-256 signature of SHA-256(body)).
const (
	headerScanKeyID     = "Github-Public-Key-Identifier"
	headerScanSignature = "Github-Public-Key-Signature"
)

// maxReportedSecrets is the most secrets one report may hold.
const maxReportedSecrets = 1000

// maxReportFieldLength bounds the type, url and source of a reported secret kept in the audit log.
const maxReportFieldLength = 2048

// SecretScanningKeys are the public keys that may sign leaked-secret reports, by key
// identifier. Parse them with ParseSecretScanningKeys.
type SecretScanningKeys map[string]*ecdsa.PublicKey

// ParseSecretScanningKeys parses data in the shape GitHub publishes its secret scanning
// keys in, {"public_keys":[{"key_identifier","key","is_current"}]}, key being a PEM public
// key. Every listed key is accepted (a key that is no longer current may still sign reports
// in flight). Only ECDSA P-256 keys are accepted.
func ParseSecretScanningKeys(data []byte) (SecretScanningKeys, error) {
	var doc struct {
		PublicKeys []struct {
			KeyIdentifier string `json:"key_identifier"`
			Key           string `json:"key"`
			IsCurrent     bool   `json:"is_current"`
		} `json:"public_keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf(`secret scanning keys: not the JSON GitHub publishes ({"public_keys":[{"key_identifier","key","is_current"}]}): %w`, err)
	}
	if len(doc.PublicKeys) == 0 {
		return nil, errors.New("secret scanning keys: public_keys is empty: list at least one key")
	}
	keys := SecretScanningKeys{}
	for i, k := range doc.PublicKeys {
		if k.KeyIdentifier == "" {
			return nil, fmt.Errorf("secret scanning keys: public_keys[%d] has no key_identifier", i)
		}
		block, _ := pem.Decode([]byte(k.Key))
		if block == nil {
			return nil, fmt.Errorf("secret scanning keys: key %q: key is not a PEM public key", k.KeyIdentifier)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("secret scanning keys: key %q: %w", k.KeyIdentifier, err)
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("secret scanning keys: key %q: want an ECDSA P-256 key", k.KeyIdentifier)
		}
		if _, dup := keys[k.KeyIdentifier]; dup {
			return nil, fmt.Errorf("secret scanning keys: key_identifier %q is listed twice", k.KeyIdentifier)
		}
		keys[k.KeyIdentifier] = ec
	}
	return keys, nil
}

// reportedSecret is one entry of a leaked-secret report.
type reportedSecret struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// reportLabel is the answer for one reported secret, in the partner program's feedback
// shape. token_hash (hex SHA-256 of the secret), which the program accepts in place of
// token_raw, keeps the answer from echoing the secret.
type reportLabel struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// Labels of the partner program's feedback.
const (
	labelTruePositive  = "true_positive"
	labelFalsePositive = "false_positive"
)

// secretScanningReport serves POST /v1/secret-scanning/reports: a leaked-secret report in
// GitHub's secret scanning partner program format. The body must be signed by a configured
// key (Config.SecretScanningKeys; no key is fetched at run time); an unsigned, forged or
// unknown-key report is refused 401 before its body is parsed and changes nothing. Every
// reported live tg_ secret is revoked as POST /v1/revoke does, the audit record naming the
// report's url, source and type (never the secret); the answer labels each secret
// true_positive (a secret of one of this service's tokens, revoked now or already dead) or
// false_positive.
func (s *Server) secretScanningReport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
		s.serveAuthedBy(w, r, func() (*caller, error) {
			if len(s.scanKeys) == 0 {
				return nil, &apiError{status: http.StatusNotFound, code: wire.CodeNotFound,
					message: "secret scanning reports are not configured: start serve with --secret-scanning-keys"}
			}
			if readErr != nil {
				return nil, invalid("", "reading the report failed or it is larger than %d bytes", s.maxBody)
			}
			return s.verifyReport(r, body)
		}, func(w http.ResponseWriter, r *http.Request, c *caller) error {
			reported, err := parseReport(body)
			if err != nil {
				return err
			}
			answer := make([]reportLabel, 0, len(reported))
			for _, rep := range reported {
				details := map[string]string{"via": "secret_scanning", "type": reportField(rep.Type),
					"url": reportField(rep.URL), "source": reportField(rep.Source)}
				_, known, err := s.revokeSecretKnown(r.Context(), c, rep.Token, details)
				if err != nil {
					return err
				}
				sum := sha256.Sum256([]byte(rep.Token))
				label := labelFalsePositive
				if known {
					label = labelTruePositive
				}
				answer = append(answer, reportLabel{TokenHash: hex.EncodeToString(sum[:]), TokenType: reportField(rep.Type), Label: label})
			}
			writeJSON(w, http.StatusOK, answer)
			return nil
		})
	})
}

// verifyReport checks the signature headers of r over body and returns the caller: the
// signing key, named in the audit log as secret-scanning:<key identifier>.
func (s *Server) verifyReport(r *http.Request, body []byte) (*caller, error) {
	if len(r.Header.Values(headerScanKeyID)) != 1 || len(r.Header.Values(headerScanSignature)) != 1 {
		return nil, unauthenticated("a report needs exactly one " + headerScanKeyID + " and one " + headerScanSignature + " header")
	}
	id := r.Header.Get(headerScanKeyID)
	pub, ok := s.scanKeys[id]
	if !ok {
		return nil, unauthenticated("the report is signed with a key that is not configured")
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Header.Get(headerScanSignature)))
	if err != nil {
		return nil, unauthenticated(headerScanSignature + " is not base64")
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return nil, unauthenticated("the report's signature does not verify")
	}
	c := &caller{id: "secret-scanning:" + reportField(id)}
	noteCaller(r, c)
	return c, nil
}

// parseReport decodes a report: a JSON array of {token, type, url, source}. Members the
// program may add later are ignored; a missing token is refused.
func parseReport(body []byte) ([]reportedSecret, error) {
	var reported []reportedSecret
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&reported); err != nil {
		return nil, invalid("", "the report is not a JSON array of {token, type, url, source}")
	}
	if dec.More() {
		return nil, invalid("", "the report has data after its JSON array")
	}
	if len(reported) > maxReportedSecrets {
		return nil, invalid("", "the report lists %d secrets: send at most %d per report", len(reported), maxReportedSecrets)
	}
	for i, rep := range reported {
		if rep.Token == "" {
			return nil, invalid(fmt.Sprintf("[%d].token", i), "entry %d has no token", i)
		}
	}
	return reported, nil
}

// reportField is v cut to maxReportFieldLength with control and format characters (which
// could forge lines or hide text) replaced, safe to keep in the audit log.
func reportField(v string) string {
	if len(v) > maxReportFieldLength {
		v = v[:maxReportFieldLength]
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(v, "?"))
}
