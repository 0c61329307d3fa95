package handlers

import (
	"net/http"
	"time"

	"github.com/wxlogin/wxlogin/token"
)

// bearer verifies the request's Authorization: Bearer token (the contract
// is token's: BearerToken, ErrorDetail, Challenge) and records its app
// for the request's log line.
func (s *server) bearer(r *http.Request) (*token.Claims, error) {
	if c, ok := token.FromContext(r.Context()); ok {
		return c, nil // verified, and its app recorded, by limitUsers
	}
	tok, err := token.BearerToken(r)
	if err != nil {
		return nil, err
	}
	c, err := s.Verifier.Verify(tok)
	if err != nil {
		return nil, err
	}
	setApp(r.Context(), c.AppID) // signed by this server, so safe to log
	return c, nil
}

type sessionResponse struct {
	Subject   string `json:"sub"`
	OpenID    string `json:"openid"`
	UnionID   string `json:"unionid,omitempty"`
	AppID     string `json:"appid"`
	ExpiresAt string `json:"expires_at"`
	// Claims are the claims hook's claims in the token.
	Claims map[string]any `json:"claims,omitempty"`
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
			Subject:   c.Subject,
			OpenID:    c.OpenID(),
			UnionID:   c.UnionID,
			AppID:     c.AppID,
			ExpiresAt: c.ExpiresAt.UTC().Format(time.RFC3339),
			Claims:    c.Extra,
		})
	}
}
