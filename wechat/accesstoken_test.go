package wechat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// countingSource hands out "t1", "t2"… with a fixed lifetime, or fails
// while err is set.
type countingSource struct {
	mu      sync.Mutex
	n       int
	life    time.Duration
	err     error
	release chan struct{} // when set, each fetch waits for it
}

func (s *countingSource) Fetch(ctx context.Context) (wechat.AccessToken, error) {
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return wechat.AccessToken{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.err != nil {
		return wechat.AccessToken{}, s.err
	}
	return wechat.AccessToken{Token: "t" + strconv.Itoa(s.n), ExpiresIn: s.life}, nil
}

func (s *countingSource) fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *countingSource) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func token(t *testing.T, tc *wechat.TokenCache) string {
	t.Helper()
	tok, err := tc.Token(context.Background())
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

func TestTokenCacheConcurrentCallersShareOneFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: 2 * time.Hour, release: make(chan struct{})}
		tc := wechat.NewTokenCache(wechat.TokenCacheConfig{Fetch: src.Fetch})
		var wg sync.WaitGroup
		got := make([]string, 50)
		for i := range got {
			wg.Go(func() { got[i], _ = tc.Token(context.Background()) })
		}
		synctest.Wait() // all 50 are blocked: on the fetch, or waiting for it
		close(src.release)
		wg.Wait()
		if n := src.fetches(); n != 1 {
			t.Errorf("50 concurrent callers made %d fetches, want 1", n)
		}
		for i, tok := range got {
			if tok != "t1" {
				t.Fatalf("caller %d got %q, want t1", i, tok)
			}
		}
	})
}

func TestTokenCacheCallerGivingUpFailsNoOneElse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: 2 * time.Hour, release: make(chan struct{})}
		tc := wechat.NewTokenCache(wechat.TokenCacheConfig{Fetch: src.Fetch})
		impatient, cancel := context.WithCancel(context.Background())
		var errImpatient error
		var tokPatient string
		var wg sync.WaitGroup
		wg.Go(func() { _, errImpatient = tc.Token(impatient) }) // starts the fetch
		synctest.Wait()
		wg.Go(func() { tokPatient, _ = tc.Token(context.Background()) })
		synctest.Wait()
		cancel()
		synctest.Wait()
		close(src.release)
		wg.Wait()
		if !errors.Is(errImpatient, wechat.ErrUnavailable) || !errors.Is(errImpatient, context.Canceled) {
			t.Errorf("canceled caller: err = %v, want ErrUnavailable wrapping context.Canceled", errImpatient)
		}
		if tokPatient != "t1" || src.fetches() != 1 {
			t.Errorf("the other caller got %q after %d fetches; want t1 from the one fetch", tokPatient, src.fetches())
		}

		// A caller whose deadline passes gets ErrTimeout.
		src.release = make(chan struct{})
		tc = wechat.NewTokenCache(wechat.TokenCacheConfig{Fetch: src.Fetch})
		ctx, cancel2 := context.WithTimeout(context.Background(), time.Second)
		defer cancel2()
		if _, err := tc.Token(ctx); !errors.Is(err, wechat.ErrTimeout) {
			t.Errorf("deadline passed: err = %v, want ErrTimeout", err)
		}
		close(src.release)
	})
}

func TestTokenCacheFetchTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{life: 2 * time.Hour, release: make(chan struct{})} // never released
		tc := wechat.NewTokenCache(wechat.TokenCacheConfig{Fetch: src.Fetch, Timeout: 10 * time.Second})
		start := time.Now()
		_, err := tc.Token(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 10*time.Second {
			t.Errorf("hanging source: err = %v after %s; want the fetch cut off at 10s", err, time.Since(start))
		}
	})
}

func TestTokenCacheRefreshesShortlyBeforeExpiry(t *testing.T) {
	clk := newClock()
	src := &countingSource{life: 7200 * time.Second}
	tc := wechat.NewTokenCache(wechat.TokenCacheConfig{Fetch: src.Fetch, Now: clk.Now})

	if tok := token(t, tc); tok != "t1" {
		t.Fatalf("first token %q", tok)
	}
	clk.Advance(7200*time.Second - time.Minute - time.Second)
	if tok := token(t, tc); tok != "t1" || src.fetches() != 1 {
		t.Errorf("61s before expiry: %q after %d fetches, want t1 from the cache", tok, src.fetches())
	}
	clk.Advance(time.Second)
	if tok := token(t, tc); tok != "t2" || src.fetches() != 2 {
		t.Errorf("60s before expiry: %q after %d fetches, want t2 from a second fetch", tok, src.fetches())
	}

	// A short-lived token is refreshed at half its life, not a minute early.
	src = &countingSource{life: 90 * time.Second}
	tc = wechat.NewTokenCache(wechat.TokenCacheConfig{Fetch: src.Fetch, Now: clk.Now})
	token(t, tc)
	clk.Advance(44 * time.Second)
	token(t, tc)
	if n := src.fetches(); n != 1 {
		t.Errorf("90s token: %d fetches by 44s, want 1 (it is fresh until half-life)", n)
	}
	clk.Advance(time.Second)
	token(t, tc)
	if n := src.fetches(); n != 2 {
		t.Errorf("90s token: %d fetches by 45s, want 2 (refresh at half-life)", n)
	}
}

func TestTokenCacheFailedRefresh(t *testing.T) {
	clk := newClock()
	src := &countingSource{life: 7200 * time.Second}
	tc := wechat.NewTokenCache(wechat.TokenCacheConfig{Fetch: src.Fetch, Now: clk.Now})

	src.fail(wechat.ErrBusy)
	if _, err := tc.Token(context.Background()); !errors.Is(err, wechat.ErrBusy) {
		t.Fatalf("failing source: err = %v, want ErrBusy", err)
	}
	src.fail(nil)
	if tok := token(t, tc); tok != "t2" {
		t.Fatalf("after a failure: %q, want t2 (errors are not cached)", tok)
	}

	// Inside the refresh margin, a failed refresh serves the old token…
	clk.Advance(7200*time.Second - 30*time.Second)
	src.fail(wechat.ErrBusy)
	if tok := token(t, tc); tok != "t2" {
		t.Errorf("failed refresh, old token alive: %q, want t2", tok)
	}
	// …and tries again on the next call; once expired, it is an error.
	clk.Advance(30 * time.Second)
	if _, err := tc.Token(context.Background()); !errors.Is(err, wechat.ErrBusy) {
		t.Errorf("failed refresh, old token expired: err = %v, want ErrBusy", err)
	}
	if n := src.fetches(); n != 4 {
		t.Errorf("fetches = %d, want 4", n)
	}
}

func TestTokenCacheInvalidate(t *testing.T) {
	src := &countingSource{life: 7200 * time.Second}
	tc := wechat.NewTokenCache(wechat.TokenCacheConfig{Fetch: src.Fetch})
	t1 := token(t, tc)

	tc.Invalidate("some-other-token") // not the cached one: nothing happens
	tc.Invalidate("")
	if tok := token(t, tc); tok != t1 || src.fetches() != 1 {
		t.Fatalf("after invalidating other tokens: %q, %d fetches; want %q, 1", tok, src.fetches(), t1)
	}
	tc.Invalidate(t1)
	t2 := token(t, tc)
	if t2 == t1 || src.fetches() != 2 {
		t.Fatalf("after invalidating the cached token: %q, %d fetches; want a new token, 2", t2, src.fetches())
	}
	// A late caller still holding t1 must not drop t2.
	tc.Invalidate(t1)
	if tok := token(t, tc); tok != t2 || src.fetches() != 2 {
		t.Errorf("stale Invalidate(t1) dropped %q: now %q after %d fetches", t2, tok, src.fetches())
	}
}

func TestTokenCacheAgainstFakeWeChat(t *testing.T) {
	clk := newClock()
	c, srv := newUserAPIClient(t, wechattest.Options{Now: clk.Now})
	var forced atomic.Bool
	tc := wechat.NewTokenCache(wechat.TokenCacheConfig{
		Fetch: func(ctx context.Context) (wechat.AccessToken, error) {
			return c.StableAccessToken(ctx, false)
		},
		Now: clk.Now,
	})
	srv.Inject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/cgi-bin/stable_token" {
			var body struct {
				Force bool `json:"force_refresh"`
			}
			b, _ := io.ReadAll(r.Body)
			json.Unmarshal(b, &body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			forced.Store(forced.Load() || body.Force)
		}
		return false
	})

	t1 := token(t, tc)
	for range 10 {
		if tok := token(t, tc); tok != t1 {
			t.Fatal("cached token changed")
		}
	}
	if n := srv.Calls("/cgi-bin/stable_token"); n != 1 {
		t.Errorf("11 Token calls made %d stable_token calls, want 1", n)
	}

	// Near expiry the cache refreshes; the fake is inside its 5-minute
	// handover, so it hands out the next token.
	clk.Advance(7200*time.Second - time.Minute)
	t2 := token(t, tc)
	if t2 == t1 || srv.Calls("/cgi-bin/stable_token") != 2 {
		t.Errorf("near expiry: new token %v after %d calls; want a new token after 2", t2 != t1, srv.Calls("/cgi-bin/stable_token"))
	}

	// Another party force-refreshes: our token is refused; Invalidate and
	// one fetch recover without forcing anything ourselves.
	srv.InvalidateAccessToken()
	if _, err := c.GetPhoneNumber(context.Background(), t2, srv.PhoneCode("86", "13800138000")); !errors.Is(err, wechat.ErrAccessToken) {
		t.Fatalf("after another party's refresh: err = %v, want ErrAccessToken", err)
	}
	tc.Invalidate(t2)
	t3 := token(t, tc)
	if _, err := c.GetPhoneNumber(context.Background(), t3, srv.PhoneCode("86", "13800138000")); err != nil {
		t.Errorf("with the refetched token: %v", err)
	}
	if forced.Load() {
		t.Error("the cache asked for force_refresh")
	}
}
