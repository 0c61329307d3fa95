package handlers

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// logRequests logs one line per request: request id, method, route
// pattern (never the raw URL, whose query a client may fill with a code),
// status, latency and outcome code.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		o := &outcome{}
		r = r.WithContext(context.WithValue(r.Context(), outcomeKey{}, o))
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)

		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		s.log.InfoContext(r.Context(), "request",
			"request_id", middleware.GetReqID(r.Context()),
			"method", r.Method,
			"route", route,
			"status", status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"outcome", o.logValue(),
		)
	})
}

// recoverPanics answers a panicking handler with a 500 problem, logs the
// panic with its request id and stack, and keeps the server serving.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			s.log.ErrorContext(r.Context(), "handler panicked",
				"request_id", middleware.GetReqID(r.Context()),
				"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			s.writeError(w, r, errorf(CodeInternal, "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errorf(CodeNotFound, "no such endpoint"))
}

// methodNotAllowed answers 405 with the Allow header chi would set.
func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.Routes != nil {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if rctx.Routes.Match(chi.NewRouteContext(), m, r.URL.Path) {
				w.Header().Add("Allow", m)
			}
		}
	}
	s.writeError(w, r, errorf(CodeMethodNotAllowed, "this endpoint does not take "+r.Method))
}
