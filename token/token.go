// Package token issues and verifies wxlogin's login tokens: short-lived
// JWS-signed JWTs (ES256 or EdDSA) whose sk claim carries the user's
// WeChat session_key sealed with XChaCha20-Poly1305 (see Sealer).
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
// Package tokentest makes valid and forged tokens for tests.
package token

import (
	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a wxlogin token. Subject is the openid.
type Claims struct {
	jwt.RegisteredClaims
	// AppID is the mini program the user logged in to.
	AppID string `json:"appid"`
	// UnionID is present when WeChat returned one.
	UnionID string `json:"unionid,omitempty"`
	// SK is the sealed session_key; only the issuing server can open it.
	SK string `json:"sk,omitempty"`
}

// OpenID returns the user's openid, the token's subject.
func (c *Claims) OpenID() string { return c.Subject }
