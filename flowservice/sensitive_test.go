package flowservice

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A value the caller marks sensitive (an s3AccessKey from {env: …}) is redacted when a
// service echoes it in an error, as sent and URL-encoded.
func TestConfigSensitiveRedactsEchoes(t *testing.T) {
	const canary = "AKIA+CANARY/ACCESS1"
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"title": "invalid request", "status": 400,
			"report": map[string]string{"detailed-message": "bad access key " + canary + " form " + url.QueryEscape(canary)},
		})
	}), func(cfg *Config) { cfg.Sensitive = []string{canary} })
	_, err := c.Create(context.Background(), NewConnection{Name: "n", Auth: Auth{SpecName: "Access Key", Params: map[string]string{"s3AccessKey": canary}}})
	if err == nil {
		t.Fatal("create succeeded")
	}
	if strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("error carries the sensitive value: %v", err)
	}
}
