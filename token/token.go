// Package token issues and verifies wxlogin's login tokens: short-lived
// JWS-signed JWTs (ES256 or EdDSA) whose sk claim carries the user's
// WeChat session_key sealed with AES-256-GCM.
//
// Downstream services need only the Verifier: it checks a token offline
// against wxlogin's public keys, pinning the algorithm to each key and
// requiring exp, iss and aud.
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
