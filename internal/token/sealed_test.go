package token

import (
	"io"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

func TestSealSecret_decryptsWithTheIdentityOnly(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecipient(id.Recipient().String())
	if err != nil {
		t.Fatalf("ParseRecipient: %v", err)
	}
	const secret = "tg_test_abc_0123456789"
	sealed, err := SealSecret(secret, r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, "-----BEGIN AGE ENCRYPTED FILE-----\n") || strings.Contains(sealed, secret) || strings.Contains(sealed, "tg_") {
		t.Fatalf("sealed secret is not an armored age file without the secret:\n%s", sealed)
	}
	open := func(i age.Identity) (string, error) {
		rd, err := age.Decrypt(armor.NewReader(strings.NewReader(sealed)), i)
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(rd)
		return string(b), err
	}
	if got, err := open(id); err != nil || got != secret {
		t.Fatalf("decrypt with the identity = %q, %v; want the secret", got, err)
	}
	if _, err := open(other); err == nil {
		t.Fatal("another identity decrypted the sealed secret")
	}
}

func TestParseRecipient_refusesWithoutRepeatingTheValue(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	good := id.Recipient().String()
	flipped := good[:len(good)-1] + map[bool]string{true: "q", false: "p"}[good[len(good)-1] != 'q']
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "recipient is empty"},
		{"blank", "   ", "recipient is empty"},
		{"identity", id.String(), "age identity (a private key)"},
		{"identity lower case", strings.ToLower(id.String()), "age identity (a private key)"},
		{"token secret", "tg_live_abc_secretsecret", "tokenguard secret"},
		{"ssh key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG", "SSH public key"},
		{"padded", " " + good, "white space"},
		{"zero-width space", good[:10] + "\u200b" + good[10:], "not printable ASCII"},
		{"cyrillic a", "\u0430ge1" + good[4:], "not printable ASCII"},
		{"upper case", strings.ToUpper(good), "does not start with age1"},
		{"plugin", "age1yubikey1qwertyqwertyqwertyqwertyqwertyqwertyqwertyqwe", "plugin recipient"},
		{"bad checksum", flipped, "bech32 checksum"},
		{"truncated", good[:40], "bech32 checksum"},
		{"too long", good + strings.Repeat("q", MaxRecipientLength), "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRecipient(c.in)
			if err == nil {
				t.Fatalf("ParseRecipient(%q) accepted it", c.in)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) || !strings.Contains(msg, "age-keygen") {
				t.Fatalf("error %q does not say %q and what to do", msg, c.want)
			}
			if strings.TrimSpace(c.in) != "" && strings.Contains(msg, strings.TrimSpace(c.in)) {
				t.Fatalf("error repeats the value: %q", msg)
			}
		})
	}
	if _, err := ParseRecipient(good); err != nil {
		t.Fatalf("ParseRecipient(a generated recipient) = %v", err)
	}
}
