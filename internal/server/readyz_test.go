package server_test

import (
	"database/sql"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/tokenguard/terraform-provider-tokenguard/internal/client"
	"github.com/tokenguard/terraform-provider-tokenguard/internal/server/servertest"
)

// TestReadyz_writeProbeFailsOnAFullDiskWithNoTrafficAndRecovers fills the file system of an
// idle SQLite service (a real 8 MB tmpfs; no request has failed, so the verification writer
// is healthy and a ping still answers): /readyz answers 503 not_ready saying the storage is
// full, from the write probe alone. Once space is freed it answers 200 again, and it leaves no
// probe file behind.
func TestReadyz_writeProbeFailsOnAFullDiskWithNoTrafficAndRecovers(t *testing.T) {
	dir := smallFileSystem(t, 8)
	svc := servertest.Start(t, servertest.Options{Dir: dir, PolicyEnforcement: "off"})
	if status, body, _ := rawDo(t, "GET", svc.URL+"/readyz", "", ""); status != 200 {
		t.Fatalf("/readyz with room: %d %s", status, body)
	}
	filler := fillDisk(t, dir)
	status, body, _ := rawDo(t, "GET", svc.URL+"/readyz", "", "")
	var eb client.ErrorBody
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
