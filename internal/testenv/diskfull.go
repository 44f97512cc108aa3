package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// SmallFileSystem mounts a tmpfs of sizeMB megabytes in a new temporary directory and
// returns it; it is unmounted when the test ends. The test is skipped, saying why, where the
// machine does not allow the mount (no mount command, not root, or no mount permission in the
// container). The disk-full tests of the service and of the fault suite share it.
func SmallFileSystem(t *testing.T, sizeMB int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mount, err := exec.LookPath("mount")
	if err != nil {
		t.Skip("no mount command: a size-limited file system cannot be made here")
	}
	if out, err := exec.Command(mount, "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", sizeMB), "tmpfs", dir).CombinedOutput(); err != nil { //nolint:gosec // G204: mount of a tmpfs on the test's own directory
		t.Skipf("mounting a %d MB tmpfs was refused (%v: %s): the disk-full test needs root and mount permission", sizeMB, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil { //nolint:gosec // G204: unmounts the test's own tmpfs
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// FillFileSystem writes a file in dir until its file system is full and returns the file's
// path; removing that file frees the space again.
func FillFileSystem(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path) //nolint:gosec // G304: a file in the test's own tmpfs
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.Close(); err != nil {
			t.Errorf("closing the filler: %v", err)
		}
	}()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatalf("filling the disk: %v", err)
		}
	}
	// Single bytes, so that no block is left free.
	for {
		if _, err := f.Write([]byte{0}); err != nil {
			break
		}
	}
	return path
}
