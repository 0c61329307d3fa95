package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The bearer contract, shared by the wxlogin server and Middleware: how a
// token is taken from a request, and how a request without a usable one
// is answered (RFC 6750 and the contract's invalid_token problem).

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

// ErrorCode is the problem code of a refused bearer token.
const ErrorCode = "invalid_token"

// ErrorDetail is the client-facing reason a token was refused (err from
// BearerToken or Verify): fixed strings only, so that nothing from the
// request is echoed (and none needs quoting in WWW-Authenticate).
func ErrorDetail(err error) string {
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

// Challenge is the WWW-Authenticate header of the 401 answer to err:
// `Bearer` alone when the token is missing, as RFC 6750 asks, else
// `Bearer error="invalid_token"` with ErrorDetail as its description.
func Challenge(err error) string {
	if errors.Is(err, ErrMissing) {
		return "Bearer"
	}
	return `Bearer error="invalid_token", error_description="` + ErrorDetail(err) + `"`
}

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
// as wxlogin does: 401, the Challenge, and an application/problem+json
// body with code "invalid_token" and the ErrorDetail. It never quotes
// the token.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	h := w.Header()
	h.Set("WWW-Authenticate", Challenge(err))
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(problem{
		Type:   "about:blank",
		Title:  http.StatusText(http.StatusUnauthorized),
		Status: http.StatusUnauthorized,
		Detail: ErrorDetail(err),
		Code:   ErrorCode,
	})
}
