package handlers

import (
	"context"
	"net/http"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/token"
)

// ClaimsHook is the team's claims hook (*claims.Client): called after
// every code and phone exchange, its answer shapes the token. Its errors
// are the claims package's (ErrDenied, ErrUpstream, ErrBadAnswer,
// ErrTimeout, ErrUnavailable), which asError maps to contract codes.
type ClaimsHook interface {
	Call(ctx context.Context, requestID string, r claims.Request) (claims.Answer, error)
}

// hookExtra asks the claims hook, when there is one, what the token for
// the user of req carries: its sub and claims. Without a hook it returns
// def. The request holds ids only: never the session_key, a code or a
// token.
func (s *server) hookExtra(r *http.Request, req claims.Request, def token.Extra) (token.Extra, error) {
	if s.Claims == nil {
		return def, nil
	}
	a, err := s.Claims.Call(r.Context(), requestID(r.Context()), req)
	if err != nil {
		return token.Extra{}, err
	}
	return token.Extra{Subject: a.Sub, Claims: a.Claims}, nil
}
