// Package token issues and verifies wxlogin's login tokens: short-lived
// JWS-signed JWTs (ES256 or EdDSA) whose sk claim carries the user's
// WeChat session_key sealed with AES-256-GCM.
//
// Downstream services need only the Verifier and Middleware. A Verifier
// checks a token offline against wxlogin's public keys, given as PEM or
// fetched from the JWKS a wxlogin server publishes (refreshed in the
// background, and refetched, rate-limited, when a token names a key it
// has not seen). It pins the algorithm to each key and always checks
// exp, iss and aud. Middleware protects any net/http handler (chi's Use
// included), caches verified tokens (see Cache), answers refusals with
// 401 and a problem body, and hands the claims on through the request
// context (see FromContext):
//
//	v, err := token.NewVerifier(token.VerifierConfig{
//		JWKSURL:  token.JWKSURL("https://login.example.com"),
//		Issuer:   "https://login.example.com",
//		Audience: "wx1234567890abcdef", // the mini program's AppID
//	})
//	…
//	mux.Handle("GET /hello", token.Middleware(v)(hello))
//
// One wxlogin may serve several mini programs, each with its audience
// (often its AppID): a backend for all of them lists every audience in
// VerifierConfig.Audiences, a backend for one names that one alone, and
// Claims.AppID tells which app a token is for.
//
// Package tokentest makes valid and forged tokens for tests.
package token

import (
	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a wxlogin token. Subject is the user: the
// openid, or the unionid with WXLOGIN_SUBJECT=unionid (the same person in
// every app bound to one Open Platform account); OpenID returns the
// openid in either case.
type Claims struct {
	jwt.RegisteredClaims
	// AppID is the mini program the user logged in to.
	AppID string `json:"appid"`
	// OpenIDClaim is the openid claim, present whenever Subject is not the
	// openid. Read OpenID, which falls back to Subject.
	OpenIDClaim string `json:"openid,omitempty"`
	// UnionID is present when WeChat returned one.
	UnionID string `json:"unionid,omitempty"`
	// SK is the sealed session_key; only the issuing server can open it.
	SK string `json:"sk,omitempty"`
}

// OpenID returns the user's openid in the app AppID: the openid claim
// when there is one, else the subject.
func (c *Claims) OpenID() string {
	if c.OpenIDClaim != "" {
		return c.OpenIDClaim
	}
	return c.Subject
}
