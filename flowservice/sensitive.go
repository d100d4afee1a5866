package flowservice

import (
	"context"
	"net/url"
	"strings"
)

type sensitiveKey struct{}

// WithSensitive returns a context whose requests redact values from any answer text copied
// into an error or a log line, besides the access token and the secret param values a
// request carries. The caller names what it took from a secret reference (an s3AccessKey
// from {env: …}, say), which the client cannot know. values is not copied: do not change it.
func WithSensitive(ctx context.Context, values []string) context.Context {
	return context.WithValue(ctx, sensitiveKey{}, values)
}

// sensitive hands the context's sensitive values to the request (no copy: they are only
// read when an error or a log line is built).
func (c *Client) sensitive(next stage) stage {
	return func(ctx context.Context, r *request) (*response, error) {
		if v, ok := ctx.Value(sensitiveKey{}).([]string); ok {
			r.extra = v
		}
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
