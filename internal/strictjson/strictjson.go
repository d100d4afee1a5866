// Package strictjson decodes the JSON files flowsync writes and reads back (the lockfile, plan
// files) strictly, and says where a problem is: a syntax error, a key that appears twice in
// one object (encoding/json would keep the last silently), a key that is not a field of the
// Go type (encoding/json matches keys case-insensitively and DisallowUnknownFields reports no
// position), a value of the wrong JSON type, or data after the value are each an *Error with
// the line and column where it starts.
//
// A library would now do the parsing: github.com/go-json-experiment/json (v1.27.2, tried on
// 2026-12-06, not yet in go.mod) matches keys exactly, refuses a duplicate key in an object
// or a map by default, refuses unknown keys with RejectUnknownMembers, and reports each
// problem with its byte offset and JSON pointer. What this package adds on top is wording
// (FILE:LINE:COL, "did you mean", "a string where an integer (64-bit) is expected"), which a
// thin wrapper over that library could keep; replacing this parser with such a wrapper is
// the open half of issue 20's "hand-built machinery" item.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is what an Error found.
type Kind int

const (
	Syntax    Kind = iota + 1 // not JSON, or data after the value
	Duplicate                 // a key appears twice in one object
	Unknown                   // a key that is no field of the type
	Type                      // a value of the wrong JSON type
)

// Error is a problem at a place of the data: Line and Col are 1-based, Col counts characters.
// Its message does not hold the position: the caller writes FILE:LINE:COL in front of it.
type Error struct {
	Line, Col int
	Kind      Kind
	Msg       string
}

func (e *Error) Error() string { return e.Msg }

// Position is the line and column (1-based, in characters) of byte offset off of data.
func Position(data []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, 1 + utf8.RuneCount(before)
}

// end is where data ends, its trailing white space aside: where an unexpected end is felt.
func end(data []byte) (line, col int) {
	return Position(data, int64(len(bytes.TrimRight(data, " \t\r\n"))))
}

// Locate gives err, an error of encoding/json decoding data, its position: a *json.SyntaxError
// (the character that broke the syntax, or the end of the data) or a *json.UnmarshalTypeError
// becomes an *Error. Other errors are returned as they are.
func Locate(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		if strings.Contains(se.Error(), "end of JSON input") {
			line, col := end(data)
			return &Error{Line: line, Col: col, Kind: Syntax, Msg: se.Error()}
		}
		off := se.Offset
		if off > 0 {
			off-- // the offset is after the offending byte
		}
		line, col := Position(data, off)
		return &Error{Line: line, Col: col, Kind: Syntax, Msg: se.Error()}
	case errors.As(err, &te):
		line, col := Position(data, te.Offset)
		return &Error{Line: line, Col: col, Kind: Type, Msg: fmt.Sprintf("%s: %s where %s is expected", pathOr("."+te.Field), article(te.Value), kindWord(te.Type))}
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := end(data)
		return &Error{Line: line, Col: col, Kind: Syntax, Msg: "unexpected end of JSON input"}
	}
	return err
}

// Unmarshal decodes data, one JSON value, into v (a pointer), and reports what Check reports.
// Only a value's own UnmarshalJSON (a time that does not parse, say) can fail in a way Check
// does not see; that error has no position. On error v may be partly filled.
func Unmarshal(data []byte, v any) error {
	err := json.Unmarshal(data, v) // the syntax, by encoding/json's scanner, and the values
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Locate(data, err)
	}
	// Valid JSON: the walk finds unknown and repeated keys, and type errors where they start.
	if cerr := walk(data, v); cerr != nil {
		return cerr
	}
	if err != nil {
		return Locate(data, err)
	}
	return nil
}

// Check reports the first problem of data as JSON for v's type (v a pointer, or nil for any
// JSON value): syntax, data after the value, duplicate keys, unknown keys (matched exactly,
// not case-insensitively), values of the wrong JSON type. null is accepted where
// encoding/json accepts it (anywhere: it leaves the field as it is).
func Check(data []byte, v any) error {
	// The syntax first, by encoding/json's scanner (its offsets all point after the offending
	// byte); the walk then reads valid JSON only.
	if err := json.Unmarshal(data, new(ignore)); err != nil {
		return Locate(data, err)
	}
	return walk(data, v)
}

// walk is Check of data known to be valid JSON.
func walk(data []byte, v any) error {
	var t reflect.Type
	if v != nil {
		t = reflect.TypeOf(v)
	}
	c := &checker{data: data, fields: map[reflect.Type]*structInfo{}}
	return c.value(t, 0)
}

// ignore accepts any JSON value without decoding it.
type ignore struct{}

func (*ignore) UnmarshalJSON([]byte) error { return nil }

// checker walks valid JSON: off is the offset of the next byte to read, path the keys and
// indexes down to the value being read (turned into text only for a message).
type checker struct {
	data   []byte
	off    int
	path   []pathPart
	fields map[reflect.Type]*structInfo
}

type pathPart struct {
	key   []byte // as written, with its quotes
	index int    // -1: a key
}

type structInfo struct {
	index map[string]int // JSON name → position in types and names
	types []reflect.Type
	names []string
}

func (c *checker) skipSpace() {
	for c.off < len(c.data) {
		switch c.data[c.off] {
		case ' ', '\t', '\r', '\n':
			c.off++
		default:
			return
		}
	}
}

// pathText is c.path as "connections.acme-eu.id", "changes[3]", or "the top-level object".
func (c *checker) pathText() string {
	var b strings.Builder
	for _, p := range c.path {
		if p.index >= 0 {
			fmt.Fprintf(&b, "[%d]", p.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		k, _ := unquote(p.key)
		b.WriteString(key(k))
	}
	if b.Len() == 0 {
		return "the top-level object"
	}
	return b.String()
}

func (c *checker) errAt(off int, k Kind, format string, args ...any) *Error {
	line, col := Position(c.data, int64(off))
	return &Error{Line: line, Col: col, Kind: k, Msg: fmt.Sprintf(format, args...)}
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// value checks the value at c.off against t (nil: anything) and reads past it.
func (c *checker) value(t reflect.Type, depth int) error {
	c.skipSpace()
	start := c.off
	if depth > 64 {
		return c.errAt(start, Syntax, "nested deeper than 64 levels")
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	got := c.kindAt()
	if got == "null" {
		c.off += len("null")
		return nil
	}
	want := ""
	if t != nil {
		want = jsonKind(t)
	}
	if want != "" && got != want {
		return c.errAt(start, Type, "%s: %s where %s is expected", c.pathText(), article(got), kindWord(t))
	}
	if want == "" {
		t = nil // anything goes below
	}
	switch got {
	case "object":
		return c.object(t, depth)
	case "array":
		return c.array(t, depth)
	}
	return c.scalar(got, t)
}

// kindAt is the JSON type of the value at c.off.
func (c *checker) kindAt() string {
	switch c.data[c.off] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// array checks the array at c.off, each element against t's (t nil: anything).
func (c *checker) array(t reflect.Type, depth int) error {
	c.off++ // [
	var elem reflect.Type
	if t != nil {
		elem = t.Elem()
	}
	for i := 0; ; i++ {
		c.skipSpace()
		if c.data[c.off] == ']' {
			c.off++
			return nil
		}
		if c.data[c.off] == ',' {
			c.off++
		}
		c.path = append(c.path, pathPart{index: i})
		if err := c.value(elem, depth+1); err != nil {
			return err
		}
		c.path = c.path[:len(c.path)-1]
	}
}

// scalar checks the string, bool or number (got) at c.off against t (nil: anything).
func (c *checker) scalar(got string, t reflect.Type) error {
	start := c.off
	switch got {
	case "string":
		raw := c.str()
		if t == timeType {
			s, _ := unquote(raw)
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return c.errAt(start, Type, "%s: %s is not an RFC 3339 time", c.pathText(), strconv.Quote(s))
			}
		}
	case "bool":
		if c.data[c.off] == 't' {
			c.off += len("true")
		} else {
			c.off += len("false")
		}
	case "number":
		for c.off < len(c.data) && strings.IndexByte("+-0123456789.eE", c.data[c.off]) >= 0 {
			c.off++
		}
		if t != nil {
			return c.number(start, string(c.data[start:c.off]), t)
		}
	}
	return nil
}

// str reads the string at c.off and returns it with its quotes, as written.
func (c *checker) str() []byte {
	start := c.off
	c.off++ // "
	for c.data[c.off] != '"' {
		if c.data[c.off] == '\\' {
			c.off++
		}
		c.off++
	}
	c.off++
	return c.data[start:c.off]
}

// unquote is the text of a JSON string written raw (with its quotes).
func unquote(raw []byte) (string, bool) {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err == nil
}

// object checks the object at c.off: keys once each, and with t set only the fields of t (a
// struct) or any key (a map), each value of its type.
func (c *checker) object(t reflect.Type, depth int) error {
	c.off++ // {
	var info *structInfo
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			info = c.structInfo(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	var seenField uint64 // bit i: info.names[i] was seen (structs of up to 64 fields)
	var seen keySet
	for {
		c.skipSpace()
		switch c.data[c.off] {
		case '}':
			c.off++
			return nil
		case ',':
			c.off++
			c.skipSpace()
		}
		start := c.off
		raw := c.str()
		ft := elem
		if info != nil {
			i, ok := info.index[string(raw[1:len(raw)-1])]
			if !ok && bytes.IndexByte(raw, '\\') >= 0 {
				k, _ := unquote(raw)
				i, ok = info.index[k]
			}
			if !ok {
				k, _ := unquote(raw)
				msg := fmt.Sprintf("unknown field %s", strconv.Quote(k))
				for _, name := range info.names {
					if strings.EqualFold(name, k) {
						msg += fmt.Sprintf(" (did you mean %s?)", strconv.Quote(name))
						break
					}
				}
				if len(c.path) > 0 {
					msg = c.pathText() + ": " + msg
				}
				return c.errAt(start, Unknown, "%s", msg)
			}
			if seenField&(1<<i) != 0 {
				return c.dup(start, raw)
			}
			seenField |= 1 << i
			ft = info.types[i]
		} else {
			k := raw[1 : len(raw)-1]
			if bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(k) {
				u, _ := unquote(raw)
				k = []byte(u)
			}
			if seen.has(k) {
				return c.dup(start, raw)
			}
		}
		c.skipSpace()
		c.off++ // :
		c.path = append(c.path, pathPart{key: raw, index: -1})
		if err := c.value(ft, depth+1); err != nil {
			return err
		}
		c.path = c.path[:len(c.path)-1]
	}
}

// keySet holds the keys of one object: a few in an array, many in a map.
type keySet struct {
	few  [8][]byte
	n    int
	many map[string]bool
}

// has reports whether k was added before, and adds it.
func (s *keySet) has(k []byte) bool {
	if s.many == nil {
		for _, f := range s.few[:s.n] {
			if bytes.Equal(f, k) {
				return true
			}
		}
		if s.n < len(s.few) {
			s.few[s.n] = k
			s.n++
			return false
		}
		s.many = make(map[string]bool, 2*len(s.few))
		for _, f := range s.few {
			s.many[string(f)] = true
		}
	}
	if s.many[string(k)] {
		return true
	}
	s.many[string(k)] = true
	return false
}

func (c *checker) dup(off int, raw []byte) error {
	k, _ := unquote(raw)
	return c.errAt(off, Duplicate, "%s: key %s appears twice (JSON would keep only the last)", c.pathText(), strconv.Quote(k))
}

func (c *checker) structInfo(t reflect.Type) *structInfo {
	if info, ok := c.fields[t]; ok {
		return info
	}
	info := &structInfo{index: map[string]int{}}
	fields := structFields(t)
	if len(fields) > 64 {
		panic(fmt.Sprintf("strictjson: %v has more than 64 fields", t))
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		info.index[name] = len(info.names)
		info.names = append(info.names, name)
		info.types = append(info.types, fields[name])
	}
	c.fields[t] = info
	return info
}

// number checks a number against an integer or float type.
func (c *checker) number(start int, n string, t reflect.Type) error {
	var err error
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		_, err = strconv.ParseInt(n, 10, t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		_, err = strconv.ParseUint(n, 10, t.Bits())
	case reflect.Float32, reflect.Float64:
		_, err = strconv.ParseFloat(n, t.Bits())
	}
	if err != nil {
		return c.errAt(start, Type, "%s: %s is not %s", c.pathText(), n, kindWord(t))
	}
	return nil
}

// jsonKind is the JSON type a value of t is written as, or "" when any is accepted (an
// interface, or a type that decodes itself).
func jsonKind(t reflect.Type) string {
	if t == timeType {
		return "string"
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return ""
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string" // base64
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Struct:
		return "object"
	case reflect.Map:
		if k := t.Key(); k.Kind() != reflect.String && !reflect.PointerTo(k).Implements(textType) {
			switch k.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			default:
				return ""
			}
		}
		return "object"
	}
	return ""
}

// article puts "a" or "an" before a JSON type's name ("an array"); "null" stays as it is.
func article(kind string) string {
	switch {
	case kind == "null" || kind == "":
		return kind
	case strings.IndexByte("aeiou", kind[0]) >= 0:
		return "an " + kind
	}
	return "a " + kind
}

// kindWord names what t is written as, for a message: "a string", "an integer", ….
func kindWord(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch k := jsonKind(t); {
	case t == timeType:
		return "a time (an RFC 3339 string)"
	case k == "number":
		switch t.Kind() {
		case reflect.Float32, reflect.Float64:
			return "a number"
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			return fmt.Sprintf("an unsigned integer (%d-bit)", t.Bits())
		}
		return fmt.Sprintf("an integer (%d-bit)", t.Bits())
	case k == "bool":
		return "true or false"
	case k == "array":
		return "an array"
	case k == "object":
		return "an object"
	case k == "string":
		return "a string"
	}
	return "a value"
}

// structFields maps the JSON names of t's fields to their types, as encoding/json names them
// (embedded structs' fields included).
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for n, t := range structFields(et) {
					if _, ok := out[n]; !ok {
						out[n] = t
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}

// key writes an object key into a path: as it is when plain, quoted otherwise.
func key(k string) string {
	if k != "" && strings.IndexFunc(k, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return k
	}
	return strconv.Quote(k)
}

func pathOr(path string) string {
	if path == "" {
		return "the top-level object"
	}
	return strings.TrimPrefix(path, ".")
}
