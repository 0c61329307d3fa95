package handlers

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// routes is the one table of every route wxlogin serves.
func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, s.logRequests, s.recoverPanics)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	r.Post("/v1/login", s.handleLogin())
	r.Get("/v1/session", s.handleSession())

	r.Get("/.well-known/jwks.json", s.handleJWKS())
	r.Get("/.well-known/openid-configuration", s.handleDiscovery())
	r.Get("/healthz", s.handleHealthz())
	r.Get("/readyz", s.handleReadyz())
	return r
}
