package flowservice

import (
	"context"
	"net/url"
	"strings"
)

// sensitive hands Config.Sensitive to the request (no copy: the values are only read when
// an error or a log line is built).
func (c *Client) sensitive(next stage) stage {
	return func(ctx context.Context, r *request) (*response, error) {
		r.extra = c.redact
		return next(ctx, r)
	}
}

// redactAll replaces every form of each value a service might echo: as sent, and
// URL-encoded (a form body).
func redactAll(s string, values []string) string {
	for _, v := range values {
		if v == "" {
			continue
		}
		s = strings.ReplaceAll(s, v, "(sensitive)")
		if q := url.QueryEscape(v); q != v {
			s = strings.ReplaceAll(s, q, "(sensitive)")
		}
	}
	return s
}
