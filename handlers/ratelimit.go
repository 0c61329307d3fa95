package handlers

import (
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
)

// clientIP puts the client's IP in the request context (read it with
// middleware.GetClientIP): the peer address, or, when the peer is one of
// TrustedProxies, the rightmost untrusted address of X-Forwarded-For.
// chi's RealIP is not used: it believes any client's headers.
func (s *server) clientIP() func(http.Handler) http.Handler {
	if len(s.TrustedProxies) == 0 {
		return middleware.ClientIPFromRemoteAddr
	}
	cidrs := make([]string, len(s.TrustedProxies))
	for i, p := range s.TrustedProxies {
		cidrs[i] = p.String()
	}
	return middleware.ClientIPFromXFF(cidrs...)
}

// fromTrustedProxy reports whether r's peer is one of TrustedProxies,
// whose headers (X-Forwarded-For, X-Request-Id) are believed.
func (s *server) fromTrustedProxy(r *http.Request) bool {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	for _, p := range s.TrustedProxies {
		if p.Contains(peer.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// limitWindow is the window of every rate limit: limits are per minute.
const limitWindow = time.Minute

// limitLogins lets each client IP make at most RateLimit requests per
// minute (a sliding window, in this process's memory) and answers the
// rest 429 rate_limited through the one error writer. With RateLimit 0
// it lets everything through.
func (s *server) limitLogins() func(http.Handler) http.Handler {
	l := s.newLimiter(s.RateLimit, "too many logins from this address; retry later", httprate.WithKeyFuncs(clientIPKey))
	if l == nil {
		return func(next http.Handler) http.Handler { return next }
	}
	return l.Handler
}

// newLimiter returns a limiter of limit calls per limitWindow (a sliding
// window, in this process's memory) that answers the calls beyond it 429
// rate_limited with detail and Retry-After, through the one error writer;
// nil when limit is 0.
func (s *server) newLimiter(limit int, detail string, opts ...httprate.Option) *httprate.RateLimiter {
	if limit == 0 {
		return nil
	}
	return httprate.NewRateLimiter(limit, limitWindow, append(opts,
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, &Error{Code: CodeRateLimited, Detail: detail, RetryAfter: int(limitWindow.Seconds())})
		}),
		httprate.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, err)
		}),
	)...)
}

// clientIPKey is the rate-limit bucket of a request: its client IP, with
// IPv6 addresses reduced to their /64 (one subscriber's usual block). A
// trusted proxy that sends no usable X-Forwarded-For is limited by its own
// address, so a broken chain shares one bucket rather than escaping the
// limit.
func clientIPKey(r *http.Request) (string, error) {
	ip := middleware.GetClientIP(r.Context())
	if ip == "" {
		ip = r.RemoteAddr
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			ip = host
		}
	}
	return httprate.CanonicalizeIP(ip), nil
}
