package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/store"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/testenv"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/wire"
)

// TestReadyz_writeProbeFailsOnAFullDiskWithNoTrafficAndRecovers fills the file system of an
// idle SQLite service (a real 8 MB tmpfs; no request has failed, so the verification writer
// is healthy and a ping still answers): /readyz answers 503 not_ready saying the storage is
// full, from the write probe alone. Once space is freed it answers 200 again, and it leaves no
// probe file behind.
func TestReadyz_writeProbeFailsOnAFullDiskWithNoTrafficAndRecovers(t *testing.T) {
	dir := testenv.SmallFileSystem(t, 8)
	clock := servertest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	svc := servertest.Start(t, servertest.Options{Dir: dir, PolicyEnforcement: "off", Now: clock.Now})
	if status, body, _ := rawDo(t, "GET", svc.URL+"/readyz", "", ""); status != 200 {
		t.Fatalf("/readyz with room: %d %s", status, body)
	}
	filler := testenv.FillFileSystem(t, dir)
	clock.Advance(time.Second) // past the passed probe's standing (writeProbeEvery)
	status, body, _ := rawDo(t, "GET", svc.URL+"/readyz", "", "")
	var eb wire.ErrorBody
	if status != 503 || json.Unmarshal(body, &eb) != nil || eb.Error.Code != "not_ready" || !strings.Contains(eb.Error.Message, "storage is full") {
		t.Fatalf("/readyz with the disk full and no traffic: %d %s, want 503 not_ready saying the storage is full", status, body)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := rawDo(t, "GET", svc.URL+"/readyz", "", ""); status != 200 {
		t.Fatalf("/readyz once space was freed: %d %s", status, body)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "probe") {
			t.Fatalf("the write probe left %s behind", e.Name())
		}
	}
}

// TestReadyz_writeLockHeldByAnotherProcessIsNotReady holds the SQLite write lock from another
// connection (as a second process would): /readyz answers 503 not_ready within its 2 s bound
// (not after the 5 s busy timeout), saying it could not write; once released, 200.
func TestReadyz_writeLockHeldByAnotherProcessIsNotReady(t *testing.T) {
	svc := servertest.Start(t, servertest.Options{PolicyEnforcement: "off"})
	other, err := sql.Open("sqlite", svc.DBPath+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer closeOrFail(t, "the other connection", other)
	hold, err := other.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ := rawDo(t, "GET", svc.URL+"/readyz", "", "")
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	if status != 503 || !strings.Contains(string(body), "does not accept a write") {
		t.Fatalf("/readyz with the write lock held elsewhere: %d %s, want 503 saying it does not accept a write", status, body)
	}
	if status, body, _ := rawDo(t, "GET", svc.URL+"/readyz", "", ""); status != 200 {
		t.Fatalf("/readyz once the lock was released: %d %s", status, body)
	}
}

// probeCounter is the real store with its write probes counted.
type probeCounter struct {
	store.Store
	runs atomic.Int64
}

func (p *probeCounter) ProbeWrite(ctx context.Context) error {
	p.runs.Add(1)
	return p.Store.ProbeWrite(ctx)
}

// TestReadyz_manyCallsShareOneWriteProbeASecond sends 50 concurrent /readyz (it needs no
// credential) at one instant of the service's clock: all answer 200 and the database sees
// one write probe, not 50; one second later (writeProbeEvery) the next call probes again.
func TestReadyz_manyCallsShareOneWriteProbeASecond(t *testing.T) {
	clock := servertest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	counter := &probeCounter{}
	svc := servertest.Start(t, servertest.Options{PolicyEnforcement: "off", Now: clock.Now,
		WrapStore: func(st store.Store) store.Store { counter.Store = st; return counter }})
	var wg sync.WaitGroup
	statuses := make(chan int, 50)
	for range 50 {
		wg.Go(func() {
			status, _, _ := rawDo(t, "GET", svc.URL+"/readyz", "", "")
			statuses <- status
		})
	}
	wg.Wait()
	close(statuses)
	for status := range statuses {
		if status != 200 {
			t.Fatalf("/readyz answered %d", status)
		}
	}
	if n := counter.runs.Load(); n != 1 {
		t.Fatalf("50 concurrent /readyz ran %d write probes, want 1", n)
	}
	clock.Advance(time.Second)
	if status, body, _ := rawDo(t, "GET", svc.URL+"/readyz", "", ""); status != 200 {
		t.Fatalf("/readyz a second later: %d %s", status, body)
	}
	if n := counter.runs.Load(); n != 2 {
		t.Fatalf("/readyz a second later: %d write probes in all, want 2", n)
	}
}
