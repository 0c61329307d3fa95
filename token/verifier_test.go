package token_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

const (
	testIssuer   = "https://login.example.com"
	testAudience = "wxaudience0000000"
)

var algs = []string{token.ES256, token.EdDSA}

// quiet drops the verifier's logs of failed JWKS fetches, which some
// tests cause on purpose.
var quiet = slog.New(slog.DiscardHandler)

func staticVerifier(t testing.TB, keys ...token.Key) *token.Verifier {
	t.Helper()
	v, err := token.NewVerifier(token.VerifierConfig{Keys: keys, Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// jwksServer serves a JWKS that a test can change, and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int64
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		b := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte) {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func remoteVerifier(t testing.TB, url string, refetch time.Duration) *token.Verifier {
	t.Helper()
	v, err := token.NewVerifier(token.VerifierConfig{
		JWKSURL: url, Issuer: testIssuer, Audience: testAudience, RefetchInterval: refetch,
		Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func TestVerifyAcceptsValidTokens(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			s := tokentest.New(alg, testIssuer, testAudience)
			remote := newJWKSServer(t, s.JWKS())
			for name, v := range map[string]*token.Verifier{
				"static": staticVerifier(t, s.PublicKey()),
				"jwks":   remoteVerifier(t, remote.URL, 0),
			} {
				c, err := v.Verify(s.Token("oUser1"))
				if err != nil {
					t.Fatalf("%s: Verify: %v", name, err)
				}
				if c.OpenID() != "oUser1" || c.AppID != testAudience {
					t.Errorf("%s: openid %q appid %q, want oUser1 and %s", name, c.OpenID(), c.AppID, testAudience)
				}
			}
		})
	}
}

// TestVerifyRefusesAttacks checks every forged, altered or broken token
// against a verifier with static keys and one with a JWKS URL.
func TestVerifyRefusesAttacks(t *testing.T) {
	for _, alg := range algs {
		s := tokentest.New(alg, testIssuer, testAudience)
		remote := newJWKSServer(t, s.JWKS())
		verifiers := map[string]*token.Verifier{
			"static": staticVerifier(t, s.PublicKey()),
			// A refetch interval of 1ns lets every unknown kid refetch,
			// so no refusal here is an artefact of the rate limit.
			"jwks": remoteVerifier(t, remote.URL, time.Nanosecond),
		}
		for _, a := range s.Attacks() {
			for name, v := range verifiers {
				t.Run(alg+"/"+name+"/"+a.Name, func(t *testing.T) {
					c, err := v.Verify(a.Token)
					if err == nil {
						t.Fatalf("Verify accepted it: claims %+v", c)
					}
					if !errors.Is(err, token.ErrInvalid) {
						t.Errorf("error %v does not wrap ErrInvalid", err)
					}
					if got := token.Reason(err); got != a.Reason {
						t.Errorf("Reason = %q (%v), want %q", got, err, a.Reason)
					}
					if len(a.Token) > 8 && strings.Contains(err.Error(), a.Token) {
						t.Error("the error quotes the token")
					}
				})
			}
		}
	}
}

func TestNewVerifierChecksConfig(t *testing.T) {
	k := tokentest.New(token.ES256, testIssuer, testAudience).PublicKey()
	ed := tokentest.New(token.EdDSA, testIssuer, testAudience).PublicKey()
	mislabelled := ed
	mislabelled.Alg = token.ES256
	for name, cfg := range map[string]token.VerifierConfig{
		"nothing":          {Issuer: testIssuer, Audience: testAudience},
		"keys and URL":     {Keys: []token.Key{k}, JWKSURL: "https://x.example/jwks.json", Issuer: testIssuer, Audience: testAudience},
		"no issuer":        {Keys: []token.Key{k}, Audience: testAudience},
		"no audience":      {Keys: []token.Key{k}, Issuer: testIssuer},
		"relative URL":     {JWKSURL: "/jwks.json", Issuer: testIssuer, Audience: testAudience},
		"mislabelled key":  {Keys: []token.Key{mislabelled}, Issuer: testIssuer, Audience: testAudience},
		"unsupported type": {Keys: []token.Key{{KID: "x", Public: "not a key"}}, Issuer: testIssuer, Audience: testAudience},
	} {
		if v, err := token.NewVerifier(cfg); err == nil {
			v.Close()
			t.Errorf("%s: NewVerifier succeeded; want an error", name)
		}
	}
}

func TestLeeway(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	s.Now = func() time.Time { return now }
	tok := s.Token("oUser1") // exp = now + 1h
	at := func(d time.Duration, leeway time.Duration) error {
		v, err := token.NewVerifier(token.VerifierConfig{
			Keys: []token.Key{s.PublicKey()}, Issuer: testIssuer, Audience: testAudience,
			Leeway: leeway, Now: func() time.Time { return now.Add(d) },
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(tok)
		return err
	}
	if err := at(time.Hour+20*time.Second, 0); err != nil {
		t.Errorf("20s past exp with the default leeway: %v; want accepted", err)
	}
	if err := at(time.Hour+40*time.Second, 0); !errors.Is(err, token.ErrExpired) {
		t.Errorf("40s past exp with the default leeway: %v; want ErrExpired", err)
	}
	if err := at(time.Hour+time.Second, -1); !errors.Is(err, token.ErrExpired) {
		t.Errorf("1s past exp with no leeway: %v; want ErrExpired", err)
	}
	if err := at(-20*time.Second, 0); err != nil {
		t.Errorf("20s before nbf with the default leeway: %v; want accepted", err)
	}
}

// TestRemoteRefetchesOnUnknownKID is a rotation seen from downstream: a
// key added to the JWKS is picked up by the first token that names it,
// without waiting for the background refresh.
func TestRemoteRefetchesOnUnknownKID(t *testing.T) {
	old := tokentest.New(token.ES256, testIssuer, testAudience)
	next := tokentest.New(token.EdDSA, testIssuer, testAudience)
	srv := newJWKSServer(t, old.JWKS())
	v := remoteVerifier(t, srv.URL, 0)
	if _, err := v.Verify(old.Token("o1")); err != nil {
		t.Fatal(err)
	}
	both, _ := token.MarshalJWKS([]token.Key{old.PublicKey(), next.PublicKey()})
	srv.set(both)
	if _, err := v.Verify(next.Token("o1")); err != nil {
		t.Fatalf("token of the next key, after it was published: %v", err)
	}
	if _, err := v.Verify(old.Token("o1")); err != nil {
		t.Fatalf("token of the old key, still published: %v", err)
	}
}

// TestRemoteRefetchIsRateLimited floods the verifier with unknown kids and
// checks the JWKS endpoint is asked again at most once, and that no
// refused request waits on the rate limit.
func TestRemoteRefetchIsRateLimited(t *testing.T) {
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	srv := newJWKSServer(t, s.JWKS())
	v := remoteVerifier(t, srv.URL, time.Hour)
	before := srv.fetches.Load()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			tok := s.Sign(s.Claims("o1"), map[string]any{"kid": "unknown-" + string(rune('a'+i%26))})
			if _, err := v.Verify(tok); !errors.Is(err, token.ErrUnknownKey) {
				t.Errorf("Verify = %v; want ErrUnknownKey", err)
			}
		})
	}
	wg.Wait()
	if n := srv.fetches.Load() - before; n > 1 {
		t.Errorf("%d fetches of the JWKS for 50 unknown kids; want at most 1 per refetch interval", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("50 refusals took %s; a refusal must not wait on the rate limit", d)
	}
	// Known keys are still served from memory.
	if _, err := v.Verify(s.Token("o1")); err != nil {
		t.Fatal(err)
	}
}

// TestRemoteNeverBlocksLong points the verifier at a JWKS endpoint that
// hangs: start-up and an unknown kid each give up within seconds.
func TestRemoteNeverBlocksLong(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the fetch timeouts")
	}
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	start := time.Now()
	v, err := token.NewVerifier(token.VerifierConfig{
		JWKSURL: hang.URL, Issuer: testIssuer, Audience: testAudience,
		HTTPClient: &http.Client{Timeout: time.Second}, Logger: quiet,
	})
	if err != nil {
		t.Fatalf("NewVerifier with an unreachable JWKS: %v; want it to start and retry later", err)
	}
	defer v.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("NewVerifier took %s", d)
	}
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	start = time.Now()
	_, err = v.VerifyContext(context.Background(), s.Token("o1"))
	if !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("Verify = %v; want ErrUnknownKey", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Verify waited %s on a hanging JWKS endpoint", d)
	}
}

// TestRemoteStartsWithoutIssuer: a service that starts before wxlogin
// verifies tokens once wxlogin is up.
func TestRemoteStartsWithoutIssuer(t *testing.T) {
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write(s.JWKS())
	}))
	defer srv.Close()
	v := remoteVerifier(t, srv.URL, time.Nanosecond)
	if _, err := v.Verify(s.Token("o1")); !errors.Is(err, token.ErrUnknownKey) {
		t.Fatalf("Verify before the JWKS is up = %v; want ErrUnknownKey", err)
	}
	up.Store(true)
	if _, err := v.Verify(s.Token("o1")); err != nil {
		t.Fatalf("Verify once the JWKS is up: %v", err)
	}
}

// TestRemotePinsAlgorithmToKey serves JWKS entries that lie about a key,
// or hold keys wxlogin never signs with.
func TestRemotePinsAlgorithmToKey(t *testing.T) {
	ec := tokentest.New(token.ES256, testIssuer, testAudience)
	ecJWK := ec.PublicKey().JWK()
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	for name, tc := range map[string]struct {
		jwks string
		tok  string
	}{
		"EC key labelled EdDSA": {
			jwks: `{"keys":[{"kty":"EC","crv":"P-256","x":"` + ecJWK.X + `","y":"` + ecJWK.Y + `","kid":"k1","alg":"EdDSA","use":"sig"}]}`,
			tok:  ec.Sign(ec.Claims("o1"), map[string]any{"kid": "k1"}),
		},
		"EC key for encryption": {
			jwks: `{"keys":[{"kty":"EC","crv":"P-256","x":"` + ecJWK.X + `","y":"` + ecJWK.Y + `","kid":"k1","use":"enc"}]}`,
			tok:  ec.Sign(ec.Claims("o1"), map[string]any{"kid": "k1"}),
		},
		"symmetric key": {
			jwks: `{"keys":[{"kty":"oct","k":"` + b64(hmacKey) + `","kid":"k1","alg":"HS256"}]}`,
			tok:  hs256(t, hmacKey, "k1", ec.Claims("o1")),
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, []byte(tc.jwks))
			v := remoteVerifier(t, srv.URL, 0)
			if _, err := v.Verify(tc.tok); err == nil {
				t.Fatal("Verify accepted it")
			}
		})
	}
	// The same EC key without alg or use is fine: its type decides.
	srv := newJWKSServer(t, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"`+ecJWK.X+`","y":"`+ecJWK.Y+`","kid":"k1"}]}`))
	v := remoteVerifier(t, srv.URL, 0)
	if _, err := v.Verify(ec.Sign(ec.Claims("o1"), map[string]any{"kid": "k1"})); err != nil {
		t.Errorf("EC key without alg: %v; want accepted", err)
	}
}

// TestRemoteBoundsBody: a JWKS endpoint that answers without end does not
// make the verifier read without end.
func TestRemoteBoundsBody(t *testing.T) {
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	jwks := string(s.JWKS())
	huge := jwks[:len(jwks)-1] + `,"pad":"` + strings.Repeat("A", 2<<20) + `"}`
	srv := newJWKSServer(t, []byte(huge))
	v := remoteVerifier(t, srv.URL, 0)
	if _, err := v.Verify(s.Token("o1")); !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("Verify with a 2 MiB JWKS = %v; want ErrUnknownKey (set refused)", err)
	}
}

// A claim whose name differs from a named one only in letter case (or
// under Unicode case folding: a long s, a Kelvin sign) never fills that
// field: encoding/json matches field names case-insensitively, so a
// claims hook's "openId" or "ſub" would otherwise be read as the user.
// Such a token, signed with the right key, is refused as malformed.
func TestVerifyRefusesNamesInAnotherCase(t *testing.T) {
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	v := staticVerifier(t, s.PublicKey())
	for _, tc := range []struct{ name, value string }{
		{"SUB", "admin"}, {"\u017fub", "admin"}, {"appId", "wxOTHER"}, {"openId", "victim"},
		{"UnionID", "victim"}, {"s\u212a", "forged"}, {"Exp", "4102444800"}, {"PHONE_NUMBER", "+8613800138000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.Claims("oUser1")
			if tc.name == "Exp" {
				c["exp"] = time.Now().Add(-time.Minute).Unix() // expired but for Exp
				c[tc.name] = 4102444800
			} else {
				c[tc.name] = tc.value
			}
			got, err := v.Verify(s.Sign(c, nil))
			if err == nil {
				t.Fatalf("Verify accepted it: sub %q openid %q appid %q unionid %q sk %q phone %q exp %v",
					got.Subject, got.OpenID(), got.AppID, got.UnionID, got.SK, got.PhoneNumber, got.ExpiresAt)
			}
			if !errors.Is(err, token.ErrInvalid) || token.Reason(err) != "malformed" {
				t.Errorf("err = %v (reason %q), want ErrInvalid, malformed", err, token.Reason(err))
			}
		})
	}
	// Names that differ from a named claim by more than case are the
	// hook's, in Extra.
	c := s.Claims("oUser1")
	c["subs"], c["app_id"] = "x", "y"
	got, err := v.Verify(s.Sign(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "oUser1" || got.Extra["subs"] != "x" || got.Extra["app_id"] != "y" {
		t.Errorf("sub %q extra %v", got.Subject, got.Extra)
	}
}
