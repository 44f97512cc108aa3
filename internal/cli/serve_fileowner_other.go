//go:build !unix

package cli

import (
	"fmt"
	"io/fs"
)

// checkPrivateFile refuses a file that is not regular. Ownership and mode bits do not
// describe access on this platform (Windows uses ACLs): keep the file in a directory only
// the service account can read.
func checkPrivateFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: delete it (or restore the admin credential file) and start again", path)
	}
	return nil
}
