package handlers

import (
	"net/http"
)

// keysMaxAge is how long verifiers may cache the JWKS and discovery
// document. A rotation publishes the next key at least this long before
// it signs (see README, "Key rotation").
const keysMaxAge = "public, max-age=300"

func (s *server) handleJWKS() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", keysMaxAge)
		w.Write(s.jwks)
	}
}

func (s *server) handleDiscovery() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", keysMaxAge)
		w.Write(s.discovery)
	}
}

type healthResponse struct {
	Status string `json:"status"`
}

// handleHealthz answers liveness: the process serves HTTP.
func (s *server) handleHealthz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, healthResponse{Status: "ok"})
	}
}

// handleReadyz answers readiness: 503 once shutdown has begun.
func (s *server) handleReadyz() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.Readiness.Ready() {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"draining"}` + "\n"))
			return
		}
		writeJSON(w, healthResponse{Status: "ok"})
	}
}
