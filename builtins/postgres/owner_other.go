//go:build !unix

package postgres

import "io/fs"

// fileOwner returns the user ID that owns the file; this system has none.
func fileOwner(info fs.FileInfo) (uint32, bool) { return 0, false }
