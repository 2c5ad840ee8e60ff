//go:build !unix

package atomicfile

// SyncDir does nothing here: this platform cannot fsync a directory.
func SyncDir(string) error { return nil }
