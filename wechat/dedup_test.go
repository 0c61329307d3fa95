package wechat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/wechat"
)

// countingWeChat answers every code with a session derived from it.
type countingWeChat struct{ calls atomic.Int64 }

func (c *countingWeChat) Code2Session(_ context.Context, code string) (wechat.Session, error) {
	c.calls.Add(1)
	if strings.HasPrefix(code, "bad") {
		return wechat.Session{}, fmt.Errorf("%w: test", wechat.ErrInvalidCode)
	}
	return wechat.Session{OpenID: "o-" + code, SessionKey: "sk-" + code}, nil
}

func TestDedupMemoryBound(t *testing.T) {
	clock := newClock()
	wx := &countingWeChat{}
	d := wechat.NewCodeDedup(wx, wechat.CodeDedupConfig{Window: time.Minute, MaxEntries: 10, Now: clock.Now})
	ctx := context.Background()
	for i := range 25 {
		if _, err := d.Code2Session(ctx, fmt.Sprintf("code-%02d", i)); err != nil {
			t.Fatal(err)
		}
		if n := d.Len(); n > 10 {
			t.Fatalf("after %d codes %d answers are remembered, over the bound of 10", i+1, n)
		}
	}
	// The newest ten are answered from memory, the oldest are gone.
	wx.calls.Store(0)
	for i := 15; i < 25; i++ {
		s, _ := d.Code2Session(ctx, fmt.Sprintf("code-%02d", i))
		if s.OpenID != fmt.Sprintf("o-code-%02d", i) {
			t.Errorf("code-%02d answered %q", i, s.OpenID)
		}
	}
	if n := wx.calls.Load(); n != 0 {
		t.Errorf("resending the newest 10 made %d calls, want 0", n)
	}
	d.Code2Session(ctx, "code-00")
	if n := wx.calls.Load(); n != 1 {
		t.Errorf("resending an evicted code made %d calls, want 1", n)
	}

	// Expired answers are dropped, not kept until the bound pushes them out.
	clock.Advance(time.Minute)
	d.Code2Session(ctx, "code-new")
	if n := d.Len(); n != 1 {
		t.Errorf("after the window %d answers are remembered, want 1", n)
	}
	if _, err := d.Code2Session(ctx, "bad-code"); !errors.Is(err, wechat.ErrInvalidCode) {
		t.Errorf("err = %v", err)
	}
	if n := d.Len(); n != 1 {
		t.Errorf("a failure was remembered: %d answers", n)
	}
}

// A caller whose context has already ended makes no WeChat call, and gets
// the error the WeChat client gives in that case.
func TestDedupCallerContextEnded(t *testing.T) {
	wx := &countingWeChat{}
	d := wechat.NewCodeDedup(wx, wechat.CodeDedupConfig{Window: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	if _, err := d.Code2Session(ctx, "code-0123"); !errors.Is(err, wechat.ErrTimeout) {
		t.Errorf("deadline: err = %v, want wechat.ErrTimeout", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := d.Code2Session(ctx, "code-4567"); !errors.Is(err, wechat.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v, want wechat.ErrUnavailable and context.Canceled", err)
	}
	if n := wx.calls.Load(); n != 0 {
		t.Errorf("%d WeChat calls for callers that had gone", n)
	}
}

// The shared call is not cut short when the callers' contexts end while
// it runs: the leader and a follower both get its answer, which is
// remembered for the resend that is on its way.
func TestDedupCallerContextEndsDuringCall(t *testing.T) {
	wx := &gatedWeChat{entered: make(chan struct{}, 2), release: make(chan struct{})}
	var followers atomic.Int32
	d := wechat.NewCodeDedup(wx, wechat.CodeDedupConfig{
		Window:      time.Minute,
		OnDuplicate: func(string) { followers.Add(1) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 2)
	call := func() {
		s, err := d.Code2Session(ctx, "slow-code-0123")
		if err == nil && s.OpenID != "o-released" {
			err = fmt.Errorf("answer %+v", s)
		}
		errs <- err
	}
	go call()
	<-wx.entered // the leader's call is running
	go call()
	// The follower is waiting on the leader's call once singleflight has
	// counted it; it is told it shared a call only when that call ends,
	// so wait for it to be blocked, as the goroutine profile shows.
	waitForGoroutines(t, "singleflight.(*Group).Do", 2)
	cancel()
	close(wx.release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("caller: %v, want the shared answer", err)
		}
	}
	if n := wx.calls.Load(); n != 1 {
		t.Errorf("%d WeChat calls, want 1 shared call", n)
	}
	if n := followers.Load(); n != 1 {
		t.Errorf("%d callers told they shared a call, want 1", n)
	}
	if n := d.Len(); n != 1 {
		t.Errorf("%d answers remembered, want 1", n)
	}
}

// gatedWeChat signals each call on entered and answers when release is
// closed.
type gatedWeChat struct {
	entered chan struct{}
	release chan struct{}
	calls   atomic.Int32
}

func (g *gatedWeChat) Code2Session(ctx context.Context, _ string) (wechat.Session, error) {
	g.calls.Add(1)
	g.entered <- struct{}{}
	<-g.release
	return wechat.Session{OpenID: "o-released", SessionKey: "sk-released"}, nil
}

// waitForGoroutines waits until n goroutines have fn on their stacks.
func waitForGoroutines(t *testing.T, fn string, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	in := func() int { return strings.Count(string(buf[:runtime.Stack(buf, true)]), fn) }
	for deadline := time.Now().Add(5 * time.Second); in() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines in %s, want %d", in(), fn, n)
		}
	}
}

// A panic in the wrapped WeChat reaches the leader and every follower
// with the value it was raised with, so that recoverPanics still knows
// http.ErrAbortHandler and logs the panic as it was.
func TestDedupPanicKeepsItsValue(t *testing.T) {
	wx := &gatedWeChat{entered: make(chan struct{}, 2), release: make(chan struct{})}
	d := wechat.NewCodeDedup(panicAfter{wx}, wechat.CodeDedupConfig{Window: time.Minute})
	got := make(chan any, 2)
	call := func() {
		defer func() { got <- recover() }()
		d.Code2Session(context.Background(), "panic-code-0123")
	}
	go call()
	<-wx.entered
	go call()
	waitForGoroutines(t, "singleflight.(*Group).Do", 2)
	close(wx.release)
	for range 2 {
		if p := <-got; p != http.ErrAbortHandler {
			t.Errorf("recovered %v (%T), want http.ErrAbortHandler itself", p, p)
		}
	}
}

// panicAfter panics with http.ErrAbortHandler once the gated call returns.
type panicAfter struct{ g *gatedWeChat }

func (p panicAfter) Code2Session(ctx context.Context, code string) (wechat.Session, error) {
	p.g.Code2Session(ctx, code)
	panic(http.ErrAbortHandler)
}

// The remembered answers survive the store growing and wrapping around:
// every field comes back as WeChat gave it, in order of age.
func TestDedupGrowsAndWraps(t *testing.T) {
	clock := newClock()
	wx := &countingWeChat{}
	d := wechat.NewCodeDedup(wx, wechat.CodeDedupConfig{Window: time.Minute, MaxEntries: 300, Now: clock.Now})
	ctx := context.Background()
	for i := range 500 {
		d.Code2Session(ctx, fmt.Sprintf("code-%03d", i))
		clock.Advance(time.Millisecond)
	}
	if n := d.Len(); n != 300 {
		t.Fatalf("%d answers remembered, want 300", n)
	}
	wx.calls.Store(0)
	for i := 200; i < 500; i++ {
		code := fmt.Sprintf("code-%03d", i)
		s, err := d.Code2Session(ctx, code)
		if err != nil || s.OpenID != "o-"+code || s.SessionKey != "sk-"+code {
			t.Fatalf("%s answered %+v, %v", code, s, err)
		}
	}
	if n := wx.calls.Load(); n != 0 {
		t.Errorf("resending the newest 300 made %d calls, want 0", n)
	}
	// A window after the 250th code, only the answers since remain.
	clock.Advance(time.Minute - 250*time.Millisecond)
	d.Code2Session(ctx, "code-999") // drops what has expired
	if n := d.Len(); n < 240 || n > 260 {
		t.Errorf("%d answers remembered after the oldest expired, want about 250", n)
	}
}

// However many logins go through the cache, no goroutine is left behind.
func TestDedupLeavesNoGoroutines(t *testing.T) {
	wx := &countingWeChat{}
	d := wechat.NewCodeDedup(wx, wechat.CodeDedupConfig{Window: time.Minute})
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				code := fmt.Sprintf("code-%d-%d", w, i)
				s, err := d.Code2Session(context.Background(), code)
				if err != nil || s.OpenID != "o-"+code {
					t.Errorf("%s: %+v, %v", code, s, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := wx.calls.Load(); n != 2000 {
		t.Errorf("%d WeChat calls for 2000 codes", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after 2000 logins, %d before", after, before)
	}
}

// appWeChat answers as one app's WeChat: every openid is that app's, and
// a call for a code can be held until release is closed.
type appWeChat struct {
	app     string
	calls   atomic.Int64
	release chan struct{}
}

func (a *appWeChat) Code2Session(ctx context.Context, code string) (wechat.Session, error) {
	a.calls.Add(1)
	if a.release != nil {
		<-a.release
	}
	return wechat.Session{OpenID: a.app + "-" + code, SessionKey: "sk"}, nil
}

// Apps sharing one cache never share an answer: the key is the app and
// the code, for a replay and for a call in flight alike.
func TestDedupKeyedByAppAndCode(t *testing.T) {
	shop, game := &appWeChat{app: "shop"}, &appWeChat{app: "game"}
	var dups atomic.Int64
	d := wechat.NewCodeDedup(shop, wechat.CodeDedupConfig{AppID: "wxshop", Window: time.Minute, OnDuplicate: func(string) { dups.Add(1) }})
	g := d.ForApp("wxgame", game)
	ctx := context.Background()

	s1, _ := d.Code2Session(ctx, "same-code")
	s2, _ := g.Code2Session(ctx, "same-code")
	if s1.OpenID != "shop-same-code" || s2.OpenID != "game-same-code" {
		t.Fatalf("answers %q, %q: want each app's own", s1.OpenID, s2.OpenID)
	}
	// Each app's resend is replayed from the one cache.
	r1, _ := d.Code2Session(ctx, "same-code")
	r2, _ := g.Code2Session(ctx, "same-code")
	if r1 != s1 || r2 != s2 || shop.calls.Load() != 1 || game.calls.Load() != 1 || dups.Load() != 2 {
		t.Errorf("resends: %q %q, calls %d %d, duplicates %d; want replays", r1.OpenID, r2.OpenID, shop.calls.Load(), game.calls.Load(), dups.Load())
	}
	if d.Len() != 2 || g.Len() != 2 {
		t.Errorf("Len %d, %d; want 2 in the shared cache", d.Len(), g.Len())
	}
	// The AppID is kept apart from what follows it: app "wx1" with code
	// "0123456789abc" and no caller, and app "wx" with caller
	// "0123456789" and code "abc", would spell the same key
	// ("wx10:0123456789abc") without the NUL after the AppID.
	one := d.ForApp("wx1", &appWeChat{app: "one"})
	if s, _ := one.Code2Session(ctx, "0123456789abc"); s.OpenID != "one-0123456789abc" {
		t.Errorf("answer %q", s.OpenID)
	}
	two := d.ForApp("wx", &appWeChat{app: "two"})
	if s, _ := two.Code2Session(wechat.WithCaller(ctx, "0123456789"), "abc"); s.OpenID != "two-abc" {
		t.Errorf("answer %q: another app's answer replayed", s.OpenID)
	}

	// In flight: the shop's call for a code is held; the game's call for
	// the same code does not wait for it, nor take its answer.
	shop.release = make(chan struct{})
	done := make(chan wechat.Session)
	go func() {
		s, _ := d.Code2Session(ctx, "held-code")
		done <- s
	}()
	for shop.calls.Load() != 2 {
		runtime.Gosched()
	}
	if s, _ := g.Code2Session(ctx, "held-code"); s.OpenID != "game-held-code" {
		t.Errorf("game's answer while the shop's call is in flight: %q", s.OpenID)
	}
	close(shop.release)
	if s := <-done; s.OpenID != "shop-held-code" {
		t.Errorf("shop's answer: %q", s.OpenID)
	}
}

// An answer too big for an entry is passed on but not remembered.
func TestDedupOversizedAnswerNotRemembered(t *testing.T) {
	wx := &countingWeChat{}
	d := wechat.NewCodeDedup(wx, wechat.CodeDedupConfig{Window: time.Minute})
	code := strings.Repeat("x", 200)
	for range 2 {
		s, err := d.Code2Session(context.Background(), code)
		if err != nil || s.OpenID != "o-"+code {
			t.Fatalf("answer %+v, %v", s, err)
		}
	}
	if n := wx.calls.Load(); n != 2 {
		t.Errorf("%d WeChat calls, want 2 (not remembered)", n)
	}
}

// An answer is never given again past its window, even when the clock
// goes back between two logins: the younger entry, stored after the step,
// expires before the older one, and must not wait for it.
func TestDedupClockStepsBack(t *testing.T) {
	clock := newClock()
	wx := &countingWeChat{}
	d := wechat.NewCodeDedup(wx, wechat.CodeDedupConfig{Window: time.Minute, Now: clock.Now})
	ctx := context.Background()
	if _, err := d.Code2Session(ctx, "code-before"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(-time.Hour) // the wall clock is stepped back
	if _, err := d.Code2Session(ctx, "code-after"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Second)
	wx.calls.Store(0)
	if _, err := d.Code2Session(ctx, "code-after"); err != nil || wx.calls.Load() != 0 {
		t.Fatalf("a resend within the window made %d calls (err %v), want an answer from memory", wx.calls.Load(), err)
	}
	clock.Advance(31 * time.Second) // 61s after code-after was exchanged
	if _, err := d.Code2Session(ctx, "code-after"); err != nil {
		t.Fatal(err)
	}
	if n := wx.calls.Load(); n != 1 {
		t.Errorf("a resend 61s after the exchange, with a window of 60s, made %d WeChat calls, want 1: the answer outlived its window", n)
	}
	// The fresh answer is remembered for a window of its own.
	wx.calls.Store(0)
	clock.Advance(59 * time.Second)
	if _, err := d.Code2Session(ctx, "code-after"); err != nil || wx.calls.Load() != 0 {
		t.Errorf("a resend within the new window made %d calls (err %v), want 0", wx.calls.Load(), err)
	}
}
