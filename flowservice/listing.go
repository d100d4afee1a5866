package flowservice

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"unicode/utf8"
)

// maxPages bounds a listing: 100,000 pages of 100 is far beyond any sandbox.
const maxPages = 100_000

type listPage[T any] struct {
	Items []T `json:"items"`
	Links struct {
		Next *struct {
			Href string `json:"href"`
		} `json:"next"`
	} `json:"_links"`
}

// listing reads the pages of one list, in order. It is where a service that sends the same
// page again (under the same or a new continuation token) is caught: a connection id or a
// token seen before in this listing is an error, so that a listing always ends and its memory
// stays bounded by what the service really holds.
type listing[T any] struct {
	items  []T
	ids    map[string]int // id → page it came in (1-based)
	tokens map[string]int // continuation token → page whose next link held it
	pages  int
}

// add reads the next page's body and returns the continuation token of the page after it,
// "" when it was the last.
func (l *listing[T]) add(body []byte) (next string, err error) {
	l.pages++
	if l.pages > maxPages {
		return "", fmt.Errorf("more than %d pages: giving up", maxPages)
	}
	if l.ids == nil {
		l.ids, l.tokens = map[string]int{}, map[string]int{}
	}
	var page listPage[T]
	if err := json.Unmarshal(body, &page); err != nil {
		return "", fmt.Errorf("decode page %d: %w", l.pages, err)
	}
	for i := range page.Items {
		id, what := itemID(&page.Items[i])
		if id == "" {
			return "", fmt.Errorf("page %d: item %d has no id", l.pages, i+1)
		}
		if first, dup := l.ids[id]; dup {
			return "", fmt.Errorf("page %d repeats %s %s (first on page %d): the service's listing does not advance; giving up instead of looping", l.pages, what, quoteShort(id), first)
		}
		l.ids[id] = l.pages
	}
	l.items = append(l.items, page.Items...)
	if page.Links.Next == nil || page.Links.Next.Href == "" {
		return "", nil
	}
	token, err := continuationToken(page.Links.Next.Href)
	if err != nil {
		return "", fmt.Errorf("page %d: %w", l.pages, err)
	}
	if first, dup := l.tokens[token]; dup {
		return "", fmt.Errorf("page %d: the service sent continuation token %s again (first on page %d): giving up instead of looping", l.pages, quoteShort(token), first)
	}
	l.tokens[token] = l.pages
	return token, nil
}

// itemID is the id of a listed item and what it is called.
func itemID(item any) (id, what string) {
	switch v := item.(type) {
	case *Connection:
		return v.ID, "connection"
	case *SourceConnection:
		return v.ID, "source connection"
	case *Flow:
		return v.ID, "flow"
	}
	return "", "item"
}

func continuationToken(href string) (string, error) {
	u, err := url.Parse(href)
	if err != nil {
		return "", fmt.Errorf("next link %s is not a URL: %w", quoteShort(href), err)
	}
	token := u.Query().Get("continuationToken")
	if token == "" {
		return "", fmt.Errorf("next link %s has no continuationToken", quoteShort(href))
	}
	return token, nil
}

// quoteShort quotes s for a message, cut to a readable length (a service may send anything).
func quoteShort(s string) string {
	const max = 80
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := s[:max]
	for len(cut) > 0 && !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	return strconv.Quote(cut) + "…"
}
