package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

// The fuzz targets' keys and clock are fixed, so that the valid tokens
// among the committed seeds (testdata/fuzz) stay valid. The keys are
// derived from public strings: they sign nothing but these tests.
var fzNow = time.Unix(1_800_000_000, 0)

const (
	fzIssuer   = "https://login.example.com"
	fzAudience = "wxfuzzaudience"
	fzAppID    = "wxfuzzapp0000000"
	fzLeeway   = 30 * time.Second // the Verifier's default
)

// fzKit is a verifier for an ES256 and an EdDSA key, issuers for both,
// and what an attacker could know: the public keys and their kids.
type fzKit struct {
	es     *ecdsa.PrivateKey
	ed     ed25519.PrivateKey
	esIss  *token.Issuer
	edIss  *token.Issuer
	v      *token.Verifier
	keys   map[string]token.Key // by kid
	sealer *token.Sealer
	esKID  string
	edKID  string
	clock  func() time.Time
	esPEM  []byte // the ES256 public key, as published
}

func newFzKit(t testing.TB) *fzKit {
	t.Helper()
	d := sha256.Sum256([]byte("wxlogin fuzz ES256 key"))
	es, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("wxlogin fuzz Ed25519 key"))
	secret := sha256.Sum256([]byte("wxlogin fuzz session-key secret"))
	sealer, err := token.NewSealer(secret[:])
	if err != nil {
		t.Fatal(err)
	}
	k := &fzKit{es: es, ed: ed25519.NewKeyFromSeed(seed[:]), sealer: sealer, keys: map[string]token.Key{},
		clock: func() time.Time { return fzNow }}
	k.esIss = k.issuer(t, es, fzIssuer, fzAudience, k.clock)
	k.edIss = k.issuer(t, k.ed, fzIssuer, fzAudience, k.clock)
	k.esKID, k.edKID = k.esIss.Key().KID, k.edIss.Key().KID
	k.keys[k.esKID], k.keys[k.edKID] = k.esIss.Key(), k.edIss.Key()
	k.v, err = token.NewVerifier(token.VerifierConfig{
		Keys: []token.Key{k.esIss.Key(), k.edIss.Key()}, Issuer: fzIssuer, Audience: fzAudience, Now: k.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	if k.esPEM, err = token.EncodePublicKey(es.Public()); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *fzKit) issuer(t testing.TB, key crypto.Signer, iss, aud string, clock func() time.Time) *token.Issuer {
	t.Helper()
	i, err := token.NewIssuer(token.IssuerConfig{
		Key: key, Issuer: iss, Audience: aud, AppID: fzAppID, TTL: 2 * time.Hour, Sealer: k.sealer, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func (k *fzKit) issue(t testing.TB, i *token.Issuer) string {
	t.Helper()
	is, err := i.Issue("oFuzzUser000000000000000000", "uFuzzUnion0000000000000000", "c2Vzc2lvbmtleTEyMzQ1Ng==")
	if err != nil {
		t.Fatal(err)
	}
	return is.Token
}

// seeds are tokens a verifier must tell apart: two valid ones, and the
// classic forgeries and near misses.
func (k *fzKit) seeds(t testing.TB) []string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	es, ed := k.issue(t, k.esIss), k.issue(t, k.edIss)
	esParts := strings.Split(es, ".")
	header := func(h string) string { return enc([]byte(h)) }
	claims := jwt.MapClaims{
		"iss": fzIssuer, "sub": "oFuzzUser000000000000000000", "aud": []string{fzAudience},
		"iat": fzNow.Unix(), "exp": fzNow.Add(time.Hour).Unix(), "appid": fzAppID,
	}
	sign := func(m jwt.SigningMethod, key any, kid string) string {
		tok := jwt.NewWithClaims(m, claims)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	flip := []byte(es)
	flip[len(flip)-10] ^= 1
	return []string{
		es, ed,
		k.issue(t, k.issuer(t, k.es, fzIssuer, fzAudience, func() time.Time { return fzNow.Add(-3 * time.Hour) })), // expired
		k.issue(t, k.issuer(t, k.es, fzIssuer, fzAudience, func() time.Time { return fzNow.Add(time.Hour) })),      // not yet valid
		k.issue(t, k.issuer(t, k.es, "https://evil.example.com", fzAudience, k.clock)),                             // foreign issuer
		k.issue(t, k.issuer(t, k.es, fzIssuer, "wxother", k.clock)),                                                // foreign audience
		header(`{"alg":"none","kid":"`+k.esKID+`","typ":"JWT"}`) + "." + esParts[1] + ".",                          // alg none
		header(`{"alg":"ES256","kid":"`+k.esKID+`","typ":"JWT","crit":["exp"]}`) + "." + esParts[1] + "." + esParts[2],
		header(`{"alg":"ES256","typ":"JWT"}`) + "." + esParts[1] + "." + esParts[2], // no kid
		sign(jwt.SigningMethodHS256, k.esPEM, k.esKID),                              // HMAC with the public key
		sign(jwt.SigningMethodEdDSA, k.ed, k.esKID),                                 // the other key under this kid
		sign(jwt.SigningMethodES256, k.es, "unknown-kid"),
		string(flip),       // one bit of the signature
		tokentest.Twin(es), // the high-s spelling of the valid token
		tokentest.Twin(ed), // S+L for the valid Ed25519 token
		es + ".", "." + es, strings.Replace(es, ".", "..", 1), esParts[0] + "." + esParts[1],
		"", ".", "..", "a.b.c", "eyJ.eyJ.AAAA", strings.Repeat("A", token.MaxTokenSize+1) + "..",
	}
}

// FuzzVerify hands the Verifier arbitrary strings. It must never panic;
// a refusal wraps ErrInvalid and a named reason and does not quote the
// token; and it accepts only what an independent check (the standard
// library's ECDSA or Ed25519 verification of the exact signing input,
// the key pinned by kid to its algorithm, and the claims checked by
// hand) also accepts.
func FuzzVerify(f *testing.F) {
	k := newFzKit(f)
	for i, s := range k.seeds(f) {
		// The first two seeds are valid, the rest must be refused: the
		// invariants below then have both sides to hold on.
		if _, err := k.v.Verify(s); (err == nil) != (i < 2) {
			f.Fatalf("seed %d: Verify = %v", i, err)
		}
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := k.v.Verify(s)
		if err != nil {
			if c != nil {
				t.Fatalf("Verify returned claims with error %v", err)
			}
			if !errors.Is(err, token.ErrInvalid) || token.Reason(err) == "other" {
				t.Fatalf("Verify error %v does not wrap ErrInvalid and a reason", err)
			}
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("Verify error quotes the token: %v", err)
			}
			return
		}
		if why := k.reference(s); why != "" {
			t.Fatalf("Verify accepted %q, which the reference check refuses: %s", s, why)
		}
		if c.Subject == "" || c.AppID != fzAppID {
			t.Fatalf("accepted claims %+v lack sub or appid", c)
		}
	})
}

// reference verifies s without golang-jwt and returns why it refuses it,
// or "" when it accepts.
func (k *fzKit) reference(s string) string {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return "not three parts"
	}
	dec := base64.RawURLEncoding.DecodeString
	hb, err1 := dec(parts[0])
	pb, err2 := dec(parts[1])
	sig, err3 := dec(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "bad base64url"
	}
	var h map[string]any
	if json.Unmarshal(hb, &h) != nil {
		return "header is not a JSON object"
	}
	alg, _ := h["alg"].(string)
	kid, _ := h["kid"].(string)
	key, ok := k.keys[kid]
	if !ok || alg != key.Alg {
		return "unknown kid, or alg not the key's"
	}
	if _, crit := h["crit"]; crit {
		return "crit header"
	}
	input := []byte(parts[0] + "." + parts[1])
	switch pub := key.Public.(type) {
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return "ES256 signature is not 64 bytes"
		}
		sum := sha256.Sum256(input)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, sum[:], r, s) {
			return "ECDSA signature does not verify"
		}
		if s.Cmp(new(big.Int).Rsh(pub.Params().N, 1)) > 0 {
			return "ECDSA signature is high-s: the twin of another spelling"
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, input, sig) {
			return "Ed25519 signature does not verify"
		}
	default:
		return "unexpected key type"
	}
	var c token.Claims
	if json.Unmarshal(pb, &c) != nil {
		return "payload is not JSON claims"
	}
	now := fzNow
	switch {
	case c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Add(fzLeeway)):
		return "expired or no exp"
	case c.NotBefore != nil && now.Add(fzLeeway).Before(c.NotBefore.Time):
		return "not valid yet"
	case c.Issuer != fzIssuer:
		return "wrong issuer"
	case !slices.Contains(c.Audience, fzAudience):
		return "wrong audience"
	case c.Subject == "":
		return "no subject"
	}
	return ""
}

// FuzzIssueVerify issues a token for any openid, unionid and session_key
// and checks the round trip: the Verifier accepts it with the same
// claims, and the sealed session_key opens to the one sealed. openid and
// unionid come from WeChat's JSON, so they are valid UTF-8.
func FuzzIssueVerify(f *testing.F) {
	k := newFzKit(f)
	f.Add("oFuzzUser000000000000000000", "", "c2Vzc2lvbmtleTEyMzQ1Ng==", false)
	f.Add("oFuzzUser000000000000000000", "uFuzzUnion0000000000000000", "c2Vzc2lvbmtleTEyMzQ1Ng==", true)
	f.Add("", "u", "k", false)
	f.Add("<&>\u2028\"\\", "\x00", "\xff\xfe", true)
	f.Add(strings.Repeat("<", 700), "", "", false)
	f.Fuzz(func(t *testing.T, openid, unionid, sessionKey string, ed bool) {
		if !utf8.ValidString(openid) || !utf8.ValidString(unionid) {
			t.Skip("WeChat's JSON never holds invalid UTF-8")
		}
		iss := k.esIss
		if ed {
			iss = k.edIss
		}
		is, err := iss.Issue(openid, unionid, sessionKey)
		if openid == "" {
			if err == nil {
				t.Fatal("Issue signed a token without an openid")
			}
			return
		}
		if err != nil {
			t.Fatalf("Issue: %v", err)
		}
		c, err := k.v.Verify(is.Token)
		if len(is.Token) > token.MaxTokenSize {
			if !errors.Is(err, token.ErrMalformed) {
				t.Fatalf("a %d-byte token: Verify = %v, want ErrMalformed", len(is.Token), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Verify(Issue(%q, %q, …)) = %v", openid, unionid, err)
		}
		if c.Subject != openid || c.UnionID != unionid || c.AppID != fzAppID {
			t.Fatalf("claims sub %q unionid %q appid %q; want %q %q %q", c.Subject, c.UnionID, c.AppID, openid, unionid, fzAppID)
		}
		sk, err := iss.OpenSessionKey(c)
		if err != nil || sk != sessionKey {
			t.Fatalf("OpenSessionKey = %q, %v; want %q", sk, err, sessionKey)
		}
	})
}
