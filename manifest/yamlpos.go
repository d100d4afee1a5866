package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// The YAML decoder reports a broken block structure at the start of the enclosing block: a
// bad indentation at line 906 of a long manifest comes out as "line 14: did not find expected
// '-' indicator", line 14 being "connections:". breakLine finds the line where the
// structure really breaks: the first line whose addition makes the document fail to parse
// (block YAML cut at a line boundary is YAML, so every shorter prefix parses), found by
// bisection, then checked. It never guesses: when the prefixes do not behave, it reports
// nothing and the decoder's own line stands.

// maxBisect bounds the parses breakLine may spend (a prefix parse each).
const maxBisect = 40

// breakLine returns the 1-based line where data stops being YAML, and what is wrong there, or
// 0 when it cannot tell.
func breakLine(data []byte) (line, col int, msg string) {
	starts := lineStarts(data)
	n := len(starts)
	if n == 0 || parses(data) {
		return 0, 0, ""
	}
	// Invariant: the first lo lines parse, the first hi lines do not.
	lo, hi := 0, n
	for steps := 0; hi-lo > 1; steps++ {
		if steps > maxBisect {
			return 0, 0, ""
		}
		mid := (lo + hi) / 2
		if parses(data[:prefixEnd(data, starts, mid)]) {
			lo = mid
		} else {
			hi = mid
		}
	}
	// Checked: the lines before hi parse, and the line hi does not, so the break is there.
	if !parses(data[:prefixEnd(data, starts, hi-1)]) || parses(data[:prefixEnd(data, starts, hi)]) {
		return 0, 0, ""
	}
	text := string(data[starts[hi-1]:prefixEnd(data, starts, hi)])
	text = strings.TrimRight(text, "\r\n")
	before := previousLines(data, starts, hi-1)
	col, msg = explainLine(text, before)
	if c, m, ok := blameFirstChild(text, before); ok {
		return hi - 1 - blankBetween(data, starts, hi-1), c, m
	}
	if l, c, m, ok := blameFirstItem(data, starts, hi-1); ok {
		return l, c, m
	}
	return hi, col, msg
}

// blameFirstItem decides, for a list item at line index i (0-based) that breaks the
// structure, whether the list's first item is the line at fault: written without its "- ",
// it made the block under its key a mapping, which parses until this item, the second one,
// is the first to disagree. It returns the 1-based line and column of that first item.
func blameFirstItem(data []byte, starts []int, i int) (line, col int, msg string, ok bool) {
	text := strings.TrimRight(string(data[starts[i]:prefixEnd(data, starts, i+1)]), "\r\n")
	ind := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	indent := ind(text)
	if rest := text[indent:]; rest != "-" && !strings.HasPrefix(rest, "- ") {
		return 0, 0, "", false
	}
	first := -1 // the line index of the block's first line, between its key and line i
	for j := i - 1; j >= 0; j-- {
		l := strings.TrimRight(string(data[starts[j]:prefixEnd(data, starts, j+1)]), "\r\n")
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if ind(l) > indent {
			first = j
			continue
		}
		// The block's key: less indented than the item, opening a block the item belongs to.
		if first < 0 || ind(l) >= indent || !strings.HasSuffix(t, ":") {
			return 0, 0, "", false
		}
		f := strings.TrimRight(string(data[starts[first]:prefixEnd(data, starts, first+1)]), "\r\n")
		if strings.HasPrefix(strings.TrimSpace(f), "-") || strings.Contains(f[:ind(f)], "\t") {
			return 0, 0, "", false
		}
		return first + 1, indent + 1, `expected a list item here: "- " at column ` + fmt.Sprint(indent+1) + ` to start the list's first entry, like the entries after it`, true
	}
	return 0, 0, "", false
}

// blameFirstChild decides, for a line whose indentation fits no block, whether the line above
// it is the one at fault: it opened its block at an odd indentation (one step off from its
// parent, where this line is one step in), so this line is merely the first to disagree.
func blameFirstChild(line string, before []string) (int, string, bool) {
	if len(before) < 3 {
		return 0, "", false
	}
	ind := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	l, p, q := ind(line), ind(before[0]), ind(before[1])
	if strings.ContainsRune(line[:l], '\t') || l == p || p <= q || l <= q || !strings.HasSuffix(strings.TrimSpace(before[1]), ":") {
		return 0, "", false
	}
	step := -1
	for _, b := range before[2:] {
		if bi := ind(b); bi < q {
			step = q - bi
			if strings.HasPrefix(b[bi:], "- ") {
				step = q - bi - 2 // the content of a list item is two columns in
			}
			break
		}
	}
	if step <= 0 || l-q != step || p-q == step {
		return 0, "", false
	}
	return p + 1, fmt.Sprintf("bad indentation: %d spaces, but the next lines of this block are at %d", p, l), true
}

// blankBetween counts the blank and comment lines just before line index i (0-based).
func blankBetween(data []byte, starts []int, i int) int {
	n := 0
	for j := i - 1; j >= 0; j-- {
		t := strings.TrimSpace(string(data[starts[j]:prefixEnd(data, starts, j+1)]))
		if t != "" && !strings.HasPrefix(t, "#") {
			break
		}
		n++
	}
	return n
}

// lineStarts returns the byte offset of each line's start.
func lineStarts(data []byte) []int {
	if len(data) == 0 {
		return nil
	}
	starts := []int{0}
	for i, c := range data {
		if c == '\n' && i+1 < len(data) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// prefixEnd is the offset just past the first k lines.
func prefixEnd(data []byte, starts []int, k int) int {
	if k >= len(starts) {
		return len(data)
	}
	return starts[k]
}

// previousLines returns up to 50 non-blank, non-comment lines before line index i (0-based),
// nearest first.
func previousLines(data []byte, starts []int, i int) []string {
	var out []string
	for j := i - 1; j >= 0 && len(out) < 50; j-- {
		l := strings.TrimRight(string(data[starts[j]:prefixEnd(data, starts, j+1)]), "\r\n")
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			out = append(out, l)
		}
	}
	return out
}

// parses reports whether data is one YAML document (or several, or none) the decoder accepts.
func parses(data []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// explainLine says what is wrong with a line where the structure breaks, and at which column,
// given the meaningful lines before it (nearest first). It returns "" when the line shows
// none of the common mistakes.
func explainLine(line string, before []string) (int, string) {
	indent := len(line) - len(strings.TrimLeft(line, " "))
	rest := line[indent:]
	if strings.HasPrefix(rest, "\t") || strings.Contains(line[:indent], "\t") {
		return indent + 1, "a tab in the indentation: YAML indents with spaces only"
	}
	if c, what := unclosed(line); c > 0 {
		return c, what
	}
	item := rest == "-" || strings.HasPrefix(rest, "- ")
	// The indentations the line could take: those of the lines that enclose it or are its
	// siblings (each nearer line less indented than the ones after it), and the content of
	// a list item ("- name: x" holds a mapping two columns in).
	levels := map[int]bool{}
	items := map[int]bool{} // levels whose lines are list items
	m := len(line) + 1
	for _, b := range before {
		bi := len(b) - len(strings.TrimLeft(b, " "))
		if bi >= m {
			continue
		}
		m = bi
		levels[bi] = true
		if strings.HasPrefix(b[bi:], "- ") {
			items[bi] = true
			levels[bi+2] = true
		}
		if bi == 0 {
			break
		}
	}
	switch {
	case items[indent] && !item:
		return indent + 1, `expected a list item here: "- " at this indentation, like the entries above`
	case levels[indent]:
		return indent + 1, "the structure breaks here: check this line's indentation and the line above it"
	}
	below, above := -1, -1
	for l := range levels {
		if l < indent && l > below {
			below = l
		}
		if l > indent && (above < 0 || l < above) {
			above = l
		}
	}
	around := ""
	switch {
	case below >= 0 && above >= 0:
		around = fmt.Sprintf("; the lines around it are at %d or %d", above, below)
	case below >= 0:
		around = fmt.Sprintf("; the lines around it are at %d", below)
	case above >= 0:
		around = fmt.Sprintf("; the lines around it are at %d", above)
	}
	return indent + 1, fmt.Sprintf("bad indentation: %d spaces%s", indent, around)
}

// unclosed finds a quote, bracket or brace opened on line and not closed on it, and returns
// its 1-based column and what it is (0 when there is none). Comments are ignored.
func unclosed(line string) (int, string) {
	var stack []int // columns of open [ and {
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case '#':
			if i == 0 || line[i-1] == ' ' {
				return unclosedFlow(line, stack)
			}
		case '"', '\'':
			if i > 0 && !strings.ContainsRune(" \t:[{,-?", rune(line[i-1])) {
				continue // inside a plain scalar: "it's" is no quote
			}
			end := closingQuote(line, i)
			if end < 0 {
				return i + 1, fmt.Sprintf("the %c quote opened here is never closed", c)
			}
			i = end
		case '[', '{':
			if i == 0 || strings.ContainsRune(" \t:[{,-", rune(line[i-1])) {
				stack = append(stack, i)
			}
		case ']', '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	return unclosedFlow(line, stack)
}

func unclosedFlow(line string, stack []int) (int, string) {
	if len(stack) == 0 {
		return 0, ""
	}
	c := stack[0]
	closer := map[byte]byte{'[': ']', '{': '}'}[line[c]]
	return c + 1, fmt.Sprintf("the %c opened here is never closed (with %c)", line[c], closer)
}

// closingQuote returns the index of the quote that closes the one at open, or -1.
func closingQuote(line string, open int) int {
	q := line[open]
	for j := open + 1; j < len(line); j++ {
		switch {
		case q == '"' && line[j] == '\\':
			j++
		case q == '\'' && line[j] == '\'' && j+1 < len(line) && line[j+1] == '\'':
			j++
		case line[j] == q:
			return j
		}
	}
	return -1
}
