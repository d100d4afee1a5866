package flowservice

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func pageJSON(t testing.TB, token string, ids ...string) []byte {
	items := make([]Connection, len(ids))
	for i, id := range ids {
		items[i] = s3Conn(id, "n-"+id)
	}
	p := map[string]any{"items": items}
	if token != "" {
		p["_links"] = map[string]any{"next": map[string]string{"href": "/connections?continuationToken=" + token}}
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestListingRefusesRepeats(t *testing.T) {
	for name, tt := range map[string]struct {
		pages [][]byte
		err   string // "" for a complete listing
	}{
		"complete":           {[][]byte{pageJSON(t, "t1", "a", "b"), pageJSON(t, "t2", "c"), pageJSON(t, "", "d")}, ""},
		"id on a later page": {[][]byte{pageJSON(t, "t1", "a", "b"), pageJSON(t, "t2", "c", "a")}, `page 2 repeats connection "a" (first on page 1)`},
		"id twice on a page": {[][]byte{pageJSON(t, "", "a", "a")}, `page 1 repeats connection "a" (first on page 1)`},
		"token again":        {[][]byte{pageJSON(t, "t1", "a"), pageJSON(t, "t2", "b"), pageJSON(t, "t1", "c")}, `page 3: the service sent continuation token "t1" again (first on page 1)`},
		"item without id":    {[][]byte{pageJSON(t, "", "a", "")}, "page 1: item 2 has no id"},
		"next without token": {[][]byte{[]byte(`{"items":[],"_links":{"next":{"href":"/connections?x=1"}}}`)}, "has no continuationToken"},
		"not json":           {[][]byte{[]byte(`<html>`)}, "decode page 1"},
	} {
		t.Run(name, func(t *testing.T) {
			var l listing[Connection]
			var err error
			for i, p := range tt.pages {
				var next string
				next, err = l.add(p)
				if err != nil || next == "" {
					if i != len(tt.pages)-1 {
						t.Fatalf("stopped at page %d of %d: %v", i+1, len(tt.pages), err)
					}
					break
				}
			}
			if tt.err == "" {
				if err != nil || len(l.items) != 4 {
					t.Fatalf("err = %v, %d items", err, len(l.items))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want …%s", err, tt.err)
			}
		})
	}
}

// FuzzListing feeds the list-page reader pages separated by NUL bytes, as a hostile service
// might send them, and checks what it promises: no panic; while it accepts pages, every id it
// holds is non-empty and unique and every continuation token it returns is new; it holds no
// more items than the pages held; and once it refuses, the caller stops.
func FuzzListing(f *testing.F) {
	f.Add(bytes.Join([][]byte{pageJSON(f, "t1", "a", "b"), pageJSON(f, "", "c")}, []byte{0}))
	f.Add(bytes.Join([][]byte{pageJSON(f, "t1", "a"), pageJSON(f, "t2", "a")}, []byte{0}))
	f.Add(bytes.Join([][]byte{pageJSON(f, "t1", "a"), pageJSON(f, "t1", "b")}, []byte{0}))
	f.Add(bytes.Join([][]byte{pageJSON(f, "t%201", "a"), pageJSON(f, "t+1", "b"), pageJSON(f, "t 1", "c")}, []byte{0}))
	f.Add([]byte(`{"items":[{"id":""}]}`))
	f.Add([]byte(`{"items":null,"_links":{"next":{"href":"::"}}}`))
	f.Add([]byte(`{"items":[{"id":"x"},{"id":"X"}],"_links":{"next":{"href":"?continuationToken=%zz"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var l listing[Connection]
		tokens := map[string]bool{}
		pages := bytes.Split(data, []byte{0})
		for _, p := range pages {
			next, err := l.add(p)
			if err != nil {
				if next != "" {
					t.Fatalf("a refused page returned token %q", next)
				}
				return
			}
			seen := map[string]bool{}
			for _, c := range l.items {
				if c.ID == "" || seen[c.ID] {
					t.Fatalf("accepted items hold id %q twice or empty", c.ID)
				}
				seen[c.ID] = true
			}
			if len(l.items) > len(data) {
				t.Fatalf("%d items from %d bytes", len(l.items), len(data))
			}
			if next == "" {
				return
			}
			if tokens[next] {
				t.Fatalf("token %q returned twice", next)
			}
			tokens[next] = true
		}
	})
}
