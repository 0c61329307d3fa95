package handlers

import (
	"net/http"

	"github.com/go-chi/httprate"

	"github.com/wxlogin/wxlogin/token"
)

// limitUsers guards the routes that act for the holder of a token and
// spend what every user shares: WeChat's per-app quota (/v1/phone,
// /v1/session/check) or this server's CPU (/v1/decrypt). One token must
// not drive them without bound, nor one address with many tokens. So it
// lets each client IP (IPv6: its /64, as limitLogins) make at most
// UserIPRateLimit calls a minute to them together, counted before the
// token is looked at, and each user (the token's appid and subject) at
// most UserRateLimit, counted once the token verifies; the rest are
// answered 429 rate_limited with Retry-After. A limit of 0 is off.
//
// It verifies the token itself, so that it can count by subject, and
// hands the claims on in the request's context, where bearer finds them:
// a token is verified once per request.
func (s *server) limitUsers() func(http.Handler) http.Handler {
	// Only the per-user limit reports itself in X-RateLimit-* headers: two
	// limiters would overwrite each other's, and the user's budget is the
	// one a client can act on.
	byIP := s.newLimiter(s.UserIPRateLimit, "too many calls from this address; retry later",
		httprate.WithResponseHeaders(httprate.ResponseHeaders{}))
	byUser := s.newLimiter(s.UserRateLimit, "too many calls for this user; retry later")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if byIP != nil {
				ip, _ := rateLimitKey(r)
				if byIP.RespondOnLimit(w, r, ip) {
					return
				}
			}
			c, err := s.bearer(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			// The appid too: the same openid in two apps is two users.
			if byUser != nil && byUser.RespondOnLimit(w, r, c.AppID+"\x00"+c.Subject) {
				return
			}
			next.ServeHTTP(w, r.WithContext(token.NewContext(r.Context(), c)))
		})
	}
}
