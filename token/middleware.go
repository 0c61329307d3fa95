package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Option configures Middleware.
type Option func(*middlewareOptions)

type middlewareOptions struct {
	cacheSize int
	onError   func(http.ResponseWriter, *http.Request, error)
}

// WithCacheSize sets how many verified tokens Middleware remembers (see
// Cache); zero or less turns the cache off. The default is
// DefaultCacheSize.
func WithCacheSize(n int) Option {
	return func(o *middlewareOptions) { o.cacheSize = n }
}

// WithErrorHandler replaces WriteError as the answer to a request whose
// token is missing or refused, for example to log the reason first. err
// wraps ErrInvalid and a reason (see Reason).
func WithErrorHandler(f func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(o *middlewareOptions) { o.onError = f }
}

// Middleware returns net/http middleware, for chi's Use or any router,
// that lets a request through only with a token v accepts in its
// `Authorization: Bearer` header, and puts the token's claims in the
// request's context (see FromContext). Other requests are answered by
// WriteError. Verified tokens are cached (see Cache, WithCacheSize).
func Middleware(v *Verifier, opts ...Option) func(http.Handler) http.Handler {
	o := middlewareOptions{cacheSize: DefaultCacheSize, onError: WriteError}
	for _, opt := range opts {
		opt(&o)
	}
	verify := v.VerifyContext
	if o.cacheSize > 0 {
		verify = NewCache(v, o.cacheSize).VerifyContext
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := BearerToken(r)
			var c *Claims
			if err == nil {
				c, err = verify(r.Context(), tok)
			}
			if err != nil {
				o.onError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
		})
	}
}

// BearerToken returns the token of r's `Authorization: Bearer <token>`
// header. Without the header the error wraps ErrMissing; with another
// scheme or no token, ErrMalformed. Both wrap ErrInvalid.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", fmt.Errorf("%w: %w", ErrInvalid, ErrMissing)
	}
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", fmt.Errorf("%w: %w: %w", ErrInvalid, ErrMalformed, errNotBearer)
	}
	return tok, nil
}

var errNotBearer = errors.New("authorization header is not \"Bearer <token>\"")

// problem is an RFC 9457 problem details body, shaped like the wxlogin
// server's own errors.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

// WriteError answers a request whose bearer token is missing or refused
// as wxlogin does: 401, `WWW-Authenticate: Bearer error="invalid_token"`
// (with no error when the token is missing, as RFC 6750 asks), and an
// application/problem+json body with code "invalid_token". The body says
// why in general terms and never quotes the token.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	detail := errorDetail(err)
	h := w.Header()
	if errors.Is(err, ErrMissing) {
		h.Set("WWW-Authenticate", `Bearer`)
	} else {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+detail+`"`)
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(problem{
		Type:   "about:blank",
		Title:  http.StatusText(http.StatusUnauthorized),
		Status: http.StatusUnauthorized,
		Detail: detail,
		Code:   "invalid_token",
	})
}

// errorDetail is the client-facing reason: fixed strings only, so that
// nothing from the request is echoed (and none needs quoting in the
// WWW-Authenticate header).
func errorDetail(err error) string {
	switch {
	case errors.Is(err, ErrMissing):
		return "missing Authorization: Bearer token"
	case errors.Is(err, errNotBearer):
		return "the Authorization header must be Bearer and a token"
	case errors.Is(err, ErrExpired):
		return "the token has expired; log in again"
	case errors.Is(err, ErrNotYetValid):
		return "the token is not valid yet"
	default:
		return "the token is not valid"
	}
}
