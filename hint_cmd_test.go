package main

import (
	"regexp"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/flowsync/flowsync/internal/shell"
)

// cmdHint runs a command flowsync printed as advice, as printed, through sh -c:
//
//	hint [-stdout] [-sub WORD=VALUE]... [-append ARGS] REGEXP
//
// REGEXP's groups are the commands, in order, found in the last command's stderr (stdout with
// -stdout); several run one after the other (joined with &&), as the advice says. A placeholder the advice names in capitals (MANIFEST, ID), and only such a word,
// may be replaced with -sub by VALUE, quoted for the shell. -append adds arguments a person at
// a terminal would not need (--yes for apply). The command's stdout and stderr are then those
// of the script, and "! hint" expects it to fail.
func cmdHint(ts *testscript.TestScript, neg bool, args []string) {
	from := "stderr"
	var subs [][2]string
	var extra string
	for len(args) > 1 {
		switch args[0] {
		case "-stdout":
			from, args = "stdout", args[1:]
			continue
		case "-sub":
			word, value, ok := strings.Cut(args[1], "=")
			if !ok || word != strings.ToUpper(word) {
				ts.Fatalf("hint -sub %s: want PLACEHOLDER=VALUE", args[1])
			}
			subs, args = append(subs, [2]string{word, value}), args[2:]
			continue
		case "-append":
			extra, args = " "+args[1], args[2:]
			continue
		}
		break
	}
	if len(args) != 1 {
		ts.Fatalf("usage: hint [-stdout] [-sub WORD=VALUE]... [-append ARGS] REGEXP")
	}
	re, err := regexp.Compile(args[0])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile(from))
	if len(m) < 2 {
		ts.Fatalf("no advice matching %q in %s", args[0], from)
	}
	cmd := strings.Join(m[1:], " && ")
	for _, s := range subs {
		word := regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(s[0]) + `(\s|$)`)
		if !word.MatchString(cmd) {
			ts.Fatalf("advice %q has no placeholder %s", cmd, s[0])
		}
		cmd = word.ReplaceAllLiteralString(cmd, " "+shell.Quote(s[1])+" ")
	}
	cmd = strings.TrimSpace(cmd) + extra
	ts.Logf("sh -c %s", shell.Quote(cmd))
	err = ts.Exec("sh", "-c", cmd)
	switch {
	case err != nil && !neg:
		ts.Fatalf("advice %q failed: %v", cmd, err)
	case err == nil && neg:
		ts.Fatalf("advice %q succeeded, want a failure", cmd)
	}
}
