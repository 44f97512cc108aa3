//go:build unix

package cli

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivateFile refuses to adopt the admin credential file fi (at path) unless the service
// user owns it and no group or other user may read or write it: a file another user wrote,
// or one others can read, holds a credential that is not the service's secret alone.
func checkPrivateFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: delete it (or restore the admin credential file) and start again", path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, not by the service user (uid %d): a credential file someone else wrote is not adopted; "+
			"check who created it, then chown it to the service user or delete it and start again", path, st.Uid, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o: group or other users can read or change the admin credential; "+
			"run chmod 600 %s (and rotate the credential if others may have read it), or delete it and start again", path, perm, path)
	}
	return nil
}
