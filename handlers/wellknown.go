package handlers

import (
	"fmt"
	"net/http"

	"github.com/wxlogin/wxlogin/token"
)

// keysCacheControl lets verifiers and HTTP caches keep the JWKS and
// discovery document for token.KeysMaxAge. A rotation publishes the next
// key at least this long before it signs (see README, "Key rotation").
var keysCacheControl = fmt.Sprintf("public, max-age=%d", int(token.KeysMaxAge.Seconds()))

// handlePublic serves a public document of the key set: cacheable, and
// readable by any origin, since it holds nothing secret.
func handlePublic(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", keysCacheControl)
		h.Set("Access-Control-Allow-Origin", "*")
		w.Write(body)
	}
}

func (s *server) handleJWKS() http.HandlerFunc { return handlePublic(s.jwks) }

func (s *server) handleDiscovery() http.HandlerFunc { return handlePublic(s.discovery) }

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
