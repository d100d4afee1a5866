package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/s3source"
)

type listPage struct {
	Items []flowapi.Connection `json:"items"`
	Links *struct {
		Next struct {
			Href string `json:"href"`
		} `json:"next"`
	} `json:"_links"`
}

// listAll follows the next links from query and returns the names in order and the number
// of pages.
func (h *harness) listAll(query string) ([]string, int) {
	h.t.Helper()
	var names []string
	path := "/connections" + query
	pages := 0
	for {
		a := h.do("GET", path, nil, nil)
		if a.status != 200 {
			h.t.Fatalf("GET %s: %d %s", path, a.status, a.raw)
		}
		var p listPage
		if err := json.Unmarshal(a.raw, &p); err != nil {
			h.t.Fatal(err)
		}
		if p.Items == nil {
			h.t.Fatalf("GET %s: items is not a list: %s", path, a.raw)
		}
		pages++
		for _, c := range p.Items {
			names = append(names, c.Name)
			if v, ok := c.Auth.Params["s3SecretKey"]; ok && v != Mask {
				h.t.Errorf("list shows s3SecretKey %q", c.Auth.Params["s3SecretKey"])
			}
		}
		if p.Links == nil {
			return names, pages
		}
		u, err := url.Parse(p.Links.Next.Href)
		if err != nil || u.Path != "/connections" || len(u.Query()) != 1 || u.Query().Get("continuationToken") == "" {
			h.t.Fatalf("next href %q: want /connections?continuationToken=…", p.Links.Next.Href)
		}
		path = p.Links.Next.Href
	}
}

func TestList(t *testing.T) {
	h := newHarness(t, Options{})
	var all []string
	for i := range 25 {
		c := accessKeyConn(fmt.Sprintf("conn-%02d", 24-i)) // created in reverse name order
		if i%5 == 0 {
			c.Auth = flowapi.Auth{SpecName: "IAMRole Based", Params: map[string]string{"bucketName": "iam-bucket"}}
		}
		h.create(c)
		all = append(all, c.Name)
	}
	h.create(accessKeyConn("conn-03")) // a duplicate name, created last
	all = append(all, "conn-03")
	// Another sandbox and another org are invisible.
	h.s.CreateOutOfBand(testOrg, "dev", accessKeyConn("conn-03"))
	h.s.CreateOutOfBand("OTHER@AdobeOrg", testSandbox, accessKeyConn("conn-03"))

	sorted := slices.Clone(all)
	slices.Sort(sorted)
	reversed := slices.Clone(sorted)
	slices.Reverse(reversed)
	iam := []string{"conn-24", "conn-19", "conn-14", "conn-09", "conn-04"}
	notIAM := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(iam, n) })

	for _, c := range []struct {
		query     string
		want      []string
		wantPages int
	}{
		{"", all, 1},
		{"?limit=7", all, 4},
		{"?limit=100", all, 1},
		{"?limit=1&orderby=name", sorted, 26},
		{"?limit=4&orderby=-name", reversed, 7},
		{"?orderby=-createdAt&limit=10", func() []string { s := slices.Clone(all); slices.Reverse(s); return s }(), 3},
		{"?limit=2&property=name==conn-03", []string{"conn-03", "conn-03"}, 1},
		{"?limit=1&property=name==conn-03", []string{"conn-03", "conn-03"}, 2},
		{"?limit=2&property=auth.specName==IAMRole%20Based", iam, 3},
		{"?limit=3&property=auth.specName!=IAMRole%20Based&property=connectionSpec.id==" + s3source.SpecID, notIAM, 7},
		{"?property=state==enabled&property=name!=conn-03&orderby=name&limit=20", slices.DeleteFunc(slices.Clone(sorted), func(n string) bool { return n == "conn-03" }), 2},
		{"?property=state==disabled", nil, 1},
		{"?property=connectionSpec.id==a,b," + s3source.SpecID + "&limit=13", all, 2},
		{"?property=name==nobody", nil, 1},
	} {
		t.Run(c.query, func(t *testing.T) {
			got, pages := h.listAll(c.query)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			if pages != c.wantPages {
				t.Errorf("%d pages, want %d", pages, c.wantPages)
			}
		})
	}

	t.Run("id filter with OR", func(t *testing.T) {
		conns := h.s.Connections(testOrg, testSandbox)
		q := "?property=id==" + conns[3].ID + "," + conns[1].ID + ",unknown"
		got, _ := h.listAll(q)
		if diff := cmp.Diff([]string{conns[1].Name, conns[3].Name}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		got, _ = h.listAll("?property=id!=" + conns[0].ID + "&limit=30")
		if len(got) != len(all)-1 {
			t.Errorf("id!= gave %d, want %d", len(got), len(all)-1)
		}
	})

	t.Run("count", func(t *testing.T) {
		for q, want := range map[string]float64{
			"?count=true": 26,
			"?count=true&property=auth.specName==IAMRole%20Based": 5,
			"?count=true&property=name==conn-03":                  2,
		} {
			a := h.do("GET", "/connections"+q, nil, nil)
			if diff := cmp.Diff(map[string]any{"count": want}, a.body); a.status != 200 || diff != "" {
				t.Errorf("%s: %d (-want +got):\n%s", q, a.status, diff)
			}
		}
	})

	t.Run("token carries the filters", func(t *testing.T) {
		a := h.do("GET", "/connections?limit=2&property=name==conn-03", nil, nil)
		var p listPage
		_ = json.Unmarshal(a.raw, &p)
		_ = p
		a = h.do("GET", "/connections?limit=1&property=name==conn-03", nil, nil)
		_ = json.Unmarshal(a.raw, &p)
		tok := strings.TrimPrefix(p.Links.Next.Href, "/connections?continuationToken=")
		// Sending the same filters with the token is fine; other filters are not.
		if a := h.do("GET", "/connections?property=name==conn-03&continuationToken="+tok, nil, nil); a.status != 200 {
			t.Errorf("same filters beside the token: %d %s", a.status, a.raw)
		}
		if a := h.do("GET", "/connections?property=name==conn-04&continuationToken="+tok, nil, nil); a.status != 400 {
			t.Errorf("other filters beside the token: %d %s", a.status, a.raw)
		}
		if a := h.do("GET", "/connections?continuationToken="+tok, nil, func(hd http.Header) { hd.Set("x-sandbox-name", "dev") }); a.status != 400 {
			t.Errorf("token of another sandbox: %d %s", a.status, a.raw)
		}
	})

	for _, c := range []struct{ query, code, inMsg string }{
		{"?limit=0", "", "limit"},
		{"?limit=101", "", "limit"},
		{"?limit=ten", "", "limit"},
		{"?limit=5&limit=6", "", "limit"},
		{"?count=true&limit=5", "1401-400", "limit and count"},
		{"?count=yes", "", "count"},
		{"?orderby=id", "", "orderby"},
		{"?orderby=+name", "", "orderby"},
		{"?property=region==eu", "", "unknown property"},
		{"?property=name=conn-03", "", "PROPERTY==VALUE"},
		{"?property=createdAt>=5", "", ""},
		{"?property=name~=conn", "", ""},
		{"?property=name==", "", "empty value"},
		{"?property=state==paused", "", "state"},
		{"?continuationToken=garbage", "", "continuationToken"},
		{"?continuationToken=" + (pageToken{Offset: 1, Limit: 1000, OrderBy: "name"}).encode(), "", "continuationToken"},
		{"?start=5", "", "start"},
	} {
		t.Run("reject "+c.query, func(t *testing.T) {
			a := h.do("GET", "/connections"+c.query, nil, nil)
			if a.status != 400 {
				t.Fatalf("status %d, want 400: %s", a.status, a.raw)
			}
			if c.code != "" && a.code() != c.code {
				t.Errorf("code %q, want %q", a.code(), c.code)
			}
			if !strings.Contains(a.detail(), c.inMsg) {
				t.Errorf("message %q does not say %q", a.detail(), c.inMsg)
			}
		})
	}
}
