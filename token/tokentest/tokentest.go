// Package tokentest makes wxlogin-shaped tokens for tests: valid ones,
// signed by a test key, and the forged, tampered and broken ones that a
// verifier must refuse. Like net/http/httptest, it is meant for tests; a
// downstream service can use it to check that its own protected routes
// refuse every token in Attacks.
package tokentest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wxlogin/wxlogin/token"
)

// Signer signs tokens the way a wxlogin server does.
type Signer struct {
	Key      crypto.Signer    // *ecdsa.PrivateKey (P-256) or ed25519.PrivateKey
	Issuer   string           // iss
	Audience string           // aud
	AppID    string           // appid
	Now      func() time.Time // time.Now when nil
}

// New returns a Signer with a fresh key for alg (token.ES256 or
// token.EdDSA). It panics if alg is neither: it is for tests.
func New(alg, issuer, audience string) *Signer {
	return &Signer{Key: newKey(alg), Issuer: issuer, Audience: audience, AppID: audience}
}

func newKey(alg string) crypto.Signer {
	switch alg {
	case token.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	case token.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	}
	panic(fmt.Sprintf("tokentest: unknown algorithm %q", alg))
}

// PublicKey returns the public key that verifies s's tokens, as a
// token.VerifierConfig takes it.
func (s *Signer) PublicKey() token.Key {
	k, err := token.NewKey(s.Key.Public())
	if err != nil {
		panic(err)
	}
	return k
}

// JWKS returns the JSON Web Key Set of s's public key, as a wxlogin
// server publishes it.
func (s *Signer) JWKS() []byte {
	b, err := token.MarshalJWKS([]token.Key{s.PublicKey()})
	if err != nil {
		panic(err)
	}
	return b
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now().Truncate(time.Second)
	}
	return time.Now().Truncate(time.Second)
}

// Claims returns the claims of a valid token for openid: issued now by
// s.Issuer for s.Audience, valid for an hour.
func (s *Signer) Claims(openid string) jwt.MapClaims {
	now := s.now()
	jti := make([]byte, 16)
	rand.Read(jti)
	return jwt.MapClaims{
		"iss":   s.Issuer,
		"sub":   openid,
		"aud":   []string{s.Audience},
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"jti":   base64.RawURLEncoding.EncodeToString(jti),
		"appid": s.AppID,
	}
}

// Token returns a valid token for openid.
func (s *Signer) Token(openid string) string {
	return s.Sign(s.Claims(openid), nil)
}

// Sign signs claims with s's key, its algorithm and kid, and typ JWT;
// header entries replace or add header fields (a nil value removes one).
func (s *Signer) Sign(claims jwt.Claims, header map[string]any) string {
	return sign(s.Key, s.PublicKey().KID, claims, header)
}

func sign(key crypto.Signer, kid string, claims jwt.Claims, header map[string]any) string {
	method := token.SigningMethodES256 // low-s, as wxlogin signs
	if _, ok := key.(ed25519.PrivateKey); ok {
		method = jwt.SigningMethodEdDSA
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["kid"] = kid
	for k, v := range header {
		if v == nil {
			delete(t.Header, k)
		} else {
			t.Header[k] = v
		}
	}
	str, err := t.SignedString(key)
	if err != nil {
		panic(err)
	}
	return str
}

// Attack is a token a verifier must refuse.
type Attack struct {
	Name   string // what it tries, short enough for t.Run
	Token  string
	Reason string // what token.Reason says of the refusal by a token.Verifier
}

// Attacks returns tokens that a verifier of s's tokens must refuse: one
// for each way of forging, altering or breaking a token. Reason assumes a
// token.Verifier with s's issuer, audience and public key, and the default
// leeway of 30s.
func (s *Signer) Attacks() []Attack {
	now := s.now()
	kid := s.PublicKey().KID
	valid := s.Token("oVictim")
	parts := strings.Split(valid, ".")
	with := func(changes jwt.MapClaims) jwt.MapClaims {
		c := s.Claims("oVictim")
		for k, v := range changes {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	claimsJSON, _ := json.Marshal(s.Claims("oVictim"))
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	pubPEM := publicPEM(s.Key.Public())
	pubDER, _ := x509.MarshalPKIXPublicKey(s.Key.Public())
	otherAlg := token.EdDSA
	if s.PublicKey().Alg == token.EdDSA {
		otherAlg = token.ES256
	}
	other := newKey(s.PublicKey().Alg)
	otherKey, _ := token.NewKey(other.Public())
	otherJWK := otherKey.JWK()

	hs256 := func(secret []byte) string {
		h := seg(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid})
		input := h + "." + base64.RawURLEncoding.EncodeToString(claimsJSON)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	unsigned := func(alg string) string {
		return seg(map[string]any{"alg": alg, "typ": "JWT", "kid": kid}) + "." + base64.RawURLEncoding.EncodeToString(claimsJSON) + "."
	}
	altered := with(jwt.MapClaims{"sub": "oAttacker"})
	alteredJSON, _ := json.Marshal(altered)

	return []Attack{
		{"alg none", unsigned("none"), "signature"},
		{"alg None", unsigned("None"), "signature"},
		{"alg none with the signature kept", unsigned("none") + parts[2], "signature"},
		{"HS256 keyed with the public key PEM", hs256(pubPEM), "signature"},
		{"HS256 keyed with the public key DER", hs256(pubDER), "signature"},
		{"the key's other algorithm", seg(map[string]any{"alg": otherAlg, "typ": "JWT", "kid": kid}) + "." + parts[1] + "." + parts[2], "signature"},
		{"another key under the trusted kid", sign(other, kid, s.Claims("oVictim"), nil), "signature"},
		{"another key under its own kid", sign(other, otherKey.KID, s.Claims("oVictim"), nil), "unknown_key"},
		{"another key embedded as jwk", sign(other, otherKey.KID, s.Claims("oVictim"), map[string]any{"jwk": otherJWK}), "unknown_key"},
		{"another key by jku", sign(other, otherKey.KID, s.Claims("oVictim"), map[string]any{"jku": "https://attacker.example/jwks.json"}), "unknown_key"},
		{"unknown kid", s.Sign(s.Claims("oVictim"), map[string]any{"kid": "unknown-kid"}), "unknown_key"},
		{"no kid", s.Sign(s.Claims("oVictim"), map[string]any{"kid": nil}), "unknown_key"},
		{"critical header extension", s.Sign(s.Claims("oVictim"), map[string]any{"crit": []string{"exp"}}), "malformed"},
		{"altered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(alteredJSON) + "." + parts[2], "signature"},
		{"altered signature", parts[0] + "." + parts[1] + "." + flipLast(parts[2]), "signature"},
		{"the signature's twin (ES256 n-s, Ed25519 S+L)", Twin(valid), "signature"},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(s.Token("oOther"), ".")[2], "signature"},
		{"expired", s.Sign(with(jwt.MapClaims{"iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-2 * time.Minute).Unix()}), nil), "expired"},
		{"no exp", s.Sign(with(jwt.MapClaims{"exp": nil}), nil), "malformed"},
		{"nbf in the future", s.Sign(with(jwt.MapClaims{"nbf": now.Add(2 * time.Minute).Unix()}), nil), "not_yet_valid"},
		{"wrong iss", s.Sign(with(jwt.MapClaims{"iss": "https://attacker.example"}), nil), "issuer"},
		{"iss with a trailing slash", s.Sign(with(jwt.MapClaims{"iss": s.Issuer + "/"}), nil), "issuer"},
		{"wrong aud", s.Sign(with(jwt.MapClaims{"aud": []string{"wxanotherapp"}}), nil), "audience"},
		{"no aud", s.Sign(with(jwt.MapClaims{"aud": nil}), nil), "audience"},
		{"no sub", s.Sign(with(jwt.MapClaims{"sub": nil}), nil), "malformed"},
		{"huge", s.Sign(with(jwt.MapClaims{"pad": strings.Repeat("A", 2*token.MaxTokenSize)}), nil), "malformed"},
		{"many dots", strings.Repeat(parts[0]+".", 2000), "malformed"},
		{"four parts", valid + "." + parts[2], "malformed"},
		{"two parts", parts[0] + "." + parts[1], "malformed"},
		{"empty parts", "..", "malformed"},
		{"garbage", "not-a-token-at-all", "malformed"},
		{"garbage with dots", "!!!.@@@.###", "malformed"},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("{alg")) + "." + parts[1] + "." + parts[2], "malformed"},
		{"payload not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2")) + "." + parts[2], "malformed"},
	}
}

// Twin returns the other spelling of tok's signature that the bare
// signature algorithm also accepts: for ES256, (r, n−s) in place of
// (r, s); for EdDSA, S+L in place of S (RFC 8032 requires S < L, and Go
// checks it). The header and claims are unchanged, so a verifier that
// accepts the twin lets one token be written two ways. It panics on a
// token that is not three segments with a 64-byte signature.
func Twin(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		panic("tokentest: Twin needs a JWS compact token")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		panic("tokentest: Twin needs a 64-byte signature")
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct{ Alg string }
	json.Unmarshal(hb, &h)
	if h.Alg == token.EdDSA {
		// S is little-endian; S+L < 2^254 still fits in 32 bytes.
		le := sig[32:]
		be := make([]byte, 32)
		for i := range 32 {
			be[i] = le[31-i]
		}
		sum := new(big.Int).Add(new(big.Int).SetBytes(be), ed25519Order).FillBytes(be)
		for i := range 32 {
			le[i] = sum[31-i]
		}
	} else {
		s := new(big.Int).SetBytes(sig[32:])
		s.Sub(elliptic.P256().Params().N, s).FillBytes(sig[32:])
	}
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// ed25519Order is L, the order of Ed25519's base point: 2^252 +
// 27742317777372353535851937790883648493.
var ed25519Order, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

func publicPEM(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// flipLast changes the last base64url character of seg to another valid
// one, so the segment still decodes but to different bytes.
func flipLast(seg string) string {
	last := seg[len(seg)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'Q'
	}
	return seg[:len(seg)-1] + string(repl)
}
