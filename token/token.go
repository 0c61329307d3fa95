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
// context (see FromContext), the claims a team's claims hook added among
// them (Claims.Extra, Claims.Get):
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
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wxlogin/wxlogin/claims"
)

// Claims are the claims of a wxlogin token. Subject is the user: the
// openid, or the unionid with WXLOGIN_SUBJECT=unionid (the same person in
// every app bound to one Open Platform account), or the team's own user
// id where a claims hook gives one; OpenID returns the openid in every
// case. Extra holds the claims hook's claims.
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
	// PhoneNumber is the phone number WeChat verified, in the OIDC form
	// +<country code><number> (+8613800138000), in a token from a phone
	// exchange with WXLOGIN_PHONE_IN_TOKEN=true; then PhoneNumberVerified
	// is true.
	PhoneNumber         string `json:"phone_number,omitempty"`
	PhoneNumberVerified bool   `json:"phone_number_verified,omitempty"`
	// Extra are every other claim of the token: those the team's claims
	// hook added (roles, a Hasura namespace, a PostgREST role), by name.
	// Values are as encoding/json decodes into an any, except that
	// numbers are json.Number, digit for digit as the hook sent them.
	// Read it with Extra["roles"] or Get; never write to it, as verified
	// claims may be shared between requests. None of its names is one of
	// the fields above (see claims.Reserved).
	Extra map[string]any `json:"-"`
}

// Get returns the claim name of Extra, and whether the token has it.
func (c *Claims) Get(name string) (any, bool) {
	v, ok := c.Extra[name]
	return v, ok
}

// plainClaims is Claims without its JSON methods.
type plainClaims Claims

// MarshalJSON writes the claims with Extra's after the named ones, in
// name order. It fails on an Extra name that is one of the named claims
// (claims.IsReserved), which would give the token that claim twice.
func (c Claims) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(plainClaims(c))
	if err != nil || len(c.Extra) == 0 {
		return b, err
	}
	buf := bytes.NewBuffer(b[:len(b)-1]) // without the closing brace
	for _, name := range slices.Sorted(maps.Keys(c.Extra)) {
		if claims.IsReserved(name) {
			return nil, fmt.Errorf("token: the extra claim %q is one wxlogin sets itself", name)
		}
		buf.WriteByte(',')
		// Without HTML escaping, which would make "<" six bytes: the hook's
		// claims take about as much room in the token as they were checked
		// to take (claims.MaxClaimsSize).
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(name); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		buf.WriteByte(':')
		if err := enc.Encode(c.Extra[name]); err != nil {
			return nil, fmt.Errorf("token: the extra claim %q does not encode: %w", name, err)
		}
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads the named claims into their fields and every other
// one into Extra (nil when there are none). It refuses claims with a
// name that equals a named one but for letter case ("SUB", "Exp", "ſub"):
// encoding/json would read it into that field, and wxlogin never issues
// one (claims.IsReserved), so such a token was made to mislead.
func (c *Claims) UnmarshalJSON(b []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	var p plainClaims
	for name, raw := range all {
		if claims.IsReserved(name) {
			if !slices.Contains(reservedNames, name) {
				return fmt.Errorf("token: the claim %q differs from a registered one only in letter case", name)
			}
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if p.Extra == nil {
			p.Extra = make(map[string]any, len(all))
		}
		p.Extra[name] = v
	}
	// Every name left that a field could match case-insensitively is
	// exactly that field's (Extra is not touched: it has no JSON name).
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = Claims(p)
	return nil
}

// reservedNames are the names of the named claims, exactly.
var reservedNames = claims.Reserved()

// OpenID returns the user's openid in the app AppID: the openid claim
// when there is one, else the subject.
func (c *Claims) OpenID() string {
	if c.OpenIDClaim != "" {
		return c.OpenIDClaim
	}
	return c.Subject
}
