package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/wxlogin/wxlogin/internal/text"
)

// loginRoute is the route pattern of POST /v1/login in routes.go, whose
// requests are also counted by outcome.
const loginRoute = "/v1/login"

// logRequests gives each request its id (see requestIDs) and logs one
// line per request: request id, method, route pattern (never the raw URL,
// whose query a client may fill with a code), status, latency, outcome
// code, client IP (set by clientIP, which runs first) and the app the
// request acted for (once known), and counts the request in the metrics.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// Only a proxy of ours names the request; a client's X-Request-Id
		// would let anyone write what they like into the logs.
		claimed := ""
		if s.fromTrustedProxy(r) {
			claimed = r.Header.Get(middleware.RequestIDHeader)
		}
		info := &requestInfo{id: s.ids.next(claimed)}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
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
		took := time.Since(start)
		ctx := r.Context()
		// LogAttrs rather than key-value pairs: nothing is boxed, and the
		// line is skipped without building it when Info is off.
		if s.log.Enabled(ctx, slog.LevelInfo) {
			attrs := [...]slog.Attr{
				slog.String("request_id", info.id),
				slog.String("method", boundedMethod(r.Method)),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(took.Microseconds())/1000),
				slog.String("outcome", info.outcome()),
				slog.String("client_ip", clientIPOf(ctx)),
				slog.String("app", info.app),
			}
			n := len(attrs)
			if info.app == "" {
				n-- // not known: the request was refused before naming one
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs[:n]...)
		}
		s.Metrics.Request(route, status, took)
		if route == loginRoute {
			s.Metrics.Login(info.outcome())
			s.Metrics.AppLogin(info.app, info.outcome())
		}
	})
}

// requestIDs makes request ids as chi's middleware.RequestID does, in
// the same form ("host/0123456789-000042": the host name, a random tag
// per process, a counter); like it, a request that comes
// with an X-Request-Id header keeps that id, but only from a trusted proxy
// (one that traces requests) and only when it looks like one
// (text.IsID): anything else would let a client write arbitrary text
// into the logs and problem documents.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	host, err := os.Hostname()
	if host == "" || err != nil {
		host = "localhost"
	}
	var tag [5]byte
	rand.Read(tag[:])
	return &requestIDs{prefix: host + "/" + hex.EncodeToString(tag[:]) + "-"}
}

// next returns claimed, the X-Request-Id of a trusted proxy, when it is
// a valid id, and otherwise a new id.
func (ids *requestIDs) next(claimed string) string {
	if text.IsID(claimed) {
		return claimed
	}
	return fmt.Sprintf("%s%06d", ids.prefix, ids.n.Add(1))
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
				"request_id", requestID(r.Context()),
				"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			s.writeError(w, r, errorf(CodeInternal, "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}

// closeWhenDraining answers with Connection: close once the server drains,
// so that a proxy holding keep-alive connections to it (nginx, Envoy)
// retires each one after its next answer, while the server still serves.
// Left idle in the proxy's pool, a connection is closed by the shutdown
// just as the proxy may send a request on it, and a proxy does not resend
// a POST it has sent: the login would fail with 502.
func (s *server) closeWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.Readiness.Ready() {
			w.Header().Set("Connection", "close")
		}
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
	s.writeError(w, r, errorf(CodeMethodNotAllowed, "this endpoint does not take "+boundedMethod(r.Method)))
}

// maxMethodLen bounds the method a log line or a 405 detail quotes: the
// longest standard one is 7 bytes, and net/http takes any token up to the
// header limit (16 KiB here), which must not be echoed or logged whole.
const maxMethodLen = 16

// boundedMethod returns m, cut to maxMethodLen bytes. net/http admits
// only token characters in a method, so it needs no escaping.
func boundedMethod(m string) string { return text.Ellipsis(m, maxMethodLen) }
