package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"

	"golang.org/x/time/rate"
)

// The control routes (Options.Control) let a benchmark or test watch and steer an emulator in
// another process. They live outside APIPrefix so that they are never mistaken for Flow
// Service calls: they need no headers, are not counted in Stats, and see no latency, faults
// or rate limit. Nothing they answer is a secret.
const (
	// StatsPath answers GET with Stats as JSON:
	//
	//	{"Total":10001,"Requests":{"POST":{"201":10000}},"Faults":{"rate-limit":12},"IMSRequests":0,"TokensIssued":0}
	//
	// Requests holds API calls by method, then HTTP status (0: left unanswered on purpose).
	StatsPath = "/_emulator/stats"

	// RateLimitPath answers GET with {"rateLimit": N} (calls per second, 0 = unlimited) and
	// takes PUT of the same body to change the limit while serving, as a service under
	// varying load does.
	RateLimitPath = "/_emulator/rate-limit"
)

// RateLimitBody is the body of GET and PUT RateLimitPath.
type RateLimitBody struct {
	RateLimit float64 `json:"rateLimit"`
}

// SetRateLimit changes Options.RateLimit while serving: API calls per second (token bucket,
// burst limit/10, min 1); 0 = unlimited.
func (s *Server) SetRateLimit(limit float64) error {
	if math.IsNaN(limit) || math.IsInf(limit, 0) || limit < 0 {
		return fmt.Errorf("rate-limit %v: want 0 (unlimited) or a positive number of calls per second", limit)
	}
	if limit == 0 {
		s.limiter.Store(nil)
		return nil
	}
	s.limiter.Store(rate.NewLimiter(rate.Limit(limit), max(1, int(limit/10))))
	return nil
}

// RateLimit is the current limit of API calls per second (0 = unlimited).
func (s *Server) RateLimit() float64 {
	if l := s.limiter.Load(); l != nil {
		return float64(l.Limit())
	}
	return 0
}

// controlHandler serves the control routes, and reports whether path is one.
func (s *Server) controlHandler(w http.ResponseWriter, r *http.Request) bool {
	if p := strings.TrimSuffix(r.URL.Path, "/"); p == DataflowsPath || strings.HasPrefix(p, DataflowsPath+"/") {
		s.serveDataflows(w, r)
		return true
	}
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case StatsPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return true
		}
		writeJSON(w, http.StatusOK, s.Stats())
	case RateLimitPath:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPut:
			var b RateLimitBody
			dec := json.NewDecoder(io.LimitReader(r.Body, 1<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&b); err != nil {
				http.Error(w, "body: want {\"rateLimit\": N}: "+err.Error(), http.StatusBadRequest)
				return true
			}
			if err := s.SetRateLimit(b.RateLimit); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return true
			}
		default:
			w.Header().Set("Allow", "GET, HEAD, PUT")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return true
		}
		writeJSON(w, http.StatusOK, RateLimitBody{RateLimit: s.RateLimit()})
	default:
		return false
	}
	return true
}
