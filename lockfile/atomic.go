package lockfile

// WriteFile writes data to path the way Save writes a lockfile: a temp file in the same
// directory (mode 0600), written, synced, closed, renamed over path, the directory synced.
// The file at path is never truncated in place; on error it is unchanged. Saved plans use it.
func WriteFile(path string, data []byte) error {
	return writeAtomic(path, data)
}
