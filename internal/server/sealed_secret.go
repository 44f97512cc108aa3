// Sealed secrets (issue 21): a create or rotate that names a recipient gets the new secret
// encrypted to it, never in clear.

package server

import (
	"filippo.io/age"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/token"
)

// auditSecretSealed is the audit detail of a create or rotate whose secret was answered
// sealed: the kind of recipient ("age-x25519"); auditRecipient holds the recipient, a public
// key. Neither holds anything secret.
const (
	auditSecretSealed = "secret_sealed"
	auditRecipient    = "recipient"
)

// checkRecipient parses a request's recipient: nil when the request names none (""), a 400
// naming the field and the mistake (never repeating the value) when it is not an age X25519
// public key.
func checkRecipient(s string) (*age.X25519Recipient, error) {
	if s == "" {
		return nil, nil
	}
	r, err := token.ParseRecipient(s)
	if err != nil {
		return nil, invalid("recipient", "%s", err.Error())
	}
	return r, nil
}

// secretAnswer is how a new secret is answered: in clear, or sealed to rcpt when there is
// one (and then only sealed). It records in details, the mutation's audit record, whether it
// was sealed and to which recipient; call it before the record is appended.
func secretAnswer(secret string, rcpt *age.X25519Recipient, details map[string]string) (plain, sealed string, err error) {
	if rcpt == nil {
		return secret, "", nil
	}
	if sealed, err = token.SealSecret(secret, rcpt); err != nil {
		return "", "", err
	}
	details[auditSecretSealed] = "age-x25519"
	details[auditRecipient] = rcpt.String()
	return "", sealed, nil
}
