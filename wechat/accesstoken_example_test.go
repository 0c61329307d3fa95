package wechat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/wxlogin/wxlogin/wechat"
)

// The normal wiring: stable_token in normal mode, cached in process.
func ExampleNewTokenCache() {
	client := wechat.New(wechat.Config{AppID: "wx0123456789abcdef", Secret: "…"})
	tokens := wechat.NewTokenCache(wechat.TokenCacheConfig{
		Fetch: func(ctx context.Context) (wechat.AccessToken, error) {
			return client.StableAccessToken(ctx, false) // never force_refresh here
		},
	})
	_ = &wechat.UserAPI{Client: client, Tokens: tokens} // handlers.App{UserAPI: …}
}

// A deployment whose access tokens come from a central token service
// keeps the cache and the shared fetch, and only changes where a token
// comes from. The service here answers {"access_token", "expires_in"}.
func ExampleNewTokenCache_centralService() {
	const tokenService = "http://token-service.internal/wechat/wx0123456789abcdef"
	tokens := wechat.NewTokenCache(wechat.TokenCacheConfig{
		Fetch: func(ctx context.Context) (wechat.AccessToken, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, tokenService, nil)
			if err != nil {
				return wechat.AccessToken{}, err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return wechat.AccessToken{}, fmt.Errorf("%w: token service: %v", wechat.ErrUnavailable, err)
			}
			defer resp.Body.Close()
			var out struct {
				AccessToken string `json:"access_token"`
				ExpiresIn   int64  `json:"expires_in"`
			}
			if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
				return wechat.AccessToken{}, fmt.Errorf("%w: token service answered %s", wechat.ErrUpstream, resp.Status)
			}
			return wechat.AccessToken{Token: out.AccessToken, ExpiresIn: time.Duration(out.ExpiresIn) * time.Second}, nil
		},
	})
	_ = tokens
}
