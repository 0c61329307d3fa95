package handlers

import (
	"context"
	"errors"

	"github.com/wxlogin/wxlogin/wechat"
)

// UserAPI is what /v1/phone and /v1/session/check need from WeChat: calls
// made with the app's access token on a user's behalf. *wechat.Client
// implements it.
type UserAPI interface {
	GetPhoneNumber(ctx context.Context, accessToken, code string) (wechat.PhoneNumber, error)
	CheckSession(ctx context.Context, accessToken, openid, sessionKey string) (bool, error)
}

// AccessTokens hands out the app's WeChat access token. *wechat.TokenCache
// implements it over /cgi-bin/stable_token, which is safe with any number
// of replicas.
//
// A deployment whose access tokens come from a central token service
// plugs that service in here, in one of two ways: give wechat.NewTokenCache
// a Fetch function that asks the service (keeping the in-process cache and
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

// withAccessToken runs call with an access token. When WeChat refuses the
// token, it drops that token (only if no one has replaced it yet), gets a
// fresh one and runs call once more: one refetch and one retry at most.
// WeChat checks the token before anything else, so the first attempt has
// spent nothing (a phone code stays valid for the retry).
func (s *server) withAccessToken(ctx context.Context, call func(accessToken string) error) error {
	if s.UserAPI == nil || s.AccessTokens == nil {
		return errorf(CodeInternal, "this server is not configured to call WeChat on a user's behalf")
	}
	tok, err := s.AccessTokens.Token(ctx)
	if err != nil {
		return err
	}
	err = call(tok)
	if !errors.Is(err, wechat.ErrAccessToken) {
		return err
	}
	s.AccessTokens.Invalidate(tok)
	if tok, err = s.AccessTokens.Token(ctx); err != nil {
		return err
	}
	return call(tok)
}
