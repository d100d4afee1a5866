package emulator

import (
	"net/http"
	"strings"
)

// StatsPath serves the emulator's counters (Stats) as JSON. It is a test and benchmark aid,
// outside APIPrefix so that it is never mistaken for a Flow Service call: it needs no
// headers, is not counted in Stats, and sees no latency, faults or rate limit.
const StatsPath = "/_emulator/stats"

// StatsHandler answers GET StatsPath with Stats as JSON:
//
//	{"Total":10001,"Requests":{"POST":{"201":10000}},"Faults":{"rate-limit":12},"IMSRequests":0,"TokensIssued":0}
//
// Requests holds API calls by method, then HTTP status (0: left unanswered on purpose).
// Nothing in it is a secret.
func (s *Server) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		writeJSON(w, http.StatusOK, s.Stats())
	})
}

// HandlerWithStats is Handler plus StatsHandler at StatsPath, for a benchmark or test that
// watches the emulator from outside its process.
func (s *Server) HandlerWithStats() http.Handler {
	stats := s.StatsHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimSuffix(r.URL.Path, "/") == StatsPath {
			stats.ServeHTTP(w, r)
			return
		}
		s.handler.ServeHTTP(w, r)
	})
}
