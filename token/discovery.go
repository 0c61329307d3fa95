package token

import (
	"encoding/json"
	"sort"
	"strings"
)

// JWKSPath is where the JWKS is served, relative to the issuer.
const JWKSPath = "/.well-known/jwks.json"

// DiscoveryPath is where the discovery document is served, relative to
// the issuer.
const DiscoveryPath = "/.well-known/openid-configuration"

// Discovery is the discovery document served at DiscoveryPath, shaped as
// OpenID Connect Discovery metadata so that generic verifiers (Spring
// Security's issuer-uri, jose's remote JWKS, Envoy) find the keys from the
// issuer alone. wxlogin is not an OpenID provider: it has no
// authorization endpoint, and its tokens are access tokens.
type Discovery struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
}

// NewDiscovery describes an issuer whose tokens are signed by keys.
func NewDiscovery(issuer string, keys []Key) Discovery {
	algs := map[string]bool{}
	for _, k := range keys {
		algs[k.Alg] = true
	}
	d := Discovery{
		Issuer:  issuer,
		JWKSURI: strings.TrimRight(issuer, "/") + JWKSPath,
		// openids are per mini program: pairwise subjects.
		SubjectTypesSupported:  []string{"pairwise"},
		ResponseTypesSupported: []string{"token"},
		ClaimsSupported:        []string{"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "appid", "unionid"},
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
