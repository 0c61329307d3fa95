package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wxlogin/wxlogin/token"
)

// errNoToken marks a request without credentials: RFC 6750 says its
// WWW-Authenticate carries no error attribute.
var errNoToken = errors.New("no bearer token")

// bearer verifies the request's Authorization: Bearer token.
func (s *server) bearer(r *http.Request) (*token.Claims, error) {
	if c, ok := token.FromContext(r.Context()); ok {
		return c, nil // verified by limitUsers
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, &Error{Code: CodeInvalidToken, Detail: "missing Authorization: Bearer token", Err: errNoToken}
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, errorf(CodeInvalidToken, "the Authorization header must be \"Bearer <token>\"")
	}
	return s.Verifier.Verify(strings.TrimSpace(tok))
}

type sessionResponse struct {
	OpenID    string `json:"openid"`
	UnionID   string `json:"unionid,omitempty"`
	AppID     string `json:"appid"`
	ExpiresAt string `json:"expires_at"`
}

// handleSession tells a caller who the token belongs to and until when.
func (s *server) handleSession() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.bearer(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, sessionResponse{
			OpenID:    c.Subject,
			UnionID:   c.UnionID,
			AppID:     c.AppID,
			ExpiresAt: c.ExpiresAt.UTC().Format(time.RFC3339),
		})
	}
}
