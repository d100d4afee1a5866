package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/flowsync/flowsync/generate"
	"github.com/flowsync/flowsync/internal/atomicfile"
	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/view"
)

// maxCSVFile bounds the table generate --from-csv reads.
const maxCSVFile = 64 << 20

// runGenerateCSV is generate --from-csv: the manifest of a table, validated, written only
// when every row is good, never over a file.
func runGenerateCSV(g *globals, file, org, sandbox, out string, globs []string) error {
	if len(globs) > 0 {
		return hint(errors.New("--name selects live connections: it does not apply to --from-csv"), "drop --name, or the rows you do not want from the table")
	}
	target := lockfile.Target{OrgID: org, Sandbox: sandbox}
	if err := checkTarget(target); err != nil {
		return err
	}
	if err := refuseExisting(out, lockfile.DefaultPath(out)); err != nil {
		return err
	}
	data, err := readRegular(file, maxCSVFile)
	if err != nil {
		return hint(fmt.Errorf("--from-csv %s: %w", file, err), "nothing was written")
	}
	doc, warnings, err := generate.FromCSV(file, data, target, out)
	var rows generate.RowErrors
	if errors.As(err, &rows) {
		return hint(err, fmt.Sprintf("fix the %s in %s and run generate again; nothing was written", view.Plural(len(rows), "problem", "problems"), file))
	}
	if err != nil {
		return hint(err, "nothing was written")
	}
	if err := atomicfile.WriteNew(out, doc, 0o644); err != nil {
		return writeErr(out, err)
	}
	for _, w := range warnings {
		fmt.Fprintf(g.io.Err, "flowsync: warning: %s\n", w.Error())
	}
	fmt.Fprintf(g.io.Out, "Wrote %s from %s for org %s, sandbox %s. No lockfile: nothing is live yet.\n", out, file, org, sandbox)
	fmt.Fprintf(g.io.Out, "Next: %s, then, with S3_ACCESS_KEY and S3_SECRET_KEY set, %s.\n",
		"flowsync plan -f "+shell.Quote(out), "flowsync apply -f "+shell.Quote(out))
	return nil
}

// readRegular reads a regular file of at most limit bytes (a FIFO or device is refused, never
// waited on).
func readRegular(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("larger than %d MiB", limit>>20)
	}
	return os.ReadFile(path)
}
