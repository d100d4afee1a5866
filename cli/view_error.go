package cli

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/view"
)

// watchedWriter remembers whether anything was written to stdout, so that a failure in
// --output json mode adds its document only where no other document was started.
type watchedWriter struct {
	w     io.Writer
	wrote bool
}

func (w *watchedWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		w.wrote = true
	}
	return w.w.Write(p)
}

// jsonOutput is the format_version of the JSON document cmd writes with --output json, or ""
// when cmd was not asked for JSON.
func jsonOutput(cmd *cobra.Command) string {
	if cmd == nil {
		return ""
	}
	f := cmd.Flags().Lookup("output")
	if f == nil || f.Value.String() != "json" {
		return ""
	}
	if cmd.Name() == "check" {
		return view.CheckFormatVersion
	}
	return view.PlanFormatVersion
}

// jsonError is the document of a failure in --output json mode (docs/plan-json.md, "Errors").
type jsonError struct {
	FormatVersion string        `json:"format_version"`
	Error         jsonErrorBody `json:"error"`
}

type jsonErrorBody struct {
	Message  string   `json:"message"`
	ExitCode int      `json:"exit_code"`
	Hints    []string `json:"hints"`
}

// printJSONError writes err, its exit code and its hints as one JSON document.
func printJSONError(w io.Writer, version string, err error, code int, hints []string) {
	doc := jsonError{FormatVersion: version, Error: jsonErrorBody{Message: strings.TrimSpace(err.Error()), ExitCode: code, Hints: []string{}}}
	for _, h := range hints {
		if h = strings.TrimSpace(h); h != "" {
			doc.Error.Hints = append(doc.Error.Hints, h)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}
