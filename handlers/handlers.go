// Package handlers is wxlogin's HTTP layer: it decodes requests, calls
// WeChat and the token package, and encodes answers. Every route is listed
// in routes.go; every failure is answered by one writer as RFC 9457
// problem JSON with a contract code (errors.go).
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat"
)

// WeChat is what POST /v1/login needs from WeChat: the code exchange
// (*wechat.Client, or a *wechat.CodeDedup wrapping one).
type WeChat interface {
	Code2Session(ctx context.Context, code string) (wechat.Session, error)
}

// UserAPI is what /v1/phone and /v1/session/check need from WeChat: calls
// made with the app's access token on a user's behalf (*wechat.UserAPI,
// which fetches and retries the access token).
type UserAPI interface {
	GetPhoneNumber(ctx context.Context, code string) (wechat.PhoneNumber, error)
	CheckSession(ctx context.Context, openid, sessionKey string) (bool, error)
}

// Issuer signs tokens and opens the session_key sealed in one.
type Issuer interface {
	// IssueWith signs a token for the user, with the claims hook's sub
	// and claims and a bound phone number when x has them.
	IssueWith(openid, unionid, sessionKey string, x token.Extra) (token.Issued, error)
	// Subject is the sub IssueWith would give without a hook's, or why it
	// cannot issue a token for this user (token.ErrNoUnionID).
	Subject(openid, unionid string) (string, error)
	TTL() time.Duration
	OpenSessionKey(c *token.Claims) (string, error)
}

// Verifier checks a bearer token.
type Verifier interface {
	Verify(tokenString string) (*token.Claims, error)
}

// Deps is everything the HTTP layer depends on, built by main. It is a
// struct rather than a parameter list because it grows with the API.
type Deps struct {
	Logger    *slog.Logger
	Issuer    string      // the iss claim and base URL of the discovery document
	Verifier  Verifier    // verifies bearer tokens, of every app served
	Keys      []token.Key // every published verification key
	Readiness *Readiness  // flips /readyz during shutdown; nil means always ready

	// Apps are the mini programs served, each with its own WeChat client,
	// issuer and UserAPI. With more than one app, a login must name its
	// app.
	Apps []App

	// Claims is the team's claims hook, called after every code and phone
	// exchange; nil when there is none.
	Claims ClaimsHook
	// PhoneInToken puts the phone number (phone_number and
	// phone_number_verified) into the token POST /v1/phone answers with.
	PhoneInToken bool

	// RateLimit is how many POST /v1/login a client IP may make per
	// minute; 0 turns the limit off.
	RateLimit int
	// UserRateLimit is how many calls to /v1/phone, /v1/session/check
	// and /v1/decrypt together one user (a token's appid and subject) may
	// make per minute, and UserIPRateLimit how many one client IP may;
	// 0 turns a limit off.
	UserRateLimit, UserIPRateLimit int
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// IP (for the rate limits, the resend cache and logs) and whose
	// X-Request-Id names the request; for any other peer the client IP is
	// the peer address itself and the request id is ours.
	TrustedProxies []netip.Prefix
	// Metrics receives counts and latencies; nil counts nothing.
	Metrics Metrics
	// MetricsHandler serves GET /metrics; nil leaves the route out.
	MetricsHandler http.Handler
}

// Metrics is what the HTTP layer reports to (metrics.Metrics implements
// it). Outcomes are "ok" or a contract error code.
type Metrics interface {
	Request(route string, status int, took time.Duration)
	Login(outcome string)
	AppLogin(appid, outcome string) // appid "" when the login named no app served here
	TokenIssued()
	TokenRejected(reason string)
}

// noMetrics counts nothing.
type noMetrics struct{}

func (noMetrics) Request(string, int, time.Duration) {}
func (noMetrics) Login(string)                       {}
func (noMetrics) AppLogin(string, string)            {}
func (noMetrics) TokenIssued()                       {}
func (noMetrics) TokenRejected(string)               {}

// noUserAPI is the UserAPI of a server built without one.
type noUserAPI struct{}

var errNoUserAPI = errorf(CodeInternal, "this server is not configured to call WeChat on a user's behalf")

func (noUserAPI) GetPhoneNumber(context.Context, string) (wechat.PhoneNumber, error) {
	return wechat.PhoneNumber{}, errNoUserAPI
}

func (noUserAPI) CheckSession(context.Context, string, string) (bool, error) {
	return false, errNoUserAPI
}

// Readiness is the state /readyz reports. The zero value is ready.
type Readiness struct{ draining atomic.Bool }

// Drain makes /readyz fail from now on, so load balancers stop sending
// new requests while in-flight ones finish.
func (r *Readiness) Drain() { r.draining.Store(true) }

// Ready reports whether the server takes new traffic.
func (r *Readiness) Ready() bool { return r == nil || !r.draining.Load() }

// server holds the dependencies the handler closures share.
type server struct {
	Deps
	apps      map[string]*App // every app served, by AppID
	only      *App            // the app, when there is one alone
	log       *slog.Logger
	ids       *requestIDs
	jwks      []byte
	discovery []byte
}

// New returns the HTTP handler of the whole API.
func New(d Deps) (http.Handler, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = noMetrics{}
	}
	if d.RateLimit < 0 || d.UserRateLimit < 0 || d.UserIPRateLimit < 0 {
		return nil, errors.New("handlers: negative rate limit")
	}
	apps, err := newApps(d)
	if err != nil {
		return nil, err
	}
	jwks, err := token.MarshalJWKS(d.Keys)
	if err != nil {
		return nil, err
	}
	s := &server{
		Deps:      d,
		apps:      apps,
		log:       d.Logger,
		ids:       newRequestIDs(),
		jwks:      jwks,
		discovery: token.NewDiscovery(d.Issuer, d.Keys).JSON(),
	}
	if len(apps) == 1 {
		for _, a := range apps {
			s.only = a
		}
	}
	return s.routes(), nil
}
