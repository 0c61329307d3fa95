package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
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
func deduped(t *testing.T, window time.Duration, clock *fakeClock, opts testOptions) (*testServer, *wechat.CodeDedup, *dupCounts) {
	t.Helper()
	var dedup *wechat.CodeDedup
	dups := &dupCounts{}
	opts.deps = func(d *handlers.Deps) {
		dedup = wechat.NewCodeDedup(d.Apps[0].WeChat, wechat.CodeDedupConfig{Window: window, Now: clock.Now, OnDuplicate: dups.add})
		d.Apps[0].WeChat = dedup
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
