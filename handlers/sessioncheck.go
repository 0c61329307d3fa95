package handlers

import "net/http"

type sessionCheckResponse struct {
	Valid bool `json:"valid"`
}

// handleSessionCheck asks WeChat whether the session_key sealed in the
// bearer token is still the user's current one. A sealed key that does
// not open (the session-key secret was rotated) is not valid either:
// the answer to both is to log in again. It acts for the token's app.
func (s *server) handleSessionCheck() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, app, err := s.bearerApp(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if app.UserAPI == nil {
			s.writeError(w, r, errNoUserAPI)
			return
		}
		sk, err := app.Tokens.OpenSessionKey(c)
		if err != nil {
			s.log.InfoContext(r.Context(), "session check: the token's session key does not open", "err", err)
			writeJSON(w, sessionCheckResponse{Valid: false})
			return
		}
		valid, err := app.UserAPI.CheckSession(r.Context(), c.OpenID(), sk)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, sessionCheckResponse{Valid: valid})
	}
}
