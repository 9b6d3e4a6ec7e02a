//go:build !unix

package sqlite

import "os"

// lockFile is a no-op where flock(2) does not exist: there, keeping to one
// server per SQLite file is the operator's care.
func lockFile(string) (*os.File, error) { return nil, nil }
