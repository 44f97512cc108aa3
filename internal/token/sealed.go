// Sealed secrets: a secret encrypted to the holder's age X25519 public key (issue 21), so
// that only the holder of the matching identity can read it and Terraform state, which is
// copied, cached and backed up, never holds it in clear.

package token

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// MaxRecipientLength bounds a recipient; an age X25519 recipient is 62 characters.
const MaxRecipientLength = 200

// recipientHelp says what a recipient is and where to get one; every refusal ends with it.
const recipientHelp = "give an age X25519 public key (age1…, 62 characters), as printed by `age-keygen` or `age-keygen -y key.txt`"

// ParseRecipient parses an age X25519 public key (`age1…`). The error says what is wrong
// and never repeats the value: a user may paste an age identity (the private key), or a
// token secret, where the public key belongs.
func ParseRecipient(s string) (*age.X25519Recipient, error) {
	trimmed := strings.TrimSpace(s)
	switch {
	case trimmed == "":
		return nil, errors.New("recipient is empty: " + recipientHelp)
	case len(s) > MaxRecipientLength:
		return nil, fmt.Errorf("recipient is longer than %d characters: %s", MaxRecipientLength, recipientHelp)
	case trimmed != s:
		return nil, errors.New("recipient has leading or trailing white space: remove it and " + recipientHelp)
	case strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-"):
		return nil, errors.New("recipient is an age identity (a private key), not a public key: never share it; " + recipientHelp)
	case strings.HasPrefix(s, "tg_"):
		return nil, errors.New("recipient is a tokenguard secret, not a public key: revoke or rotate that token, it was exposed; " + recipientHelp)
	case strings.HasPrefix(s, "ssh-"):
		return nil, errors.New("recipient is an SSH public key: only age X25519 recipients are supported; " + recipientHelp)
	case strings.IndexFunc(s, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0:
		return nil, errors.New("recipient holds a character that is not printable ASCII (an invisible or look-alike character): " + recipientHelp)
	case !strings.HasPrefix(s, "age1"):
		return nil, errors.New("recipient does not start with age1: " + recipientHelp)
	case strings.Contains(s[len("age1"):], "1"): // the bech32 data part of an X25519 key has no "1"
		return nil, errors.New("recipient is an age plugin recipient (age1<plugin>1…), which the service cannot encrypt to: " + recipientHelp)
	}
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		// age's message repeats the value; say only what kind of mistake it is.
		return nil, errors.New("recipient is not a valid age X25519 public key (its length or bech32 checksum is wrong, or it is not lower case): " + recipientHelp)
	}
	return r, nil
}

// SealSecret encrypts secret to recipient as an ASCII-armored age file (`-----BEGIN AGE
// ENCRYPTED FILE-----`), which `age -d -i key.txt` decrypts.
func SealSecret(secret string, recipient *age.X25519Recipient) (string, error) {
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, recipient)
	if err != nil {
		return "", fmt.Errorf("sealing the secret: %w", err)
	}
	if _, err := io.WriteString(w, secret); err != nil {
		return "", fmt.Errorf("sealing the secret: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("sealing the secret: %w", err)
	}
	if err := aw.Close(); err != nil {
		return "", fmt.Errorf("sealing the secret: %w", err)
	}
	return buf.String(), nil
}
