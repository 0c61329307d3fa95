package token_test

import (
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

// sOf returns the s half of an ES256 token's signature.
func sOf(t *testing.T, tok string) *big.Int {
	t.Helper()
	sig, err := base64.RawURLEncoding.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature of %.20s… is not 64 bytes of base64url: %v", tok, err)
	}
	return new(big.Int).SetBytes(sig[32:])
}

var halfN = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// An ES256 signature s and n−s both verify; the Issuer must give only the
// low one. Go's ECDSA gives the high one half the time, so 64 tokens in a
// row all low is chance 2^-64 without the rule.
func TestIssuerSignsLowS(t *testing.T) {
	iss, v := coreIssuer(t, token.ES256, time.Now())
	for i := range 64 {
		is, err := iss.Issue("oLowS", "", "c2Vzc2lvbmtleTEyMzQ1Ng==")
		if err != nil {
			t.Fatal(err)
		}
		if s := sOf(t, is.Token); s.Cmp(halfN) > 0 {
			t.Fatalf("token %d: s = %x is above n/2", i, s)
		}
		if _, err := v.Verify(is.Token); err != nil {
			t.Fatalf("token %d does not verify: %v", i, err)
		}
	}
}

// The twin (r, n−s) of a token the Issuer signed is a second spelling of
// it: the Verifier refuses it, unless the transition setting says that a
// token issued that early may be high-s.
func TestVerifierRefusesHighSTwin(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	iss, strict := coreIssuer(t, token.ES256, now)
	is, err := iss.Issue("oTwin", "", "c2Vzc2lvbmtleTEyMzQ1Ng==")
	if err != nil {
		t.Fatal(err)
	}
	twin := tokentest.Twin(is.Token)
	if sOf(t, twin).Cmp(halfN) <= 0 {
		t.Fatal("the twin is not high-s")
	}
	if _, err := strict.Verify(is.Token); err != nil {
		t.Fatalf("the token itself: %v", err)
	}
	_, err = strict.Verify(twin)
	if !errors.Is(err, token.ErrInvalid) || token.Reason(err) != "signature" {
		t.Fatalf("Verify(twin) = %v, want a refusal for its signature", err)
	}

	transition := func(before time.Time) *token.Verifier {
		v, err := token.NewVerifier(token.VerifierConfig{
			Keys: []token.Key{iss.Key()}, Issuer: "https://login.example.com", Audience: "wxaud",
			Now: func() time.Time { return now }, AcceptHighSBefore: before,
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// iat is now: a cut-over after it lets the high-s twin through, as a
	// token signed by a wxlogin before the change; one at or before it
	// does not.
	if _, err := transition(now.Add(time.Second)).Verify(twin); err != nil {
		t.Errorf("issued before the cut-over: Verify(twin) = %v, want accepted", err)
	}
	for _, cut := range []time.Time{now, now.Add(-time.Hour)} {
		if _, err := transition(cut).Verify(twin); token.Reason(err) != "signature" {
			t.Errorf("cut-over %s, iat %s: Verify(twin) = %v, want refused", cut, now, err)
		}
	}
}

// Through Middleware's HTTP surface and its cache keyed by the token
// string: with the token cached, its twin is not a second key to the
// same claims but a refused token.
func TestMiddlewareCacheRefusesTwin(t *testing.T) {
	iss, v := coreIssuer(t, token.ES256, time.Now())
	is, err := iss.Issue("oTwin", "", "c2Vzc2lvbmtleTEyMzQ1Ng==")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(token.Middleware(v)(greet))
	defer srv.Close()
	call := func(tok string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/hello", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for range 2 { // the second answer comes from the cache
		if resp := call(is.Token); resp.StatusCode != http.StatusOK {
			t.Fatalf("the token: status %d, want 200", resp.StatusCode)
		}
	}
	resp := call(tokentest.Twin(is.Token))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("the twin: status %d, WWW-Authenticate %q; want 401 invalid_token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// SigningMethodES256 is what tools use to sign as wxlogin does: low-s out,
// high-s refused.
func TestSigningMethodES256(t *testing.T) {
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	m := token.SigningMethodES256
	if m.Alg() != token.ES256 {
		t.Fatalf("Alg = %q", m.Alg())
	}
	input := "eyJhbGciOiJFUzI1NiJ9.e30"
	for range 32 {
		sig, err := m.Sign(input, s.Key)
		if err != nil {
			t.Fatal(err)
		}
		if new(big.Int).SetBytes(sig[32:]).Cmp(halfN) > 0 {
			t.Fatal("Sign gave a high-s signature")
		}
		if err := m.Verify(input, sig, s.Key.Public()); err != nil {
			t.Fatalf("Verify(low-s) = %v", err)
		}
		twin := tokentest.Twin(input + "." + base64.RawURLEncoding.EncodeToString(sig))
		high, _ := base64.RawURLEncoding.DecodeString(twin[strings.LastIndexByte(twin, '.')+1:])
		if err := m.Verify(input, high, s.Key.Public()); err == nil {
			t.Fatal("Verify accepted the high-s twin")
		}
	}
}
