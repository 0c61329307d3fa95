package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// deduped is a test server whose WeChat client is wrapped in a CodeDedup
// with window and clock.
func deduped(t *testing.T, window time.Duration, clock *fakeClock, opts testOptions) (*testServer, *handlers.CodeDedup, *dupCounts) {
	t.Helper()
	var dedup *handlers.CodeDedup
	dups := &dupCounts{}
	opts.deps = func(d *handlers.Deps) {
		dedup = handlers.NewCodeDedup(d.WeChat, handlers.CodeDedupConfig{Window: window, Now: clock.Now, OnDuplicate: dups.add})
		d.WeChat = dedup
	}
	return newTestServer(t, opts), dedup, dups
}

type dupCounts struct{ inFlight, replayed atomic.Int64 }

func (c *dupCounts) add(kind string) {
	switch kind {
	case "in_flight":
		c.inFlight.Add(1)
	case "replayed":
		c.replayed.Add(1)
	}
}

type loginAnswer struct {
	Token  string `json:"token"`
	OpenID string `json:"openid"`
}

func (ts *testServer) mustLogin(t *testing.T, code string) loginAnswer {
	t.Helper()
	status, _, body := ts.login(t, code)
	if status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}
	var a loginAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// slowFault delays every WeChat answer by d, then lets the fake answer.
func slowFault(d time.Duration) wechattest.Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		time.Sleep(d)
		return false
	}
}

func TestDedupConcurrentSameCodeOneCall(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	ts, _, dups := deduped(t, time.Minute, clock, testOptions{})
	ts.wx.Inject(slowFault(200 * time.Millisecond))
	code := ts.wx.Code("ivan")

	const n = 20
	answers := make([]loginAnswer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i] = ts.mustLogin(t, code) })
	}
	wg.Wait()
	if calls := ts.wx.Calls("/sns/jscode2session"); calls != 1 {
		t.Errorf("%d concurrent logins with one code made %d WeChat calls, want 1", n, calls)
	}
	want := ts.wx.OpenID("ivan")
	jtis := map[string]bool{}
	for i, a := range answers {
		if a.OpenID != want {
			t.Errorf("answer %d: openid %q, want %q", i, a.OpenID, want)
		}
		c, err := ts.verifier.Verify(a.Token)
		if err != nil {
			t.Fatalf("answer %d: token does not verify: %v", i, err)
		}
		if sk, _ := ts.issuer.OpenSessionKey(c); sk != ts.wx.SessionKey(want) {
			t.Errorf("answer %d: token seals another session_key than WeChat's", i)
		}
		jtis[c.ID] = true
	}
	if len(jtis) != n {
		t.Errorf("%d distinct jti for %d tokens: each answer must be a freshly signed token", len(jtis), n)
	}
	if got := dups.inFlight.Load() + dups.replayed.Load(); got != n-1 {
		t.Errorf("OnDuplicate told of %d duplicates, want %d", got, n-1)
	}
}

func TestDedupResendWithinWindow(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	ts, _, dups := deduped(t, time.Minute, clock, testOptions{fake: wechattest.Options{UnionID: true}})
	code := ts.wx.Code("judy")
	first := ts.mustLogin(t, code)

	clock.Add(59 * time.Second)
	again := ts.mustLogin(t, code)
	if calls := ts.wx.Calls("/sns/jscode2session"); calls != 1 {
		t.Errorf("a resend within the window made %d WeChat calls, want 1", calls)
	}
	if again.OpenID != first.OpenID || again.Token == first.Token {
		t.Errorf("resend answered openid %q (want %q), same token: %v", again.OpenID, first.OpenID, again.Token == first.Token)
	}
	c, err := ts.verifier.Verify(again.Token)
	if err != nil {
		t.Fatal(err)
	}
	if sk, _ := ts.issuer.OpenSessionKey(c); sk != ts.wx.SessionKey(first.OpenID) || c.UnionID != ts.wx.UnionID("judy") {
		t.Errorf("re-issued token: unionid %q, session_key matches WeChat's: %v", c.UnionID, sk == ts.wx.SessionKey(first.OpenID))
	}
	if dups.replayed.Load() != 1 {
		t.Errorf("replayed = %d, want 1", dups.replayed.Load())
	}

	// Past the window the code goes to WeChat again, which knows it is spent.
	clock.Add(2 * time.Second)
	status, hdr, body := ts.login(t, code)
	wantProblem(t, status, hdr, body, 401, "invalid_code")
	if calls := ts.wx.Calls("/sns/jscode2session"); calls != 2 {
		t.Errorf("after the window: %d WeChat calls, want 2", calls)
	}
}

func TestDedupFailuresAreNotRemembered(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	ts, dedup, _ := deduped(t, time.Minute, clock, testOptions{})

	// WeChat busy: the code was not spent, so a resend gets through.
	code := ts.wx.Code("kate")
	ts.wx.Inject(wechattest.ErrcodeFault(-1))
	status, hdr, body := ts.login(t, code)
	wantProblem(t, status, hdr, body, 503, "upstream_unavailable")
	ts.wx.Inject(nil)
	ts.mustLogin(t, code)
	if calls := ts.wx.Calls("/sns/jscode2session"); calls != 2 {
		t.Errorf("WeChat calls = %d, want 2: the failure must not be answered again", calls)
	}

	// An invalid code: each resend is WeChat's to judge again.
	ts.wx.Inject(wechattest.ErrcodeFault(40029))
	for range 2 {
		status, hdr, body := ts.login(t, "not-a-real-code-0123456789")
		wantProblem(t, status, hdr, body, 401, "invalid_code")
	}
	if calls := ts.wx.Calls("/sns/jscode2session"); calls != 4 {
		t.Errorf("WeChat calls = %d, want 4", calls)
	}
	if n := dedup.Len(); n != 1 {
		t.Errorf("%d answers remembered, want 1 (only the success)", n)
	}
}

// The case dedup is for: the client gives up on a slow login and resends
// the code. The first call goes on without the client that started it, and
// the resend gets its answer with no second WeChat call.
func TestDedupCallOutlivesAbandonedRequest(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	ts, _, _ := deduped(t, time.Minute, clock, testOptions{})
	ts.wx.Inject(slowFault(300 * time.Millisecond))
	code := ts.wx.Code("liam")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	b, _ := json.Marshal(map[string]string{"code": code})
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/login", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := ts.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the first request was not abandoned: %d", resp.StatusCode)
	}

	a := ts.mustLogin(t, code)
	if a.OpenID != ts.wx.OpenID("liam") {
		t.Errorf("openid %q", a.OpenID)
	}
	if calls := ts.wx.Calls("/sns/jscode2session"); calls != 1 {
		t.Errorf("WeChat calls = %d, want 1", calls)
	}
}

func TestDedupZeroWindowIsOff(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	ts, _, _ := deduped(t, 0, clock, testOptions{})
	code := ts.wx.Code("mia")
	ts.mustLogin(t, code)
	status, hdr, body := ts.login(t, code)
	wantProblem(t, status, hdr, body, 401, "invalid_code")
}

func TestDedupPanicIsProblem(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	ts, _, _ := deduped(t, time.Minute, clock, testOptions{wechat: panicky{}})
	status, hdr, body := ts.login(t, "abc")
	p := wantProblem(t, status, hdr, body, 500, "internal_error")
	if !strings.Contains(ts.logs.waitFor(t, "panicked"), p.RequestID) {
		t.Errorf("panic not logged with request id %q", p.RequestID)
	}
	if status, _, _ := ts.do(t, "GET", "/healthz", "", ""); status != 200 {
		t.Errorf("after a panic /healthz = %d", status)
	}
}

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
	clock := &fakeClock{now: time.Now()}
	wx := &countingWeChat{}
	d := handlers.NewCodeDedup(wx, handlers.CodeDedupConfig{Window: time.Minute, MaxEntries: 10, Now: clock.Now})
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
	clock.Add(time.Minute)
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
	d := handlers.NewCodeDedup(wx, handlers.CodeDedupConfig{Window: time.Minute})
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
	d := handlers.NewCodeDedup(wx, handlers.CodeDedupConfig{
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
	if !settle(func() bool { return in() >= n }) {
		t.Fatalf("%d goroutines in %s, want %d", in(), fn, n)
	}
}

// A panic in the wrapped WeChat reaches the leader and every follower
// with the value it was raised with, so that recoverPanics still knows
// http.ErrAbortHandler and logs the panic as it was.
func TestDedupPanicKeepsItsValue(t *testing.T) {
	wx := &gatedWeChat{entered: make(chan struct{}, 2), release: make(chan struct{})}
	d := handlers.NewCodeDedup(panicAfter{wx}, handlers.CodeDedupConfig{Window: time.Minute})
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
	clock := &fakeClock{now: time.Now()}
	wx := &countingWeChat{}
	d := handlers.NewCodeDedup(wx, handlers.CodeDedupConfig{Window: time.Minute, MaxEntries: 300, Now: clock.Now})
	ctx := context.Background()
	for i := range 500 {
		d.Code2Session(ctx, fmt.Sprintf("code-%03d", i))
		clock.Add(time.Millisecond)
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
	clock.Add(time.Minute - 250*time.Millisecond)
	d.Code2Session(ctx, "code-999") // drops what has expired
	if n := d.Len(); n < 240 || n > 260 {
		t.Errorf("%d answers remembered after the oldest expired, want about 250", n)
	}
}

// An answer too big for a slot is passed on but not remembered.
func TestDedupOversizedAnswerNotRemembered(t *testing.T) {
	wx := &countingWeChat{}
	d := handlers.NewCodeDedup(wx, handlers.CodeDedupConfig{Window: time.Minute})
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
