//go:build unix

package postgres

import (
	"io/fs"
	"syscall"
)

// fileOwner returns the user ID that owns the file, when the file system
// tells it.
func fileOwner(info fs.FileInfo) (uint32, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}
