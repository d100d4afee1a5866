package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/flowsync/flowsync/view"
)

// jsonMode is the format_version of the JSON document the command line asks for with
// --output json (or -o json), or "". It reads the arguments as given, before cobra parses
// them, so that a command line cobra refuses (an unknown flag before --output) is answered in
// JSON too. Only plan, apply and check have --output, and -o is its short form there only
// (generate's -o names the manifest it writes).
func jsonMode(args []string) string {
	word := commandWord(args)
	if word != "plan" && word != "apply" && word != "check" {
		return ""
	}
	format := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i = len(args)
		case a == "--output" || a == "-o":
			if i+1 < len(args) {
				i++
				format = args[i]
			}
		case strings.HasPrefix(a, "--output="):
			format = strings.TrimPrefix(a, "--output=")
		case strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--"):
			format = strings.TrimPrefix(strings.TrimPrefix(a, "-o"), "=")
		}
	}
	switch {
	case format != "json":
		return ""
	case word == "check":
		return view.CheckFormatVersion
	}
	return view.PlanFormatVersion
}

// jsonResult completes the JSON document of a run that failed: the document the command
// wrote, with the exit code and hints added (view.WithExit), or, when it wrote none, the
// failure's own document.
func jsonResult(doc *bytes.Buffer, version string, err error, code int, hints []string) {
	if doc.Len() == 0 {
		if !errors.Is(err, errExitChanges) {
			printJSONError(doc, version, err, code, hints)
		}
		return
	}
	e := view.Exit{Code: code, Hints: hints, Interrupted: code == ExitInterrupted}
	if !errors.Is(err, errExitChanges) {
		e.Message = err.Error()
	}
	if withExit, ok := view.WithExit(doc.Bytes(), e); ok {
		doc.Reset()
		doc.Write(withExit)
	}
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
