package wechat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// AccessToken is a WeChat API access token and how long it had left to
// live when WeChat handed it out. Its String, GoString and LogValue hide
// the token, so a stray %v or slog attribute cannot leak it.
type AccessToken struct {
	Token     string        // the credential; never log it
	ExpiresIn time.Duration // lifetime left at the time of the answer
}

// String describes t without the token.
func (t AccessToken) String() string {
	return fmt.Sprintf("wechat.AccessToken{Token:[redacted], ExpiresIn:%s}", t.ExpiresIn)
}

// GoString describes t without the token.
func (t AccessToken) GoString() string { return t.String() }

// LogValue logs only the lifetime.
func (t AccessToken) LogValue() slog.Value {
	return slog.GroupValue(slog.Duration("expires_in", t.ExpiresIn))
}

// StableAccessToken fetches the app's access token from
// /cgi-bin/stable_token (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html).
// In normal mode (forceRefresh false) every caller, on any replica, gets
// the same token until WeChat rotates it, and no call invalidates another
// caller's token; WeChat hands out the next one during the last 5 minutes
// while the old one stays valid. forceRefresh true invalidates the current
// token for everyone and is limited to 20 calls a day: it is for a leaked
// token, never for the normal path. WeChat's 40001 here means the
// AppSecret is wrong and is reported as ErrMisconfigured.
func (c *Client) StableAccessToken(ctx context.Context, forceRefresh bool) (AccessToken, error) {
	const api = "/cgi-bin/stable_token"
	body := struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}{"client_credential", c.appID, c.secret, forceRefresh}
	var out struct {
		envelope
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := c.call(ctx, http.MethodPost, api, nil, body, &out); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.kind == ErrAccessToken {
			ae.kind = ErrMisconfigured // the token APIs answer 40001 for a wrong secret
		}
		return AccessToken{}, err
	}
	if out.AccessToken == "" || out.ExpiresIn <= 0 {
		return AccessToken{}, fmt.Errorf("%w: %s answer without access_token or expires_in", ErrUpstream, api)
	}
	return AccessToken{Token: out.AccessToken, ExpiresIn: time.Duration(out.ExpiresIn) * time.Second}, nil
}

// TokenCacheConfig configures a TokenCache.
type TokenCacheConfig struct {
	// Fetch gets a token from its source: normally
	// client.StableAccessToken(ctx, false); a deployment with a central
	// token service fetches from that service instead. It must never
	// force WeChat to refresh. Required.
	Fetch func(ctx context.Context) (AccessToken, error)
	// Margin is how long before expiry a token is refreshed; 1 minute
	// when zero, and never more than half the token's lifetime.
	Margin time.Duration
	// Timeout bounds one fetch, which runs apart from the request that
	// started it so that one caller giving up fails no other; 30s when zero.
	Timeout time.Duration
	// Now is time.Now when nil.
	Now func() time.Time
}

// TokenCache keeps one access token in process: it fetches on first use,
// serves the cached token until Margin before it expires, and makes
// concurrent callers share one fetch. When a refresh fails while the old
// token is still alive, it keeps serving the old one. It is safe for
// concurrent use.
type TokenCache struct {
	cfg TokenCacheConfig

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	expiresAt time.Time
	flight    *tokenFetch // the fetch under way, if any
}

// tokenFetch is one fetch that any number of callers wait for.
type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

// NewTokenCache returns a TokenCache for cfg. It panics without Fetch.
func NewTokenCache(cfg TokenCacheConfig) *TokenCache {
	if cfg.Fetch == nil {
		panic("wechat: NewTokenCache needs a Fetch function")
	}
	if cfg.Margin <= 0 {
		cfg.Margin = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &TokenCache{cfg: cfg}
}

// Token returns the cached access token, fetching one when there is none
// or it is due for refresh. Callers that arrive during a fetch wait for it
// (or for their own ctx) instead of starting another.
func (tc *TokenCache) Token(ctx context.Context) (string, error) {
	tc.mu.Lock()
	if tc.token != "" && tc.cfg.Now().Before(tc.refreshAt) {
		t := tc.token
		tc.mu.Unlock()
		return t, nil
	}
	f := tc.flight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		tc.flight = f
		go tc.fetch(context.WithoutCancel(ctx), f)
	}
	tc.mu.Unlock()

	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", fmt.Errorf("%w: access token: no answer in time", ErrTimeout)
		}
		return "", fmt.Errorf("%w: access token: %w", ErrUnavailable, ctx.Err())
	}
}

// fetch runs one fetch for f and publishes its result.
func (tc *TokenCache) fetch(ctx context.Context, f *tokenFetch) {
	ctx, cancel := context.WithTimeout(ctx, tc.cfg.Timeout)
	defer cancel()
	start := tc.cfg.Now()
	at, err := tc.call(ctx)
	if err == nil && (at.Token == "" || at.ExpiresIn <= 0) {
		err = fmt.Errorf("%w: access token source answered no token", ErrUpstream)
	}

	tc.mu.Lock()
	switch {
	case err == nil:
		tc.token = at.Token
		tc.expiresAt = start.Add(at.ExpiresIn)
		tc.refreshAt = tc.expiresAt.Add(-min(tc.cfg.Margin, at.ExpiresIn/2))
		f.token = at.Token
	case tc.token != "" && tc.cfg.Now().Before(tc.expiresAt):
		// The refresh failed inside the margin: the old token still works.
		f.token = tc.token
	default:
		f.err = err
	}
	tc.flight = nil
	tc.mu.Unlock()
	close(f.done)
}

// call runs Fetch, turning a panic into an error so that waiting callers
// are released.
func (tc *TokenCache) call(ctx context.Context) (at AccessToken, err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("wechat: access token fetch panicked")
		}
	}()
	return tc.cfg.Fetch(ctx)
}

// Invalidate drops the cached token if it is still failed, the token
// WeChat just refused (40001, 40014, 42001), so that the next Token call
// fetches a fresh one. A token that another caller has already replaced
// is left alone, so many callers failing with the same old token cause
// one fetch, not many.
func (tc *TokenCache) Invalidate(failed string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if failed != "" && tc.token == failed {
		tc.token = ""
		tc.refreshAt, tc.expiresAt = time.Time{}, time.Time{}
	}
}

// AccessTokens hands out the app's access token. *TokenCache implements
// it over /cgi-bin/stable_token, which is safe with any number of
// replicas.
//
// A deployment whose access tokens come from a central token service
// plugs that service in here, in one of two ways: give NewTokenCache a
// Fetch function that asks the service (keeping the in-process cache and
// the shared fetch), or implement this interface directly. Either way
// Token must not force WeChat to refresh, and Invalidate(failed) must
// forget failed only if it is still the token being handed out, then let
// the next Token call get a fresh one.
type AccessTokens interface {
	// Token returns a valid access token.
	Token(ctx context.Context) (string, error)
	// Invalidate reports that WeChat refused failed (40001, 40014, 42001).
	Invalidate(failed string)
}

// UserAPI makes the calls that take the app's access token on a user's
// behalf, with the token from Tokens. It is safe for concurrent use.
type UserAPI struct {
	Client *Client
	Tokens AccessTokens
}

// GetPhoneNumber is Client.GetPhoneNumber with the app's access token
// (see withAccessToken).
func (u *UserAPI) GetPhoneNumber(ctx context.Context, code string) (p PhoneNumber, err error) {
	err = u.withAccessToken(ctx, func(accessToken string) error {
		p, err = u.Client.GetPhoneNumber(ctx, accessToken, code)
		return err
	})
	return p, err
}

// CheckSession is Client.CheckSession with the app's access token (see
// withAccessToken).
func (u *UserAPI) CheckSession(ctx context.Context, openid, sessionKey string) (valid bool, err error) {
	err = u.withAccessToken(ctx, func(accessToken string) error {
		valid, err = u.Client.CheckSession(ctx, accessToken, openid, sessionKey)
		return err
	})
	return valid, err
}

// withAccessToken runs call with an access token. When WeChat refuses the
// token, it drops that token (only if no one has replaced it yet), gets a
// fresh one and runs call once more: one refetch and one retry at most.
// WeChat checks the token before anything else, so the first attempt has
// spent nothing (a phone code stays valid for the retry).
func (u *UserAPI) withAccessToken(ctx context.Context, call func(accessToken string) error) error {
	tok, err := u.Tokens.Token(ctx)
	if err != nil {
		return err
	}
	err = call(tok)
	if !errors.Is(err, ErrAccessToken) {
		return err
	}
	u.Tokens.Invalidate(tok)
	if tok, err = u.Tokens.Token(ctx); err != nil {
		return err
	}
	return call(tok)
}
