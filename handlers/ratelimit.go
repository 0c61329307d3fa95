package handlers

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-chi/httprate"
)

// clientIP puts the client's IP in the request context (read it with
// clientIPOf): the peer address, or, when the peer is one of
// TrustedProxies, the rightmost untrusted address of X-Forwarded-For.
// When every address in it is trusted (a client inside the trusted
// network, such as a load test through nginx on loopback) it is the
// leftmost one, as nginx's real_ip_recursive and chi's RealIP take it; a
// trusted peer that sends no X-Forwarded-For is the client itself. An
// entry that does not parse leaves the client unknown (fail closed).
// chi's ClientIPFromXFF does the rest alike but leaves the all-trusted
// case unknown, and its RealIP believes any client's headers.
func (s *server) clientIP() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ip := findClientIP(r, s.TrustedProxies); ip.IsValid() {
				r = r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip))
			}
			next.ServeHTTP(w, r)
		})
	}
}

type clientIPKey struct{}

// clientIPOf returns the client IP clientIP found, or "".
func clientIPOf(ctx context.Context) string {
	if ip, ok := ctx.Value(clientIPKey{}).(netip.Addr); ok {
		return ip.String()
	}
	return ""
}

func findClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, ok := trustedPeer(r, trusted)
	if !peer.IsValid() || !ok {
		return peer
	}
	// Several X-Forwarded-For headers are one list, in order.
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, v := range strings.Split(h, ",") {
			if v = strings.TrimSpace(v); v != "" {
				hops = append(hops, v)
			}
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(hops[i])
		if err != nil {
			return netip.Addr{}
		}
		// Folded and unzoned, as isTrusted sees it.
		client = ip.Unmap().WithZone("")
		if !isTrusted(client, trusted) {
			break
		}
	}
	return client
}

// trustedPeer returns r's peer address (unmapped, its zone kept; invalid
// when RemoteAddr does not parse) and whether it is one of trusted, whose
// headers (X-Forwarded-For, X-Request-Id) are believed.
func trustedPeer(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	peer = peer.Unmap()
	return peer, isTrusted(peer, trusted)
}

// isTrusted reports whether ip is in one of trusted. The zone is left
// out (a Prefix contains no zoned address), so that no other spelling of
// a trusted address passes as untrusted, or the reverse.
func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// fromTrustedProxy reports whether r's peer is one of TrustedProxies.
func (s *server) fromTrustedProxy(r *http.Request) bool {
	_, ok := trustedPeer(r, s.TrustedProxies)
	return ok
}

// limitWindow is the window of every rate limit: limits are per minute.
const limitWindow = time.Minute

// limitLogins lets each client IP make at most RateLimit requests per
// minute (a sliding window, in this process's memory) and answers the
// rest 429 rate_limited through the one error writer. With RateLimit 0
// it lets everything through.
func (s *server) limitLogins() func(http.Handler) http.Handler {
	l := s.newLimiter(s.RateLimit, "too many logins from this address; retry later", httprate.WithKeyFuncs(rateLimitKey))
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

// rateLimitKey is the rate-limit bucket of a request: its client IP, with
// IPv6 addresses reduced to their /64 (one subscriber's usual block). A
// trusted proxy whose X-Forwarded-For does not parse is limited by its own
// address, so a broken chain shares one bucket rather than escaping the
// limit.
func rateLimitKey(r *http.Request) (string, error) {
	ip := clientIPOf(r.Context())
	if ip == "" {
		ip = r.RemoteAddr
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			ip = host
		}
	}
	return httprate.CanonicalizeIP(ip), nil
}
