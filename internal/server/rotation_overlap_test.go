package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestRotation_insideARunningOverlapIsRefusedAndThePreviousSecretKeepsItsWord runs
// runRotationKeepsItsWord on SQLite.
func TestRotation_insideARunningOverlapIsRefusedAndThePreviousSecretKeepsItsWord(t *testing.T) {
	runRotationKeepsItsWord(t, nil)
}

// TestRotation_insideARunningOverlapIsRefused_PostgreSQL runs it on PostgreSQL.
func TestRotation_insideARunningOverlapIsRefused_PostgreSQL(t *testing.T) {
	runRotationKeepsItsWord(t, postgresWrap(t))
}

// runRotationKeepsItsWord proves issue 13, point 6: a rotation announces that the previous
// secret works until rotated_at + overlap, and no later request breaks that: a second
// rotation before then (with the token's overlap, another overlap, or a replayed key of a
// different body) is refused with 409 rotation_overlap_running naming the instant it may
// run, changes nothing, and the previous secret stays active to the microsecond; at that
// instant the rotation runs. A short overlap ends as short.
func runRotationKeepsItsWord(t *testing.T, wrap func(store.Store) store.Store) {
	ctx := context.Background()
	clock := servertest.NewClock(t0)
	svc := servertest.Start(t, servertest.Options{Now: clock.Now, WrapStore: wrap})
	admin := svc.Client(t)
	ic, _ := introspector(t, svc)
	active := func(secret string) bool {
		t.Helper()
		in, err := ic.Introspect(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		return in.Active
	}

	created, err := admin.CreateToken(ctx, compliantRequest("invoice-export"), "") // overlap 1h
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	first, err := admin.RotateToken(ctx, created.ID, wire.RotateRequest{}, "rotate-1")
	if err != nil {
		t.Fatal(err)
	}
	promised := t0.Add(time.Minute + time.Hour)
	if !first.PreviousValidTil.Equal(promised) {
		t.Fatalf("previous_valid_until = %v, want %v", first.PreviousValidTil, promised)
	}

	attempts := []wire.RotateRequest{{}, {Overlap: "1s"}, {Overlap: "5m"}, {Overlap: "2h"}}
	for _, at := range []time.Duration{0, 30 * time.Minute, time.Hour - time.Microsecond} {
		clock.Set(t0.Add(time.Minute + at))
		for _, req := range attempts {
			_, err := admin.RotateToken(ctx, created.ID, req, "")
			wantAPIError(t, err, http.StatusConflict, "rotation_overlap_running", "")
			var re *client.ResponseError
			_ = errors.As(err, &re)
			if !strings.Contains(re.Message, promised.Format(time.RFC3339)) || !strings.Contains(re.Message, "revoke") {
				t.Fatalf("message %q does not name the instant the rotation may run and the way to stop every secret", re.Message)
			}
		}
		if !active(created.Secret) || !active(first.Secret) {
			t.Fatalf("%v into the overlap: the first secret or the second stopped working", at)
		}
	}
	got, err := admin.GetToken(ctx, created.ID)
	if err != nil || got.SecretVersion != 2 || got.Fingerprint != first.Fingerprint {
		t.Fatalf("refused rotations changed the token: %+v, %v", got, err)
	}
	// The first rotation's idempotent replay still answers its result.
	replay, err := admin.RotateToken(ctx, created.ID, wire.RotateRequest{}, "rotate-1")
	if err != nil || replay.Secret != first.Secret {
		t.Fatalf("replay of the first rotation = %+v, %v", replay, err)
	}

	clock.Set(promised)
	if active(created.Secret) {
		t.Fatal("the first secret still works after its overlap")
	}
	second, err := admin.RotateToken(ctx, created.ID, wire.RotateRequest{Overlap: "1s"}, "")
	if err != nil || second.SecretVersion != 3 {
		t.Fatalf("rotation when the overlap ended = %+v, %v", second, err)
	}
	clock.Advance(time.Second - time.Microsecond)
	_, err = admin.RotateToken(ctx, created.ID, wire.RotateRequest{}, "")
	wantAPIError(t, err, http.StatusConflict, "rotation_overlap_running", "")
	// Its 1s overlap over, the next rotation runs.
	clock.Advance(time.Microsecond)
	third, err := admin.RotateToken(ctx, created.ID, wire.RotateRequest{}, "")
	if err != nil || third.SecretVersion != 4 {
		t.Fatalf("rotation after a rotation whose overlap ended = %+v, %v", third, err)
	}
	if !active(second.Secret) || !active(third.Secret) {
		t.Fatal("after a rotation with the token's 1h overlap both the previous and the new secret must work")
	}
}
