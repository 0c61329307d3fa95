package token

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// JWKSPath is where the JWKS is served, relative to the issuer.
const JWKSPath = "/.well-known/jwks.json"

// DiscoveryPath is where the discovery document is served, relative to
// the issuer.
const DiscoveryPath = "/.well-known/openid-configuration"

// KeysMaxAge is how long the JWKS and discovery document may be cached
// (their Cache-Control max-age), and how often a Verifier with a JWKS URL
// fetches the keys again. A key rotation publishes the next key at least
// this long, plus the longest cache of any other verifier, before it signs.
const KeysMaxAge = 5 * time.Minute

// JWKSURL returns the address of the JWKS of issuer: issuer without a
// trailing slash, then JWKSPath.
func JWKSURL(issuer string) string {
	return strings.TrimRight(issuer, "/") + JWKSPath
}

// Discovery is the discovery document served at DiscoveryPath, shaped as
// OpenID Connect Discovery metadata so that generic verifiers (Spring
// Security's issuer-uri, jose's remote JWKS, Envoy) find the keys from the
// issuer alone. wxlogin is not an OpenID provider: it has no
// authorization endpoint, and its tokens are access tokens.
//
// Spring Security compares Issuer with its issuer-uri byte for byte and
// reads JWKSURI; Nimbus and other strict OpenID metadata parsers also
// require response_types_supported, subject_types_supported and
// id_token_signing_alg_values_supported, which OpenID Connect Discovery
// 1.0 marks REQUIRED along with authorization_endpoint (that one wxlogin
// cannot honestly publish).
type Discovery struct {
	// Issuer is the iss claim of every token, byte for byte.
	Issuer string `json:"issuer"`
	// JWKSURI is the absolute URL of the JWKS: JWKSURL(Issuer).
	JWKSURI string `json:"jwks_uri"`
	// IDTokenSigningAlgValuesSupported lists the alg of every published key.
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	// SubjectTypesSupported is pairwise: an openid is per mini program.
	SubjectTypesSupported []string `json:"subject_types_supported"`
	// ResponseTypesSupported is token: the login answer carries the token.
	ResponseTypesSupported []string `json:"response_types_supported"`
	// ClaimsSupported lists the claims a token may carry (sk aside, which
	// is opaque to everyone but wxlogin).
	ClaimsSupported []string `json:"claims_supported"`
}

// NewDiscovery describes an issuer whose tokens are signed by keys.
func NewDiscovery(issuer string, keys []Key) Discovery {
	algs := map[string]bool{}
	for _, k := range keys {
		algs[k.Alg] = true
	}
	d := Discovery{
		Issuer:  issuer,
		JWKSURI: JWKSURL(issuer),
		// openids are per mini program: pairwise subjects.
		SubjectTypesSupported:  []string{"pairwise"},
		ResponseTypesSupported: []string{"token"},
		ClaimsSupported:        []string{"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "appid", "openid", "unionid", "phone_number", "phone_number_verified"},
	}
	for a := range algs {
		d.IDTokenSigningAlgValuesSupported = append(d.IDTokenSigningAlgValuesSupported, a)
	}
	sort.Strings(d.IDTokenSigningAlgValuesSupported)
	return d
}

// JSON returns the document encoded.
func (d Discovery) JSON() []byte {
	b, _ := json.Marshal(d)
	return b
}
