package lockfile

import "fmt"

// Commit makes the outcome of an apply durable, in the only safe order: close the journal,
// fold it into f once more (so that nothing it holds, such as a create whose answer never
// came, is lost), save f, and only then remove the journal.
//
// save is (*File).Save; a test passes one that fails. err is the save's: f is not on disk,
// and the journal stays beside it with the run's progress. kept reports a journal that could
// not be closed, folded or removed: it stays beside the lockfile and the next run folds it in
// again.
func Commit(f *File, path string, j *Journal, save func(*File, string) error) (kept, err error) {
	kept = j.Close()
	if kept == nil {
		// From memory: reading the journal back cost ~1 s per 6,000 creates.
		_, kept = j.FoldInto(f)
	}
	if err := save(f, path); err != nil {
		return kept, err
	}
	if kept == nil {
		kept = RemoveJournal(path)
	}
	if kept != nil {
		return fmt.Errorf("journal of %s: %w", path, kept), nil
	}
	return nil, nil
}
