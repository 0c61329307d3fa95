package token_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

// clock is a settable time for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// cacheSetup returns a signer and a cache whose verifier and signer share
// clk; leeway as VerifierConfig.Leeway.
func cacheSetup(t testing.TB, clk *clock, leeway time.Duration, size int) (*tokentest.Signer, *token.Cache) {
	t.Helper()
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	s.Now = clk.Now
	v, err := token.NewVerifier(token.VerifierConfig{
		Keys: []token.Key{s.PublicKey()}, Issuer: testIssuer, Audience: testAudience,
		Leeway: leeway, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, token.NewCache(v, size)
}

func TestCacheServesRepeats(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	s, c := cacheSetup(t, clk, 0, 0)
	tok := s.Token("o1")
	first, err := c.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Error("the second Verify of one token verified it again; want it served from the cache")
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d; want 1", c.Len())
	}
}

// TestCacheNeverServesPastExp: once exp passes, the cache answers as the
// verifier would, not with what it remembers.
func TestCacheNeverServesPastExp(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	s, c := cacheSetup(t, clk, -1, 0) // no leeway: the verifier refuses at exp
	tok := s.Token("o1")              // valid for an hour
	for range 3 {
		if _, err := c.Verify(tok); err != nil {
			t.Fatal(err)
		}
		clk.add(9 * time.Minute)
	}
	clk.add(time.Hour - 27*time.Minute) // exactly exp
	if _, err := c.Verify(tok); !errors.Is(err, token.ErrExpired) {
		t.Fatalf("Verify at exp = %v; want ErrExpired", err)
	}
	clk.add(time.Second)
	if _, err := c.Verify(tok); !errors.Is(err, token.ErrExpired) {
		t.Fatalf("Verify past exp = %v; want ErrExpired", err)
	}
	if c.Len() != 0 {
		t.Errorf("Len = %d after the token expired; want the entry dropped", c.Len())
	}
}

// TestCacheDoesNotKeepLeewayTokens: a token accepted only thanks to the
// leeway is past exp, and is not cached.
func TestCacheDoesNotKeepLeewayTokens(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	s, c := cacheSetup(t, clk, 0, 0)
	tok := s.Token("o1")
	clk.add(time.Hour + 10*time.Second)
	if _, err := c.Verify(tok); err != nil {
		t.Fatalf("Verify within the leeway: %v", err)
	}
	if c.Len() != 0 {
		t.Errorf("Len = %d; want a token past its exp left out of the cache", c.Len())
	}
}

// TestCacheReverifiesAfterMaxAge: even a long-lived token is checked
// again after ten minutes, so a key withdrawn from the JWKS stops working.
func TestCacheReverifiesAfterMaxAge(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	s, c := cacheSetup(t, clk, 0, 0)
	tok := s.Token("o1")
	first, _ := c.Verify(tok)
	clk.add(9 * time.Minute)
	if again, _ := c.Verify(tok); again != first {
		t.Error("re-verified after 9 minutes; want served from the cache")
	}
	clk.add(2 * time.Minute)
	if again, _ := c.Verify(tok); again == first {
		t.Error("served from the cache 11 minutes after it was verified; want verified again")
	}
}

func TestCacheNeverCachesFailures(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	s, c := cacheSetup(t, clk, 0, 0)
	good := s.Token("oVictim")
	if _, err := c.Verify(good); err != nil {
		t.Fatal(err)
	}
	for _, a := range s.Attacks() {
		for range 2 {
			if _, err := c.Verify(a.Token); err == nil {
				t.Errorf("%s: accepted", a.Name)
			}
		}
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d; want only the one valid token", c.Len())
	}
	// Keyed by the whole token: the cached token with another signature
	// is a different token, and a bad one.
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	if _, err := c.Verify(forged); !errors.Is(err, token.ErrSignature) {
		t.Errorf("cached token with a forged signature: %v; want ErrSignature", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	s, c := cacheSetup(t, clk, 0, 16)
	var toks []string
	for i := range 100 {
		tok := s.Token(fmt.Sprintf("o%d", i))
		toks = append(toks, tok)
		if _, err := c.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if c.Len() > 16 {
			t.Fatalf("Len = %d after %d tokens; want at most 16", c.Len(), i+1)
		}
	}
	for i, tok := range toks {
		cl, err := c.Verify(tok)
		if err != nil || cl.OpenID() != fmt.Sprintf("o%d", i) {
			t.Fatalf("token %d after eviction: %v, %v", i, cl, err)
		}
	}
}

// TestCacheConcurrent is for the race detector.
func TestCacheConcurrent(t *testing.T) {
	s := tokentest.New(token.EdDSA, testIssuer, testAudience)
	h := token.Middleware(staticVerifier(t, s.PublicKey()), token.WithCacheSize(8))(greet)
	toks := make([]string, 20)
	for i := range toks {
		toks[i] = s.Token(fmt.Sprintf("o%d", i))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				n := (g + i) % len(toks)
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Authorization", "Bearer "+toks[n])
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if want := fmt.Sprintf("hello, o%d", n); rec.Body.String() != want {
					t.Errorf("body %q; want %q", rec.Body.String(), want)
					return
				}
			}
		})
	}
	wg.Wait()
}
