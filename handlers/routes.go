package handlers

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// routes is the one table of every route wxlogin serves.
func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.clientIP(), s.logRequests, s.recoverPanics, s.closeWhenDraining)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	r.With(s.limitLogins()).Post("/v1/login", s.handleLogin())
	r.Get("/v1/session", s.handleSession())
	r.Group(func(r chi.Router) {
		r.Use(s.limitUsers()) // per client IP and per user
		r.Post("/v1/decrypt", s.handleDecrypt())
		r.Post("/v1/phone", s.handlePhone())
		r.Post("/v1/session/check", s.handleSessionCheck())
	})

	r.Get("/.well-known/jwks.json", s.handleJWKS())
	r.Get("/.well-known/openid-configuration", s.handleDiscovery())
	r.Get("/healthz", s.handleHealthz())
	r.Get("/readyz", s.handleReadyz())
	if s.MetricsHandler != nil {
		r.Method(http.MethodGet, "/metrics", s.MetricsHandler)
	}
	return r
}
