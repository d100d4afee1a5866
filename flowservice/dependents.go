package flowservice

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// LookupBatch is how many ids one lookup request names (ORed in one property filter): a
// batch of 50 UUIDs keeps the query near 2 KB, far below any gateway's URL limit.
const LookupBatch = 50

// SourceConnections returns the source connections of the base connections baseIDs:
// GET /sourceConnections?property=baseConnectionId==ID1,ID2,… with at most LookupBatch ids a
// request, each followed through its pages.
func (c *Client) SourceConnections(ctx context.Context, baseIDs []string) ([]SourceConnection, error) {
	return lookup[SourceConnection](ctx, c, "/sourceConnections", "baseConnectionId", baseIDs)
}

// Flows returns the dataflows that read any of the source connections sourceIDs:
// GET /flows?property=sourceConnectionIds[]==SC1,SC2,… batched and paged like
// SourceConnections. A flow reading several of them is returned once.
func (c *Client) Flows(ctx context.Context, sourceIDs []string) ([]Flow, error) {
	flows, err := lookup[Flow](ctx, c, "/flows", "sourceConnectionIds[]", sourceIDs)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(flows))
	out := flows[:0]
	for _, f := range flows {
		if !seen[f.ID] {
			seen[f.ID] = true
			out = append(out, f)
		}
	}
	return out, nil
}

// lookup lists the items of path whose property is one of ids, in batches of LookupBatch.
func lookup[T any](ctx context.Context, c *Client, path, property string, ids []string) ([]T, error) {
	var out []T
	for start := 0; start < len(ids); start += LookupBatch {
		batch := ids[start:min(start+LookupBatch, len(ids))]
		q := url.Values{}
		q.Set("limit", strconv.Itoa(maxPageLimit))
		q.Set("property", property+"=="+strings.Join(batch, ","))
		var l listing[T]
		for {
			resp, err := c.do(ctx, &request{method: http.MethodGet, path: path, query: q.Encode()})
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", path[1:], err)
			}
			token, err := l.add(resp.body)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", path[1:], err)
			}
			if token == "" {
				break
			}
			q.Set("continuationToken", token)
		}
		out = append(out, l.items...)
	}
	return out, nil
}
