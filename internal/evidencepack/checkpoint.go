package evidencepack

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/audit"
)

// oneKey is a single public checkpoint key, for key set id (audit.CheckpointKeys).
type oneKey struct {
	id  string
	pub ed25519.PublicKey
}

func (k oneKey) CheckpointKey(id string) (ed25519.PublicKey, bool) {
	return k.pub, id == k.id
}

// ParsePublicKey reads an Ed25519 public checkpoint key as tokenguard prints it: standard
// base64 of its 32 bytes (the pack's index.html), optionally after its key set's id as
// tokenguard audit checkpoint --public-key prints it ("KEY_ID BASE64").
func ParsePublicKey(text string) (ed25519.PublicKey, error) {
	fields := strings.Fields(text)
	if len(fields) == 0 || len(fields) > 2 {
		return nil, fmt.Errorf("%q is not an Ed25519 public key: give the %d bytes in base64, as tokenguard audit checkpoint --public-key prints them", text, ed25519.PublicKeySize)
	}
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%q is not an Ed25519 public key: give the %d bytes in base64, as tokenguard audit checkpoint --public-key prints them", text, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// VerifyCheckpoint checks the signature of the pack's checkpoint cp with every key it is
// given, and returns the sentence that says what the check proves:
//
//   - keys, the service's key file (nil: none): the signature verifies with the checkpoint
//     key of cp's key set, so the holder of that key file, the service, signed it;
//   - pub, a public key the auditor holds (nil: none), e.g. one the operator published: the
//     holder of that key signed it;
//   - with neither, the public key the pack embeds: the checkpoint was not changed after the
//     holder of that key signed it, and nothing more (whoever rewrites a pack can embed a key
//     of their own).
//
// The key the pack embeds must be the key each given source names. The checkpoint's records
// are checked against the chain by the caller (audit.Verifier.Expect with CheckpointKeys).
func VerifyCheckpoint(cp Checkpoint, pub ed25519.PublicKey, keys audit.CheckpointKeys) (string, error) {
	if cp.Kind != CheckpointSigned {
		return "", fmt.Errorf("%w: the audit checkpoint is of kind %q, not a signed checkpoint (%q)", ErrTampered, cp.Kind, CheckpointSigned)
	}
	if len(cp.PublicKey) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: the audit checkpoint embeds no Ed25519 public key", ErrTampered)
	}
	embedded := ed25519.PublicKey(cp.PublicKey)
	what := fmt.Sprintf("record %d with hash %s at %s", cp.Seq, cp.Hash, cp.Time.UTC().Format("2006-01-02T15:04:05Z"))
	var proofs []string
	if keys != nil {
		if err := cp.Verify(keys); err != nil {
			return "", fmt.Errorf("%w: %w", ErrTampered, err)
		}
		if own, _ := keys.CheckpointKey(cp.KeyID); !own.Equal(embedded) {
			return "", fmt.Errorf("%w: the pack embeds a checkpoint public key other than key set %q of the key file", ErrTampered, cp.KeyID)
		}
		proofs = append(proofs, fmt.Sprintf("the signature verifies with the checkpoint key of key set %q of the key file: the service holding that key file signed %s", cp.KeyID, what))
	}
	if pub != nil {
		if err := cp.Verify(oneKey{id: cp.KeyID, pub: pub}); err != nil {
			return "", fmt.Errorf("%w: %w (checked with the public key given)", ErrTampered, err)
		}
		if !pub.Equal(embedded) {
			return "", fmt.Errorf("%w: the pack embeds a checkpoint public key other than the one given", ErrTampered)
		}
		proofs = append(proofs, "the signature verifies with the public key given: its holder signed "+what)
	}
	if len(proofs) == 0 {
		if err := cp.Verify(oneKey{id: cp.KeyID, pub: embedded}); err != nil {
			return "", fmt.Errorf("%w: %w", ErrTampered, err)
		}
		proofs = append(proofs, "the signature verifies with the public key embedded in the pack: this proves only that the checkpoint "+
			"was not changed after the holder of that key signed it, NOT that the service signed it (whoever rewrites a pack can embed a key "+
			"of their own); give --checkpoint-key (the service's published key) or --key-file to prove who signed it")
	}
	return "audit checkpoint: " + strings.Join(proofs, "; "), nil
}

// CheckpointKeys is the key a pack's checkpoint is checked against in the chain
// (audit.Verifier.Expect), once VerifyCheckpoint accepted it.
func (c Checkpoint) CheckpointKeys() audit.CheckpointKeys {
	return oneKey{id: c.KeyID, pub: ed25519.PublicKey(c.PublicKey)}
}

// EncodedPublicKey is the checkpoint's public key as ParsePublicKey reads it.
func (c Checkpoint) EncodedPublicKey() string { return base64.StdEncoding.EncodeToString(c.PublicKey) }

// checkpointKeys is the public checkpoint keys of a pack's two checkpoints, by key set id.
type checkpointKeys map[string]ed25519.PublicKey

func (k checkpointKeys) CheckpointKey(id string) (ed25519.PublicKey, bool) {
	pub, ok := k[id]
	return pub, ok
}

// PackCheckpointKeys is the keys the checkpoints of a pack, its own (c) and its issuance's
// (i), are checked against in the chain (audit.Verifier.Expect), once VerifyCheckpoint
// accepted both. Both name their key set; when they name the same one, they must embed the
// same key (else the checkpoint of issuance is checked against c's and fails).
func PackCheckpointKeys(c Checkpoint, i Issuance) audit.CheckpointKeys {
	return checkpointKeys{i.Checkpoint.KeyID: ed25519.PublicKey(i.PublicKey), c.KeyID: ed25519.PublicKey(c.PublicKey)}
}
