package claims_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/claims/claimstest"
)

func newClient(t *testing.T, hook *claimstest.Server, cfg claims.Config) *claims.Client {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = hook.URL + "/claims"
	}
	if cfg.Key == nil {
		cfg.Key = hook.Key()
	}
	c, err := claims.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var loginReq = claims.Request{Event: claims.EventLogin, AppID: "wx1", OpenID: "o-alice", UnionID: "u-alice"}

// The hook receives one signed POST with the request id, and its answer
// comes back checked.
func TestCallSignsAndAnswers(t *testing.T) {
	hook := claimstest.NewServer()
	defer hook.Close()
	hook.Answer(claims.Answer{Sub: "user-42", Claims: map[string]any{"roles": []string{"admin"}}})
	var results []string
	c := newClient(t, hook, claims.Config{Observe: func(r string, _ time.Duration) { results = append(results, r) }})

	a, err := c.Call(context.Background(), "req-123", loginReq)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, a); got != `{"sub":"user-42","claims":{"roles":["admin"]}}` {
		t.Errorf("answer %s", got)
	}
	calls := hook.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	call := calls[0]
	if call.Err != nil {
		t.Errorf("the hook refused the request: %v", call.Err)
	}
	if got, want := mustJSON(t, call.Request), mustJSON(t, loginReq); got != want {
		t.Errorf("the hook got %s, want %s", got, want)
	}
	if got := string(call.Body); got != `{"event":"login","appid":"wx1","openid":"o-alice","unionid":"u-alice"}` {
		t.Errorf("body %s", got)
	}
	if got := call.Header.Get("X-Request-Id"); got != "req-123" {
		t.Errorf("X-Request-Id %q", got)
	}
	if got := call.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if !strings.HasPrefix(call.Header.Get("Wxlogin-Signature"), "t=") {
		t.Errorf("Wxlogin-Signature %q", call.Header.Get("Wxlogin-Signature"))
	}
	if strings.Join(results, ",") != "ok" {
		t.Errorf("observed %v", results)
	}
}

// The hook's key must be the client's: a client with another key is
// refused by the test hook, and wxlogin sees an upstream error.
func TestCallWithTheWrongKey(t *testing.T) {
	hook := claimstest.NewServer()
	defer hook.Close()
	c := newClient(t, hook, claims.Config{Key: make([]byte, 32)})
	_, err := c.Call(context.Background(), "", loginReq)
	if !errors.Is(err, claims.ErrUpstream) || errors.Is(err, claims.ErrBadAnswer) {
		t.Errorf("err = %v, want ErrUpstream for the hook's 401", err)
	}
	if calls := hook.Calls(); len(calls) != 1 || !errors.Is(calls[0].Err, claims.ErrNoValidSignature) {
		t.Errorf("the hook's view: %+v", calls)
	}
}

// Each way a hook can answer maps to the error of its contract code.
func TestCallOutcomes(t *testing.T) {
	long := strings.Repeat("é", 250)
	tests := []struct {
		name   string
		setup  func(*claimstest.Server)
		want   error
		detail string // for ErrDenied
		rule   claims.Rule
		result string
	}{
		{name: "403 without detail", setup: func(h *claimstest.Server) { h.Deny("") }, want: claims.ErrDenied, result: "denied"},
		{name: "403 with detail", setup: func(h *claimstest.Server) { h.Deny("this account is suspended; write to help@example.com") },
			want: claims.ErrDenied, detail: "this account is suspended; write to help@example.com", result: "denied"},
		{name: "403 detail cut to 200 characters", setup: func(h *claimstest.Server) { h.Deny(long) },
			want: claims.ErrDenied, detail: long[:400], result: "denied"},
		{name: "403 detail sanitised", setup: func(h *claimstest.Server) { h.Deny("  no\r\nSet-Cookie: x\x00\u202e here\t ") },
			want: claims.ErrDenied, detail: "no Set-Cookie: x here", result: "denied"},
		{name: "403 with a text body", setup: func(h *claimstest.Server) { h.Respond(403, "text/plain", "go away") }, want: claims.ErrDenied, result: "denied"},
		{name: "500", setup: func(h *claimstest.Server) { h.Respond(500, "text/plain", "panic: nil map") }, want: claims.ErrUpstream, result: "http_500"},
		{name: "503", setup: func(h *claimstest.Server) { h.Respond(503, "", "") }, want: claims.ErrUpstream, result: "http_503"},
		{name: "404", setup: func(h *claimstest.Server) { h.Respond(404, "", "") }, want: claims.ErrUpstream, result: "http_404"},
		{name: "redirect not followed", setup: func(h *claimstest.Server) { h.Respond(307, "", "") }, want: claims.ErrUpstream, result: "http_307"},
		{name: "non-JSON 200", setup: func(h *claimstest.Server) { h.Respond(200, "text/html", "<html>hi</html>") },
			want: claims.ErrBadAnswer, rule: claims.RuleJSON, result: "bad_answer"},
		{name: "reserved name", setup: func(h *claimstest.Server) { h.Answer(claims.Answer{Claims: map[string]any{"aud": "elsewhere"}}) },
			want: claims.ErrBadAnswer, rule: claims.RuleReserved, result: "bad_answer"},
		{name: "claims over 4 KiB", setup: func(h *claimstest.Server) { h.Respond(200, "application/json", `{"claims":`+claimsOfSize(4097)+`}`) },
			want: claims.ErrBadAnswer, rule: claims.RuleClaimsSize, result: "bad_answer"},
		{name: "answer over 64 KiB", setup: func(h *claimstest.Server) {
			h.Respond(200, "application/json", `{"claims":{"a":"`+strings.Repeat("x", 1<<20)+`"}}`)
		}, want: claims.ErrBadAnswer, rule: claims.RuleSize, result: "bad_answer"},
		{name: "sub too long", setup: func(h *claimstest.Server) { h.Answer(claims.Answer{Sub: strings.Repeat("x", 256)}) },
			want: claims.ErrBadAnswer, rule: claims.RuleSub, result: "bad_answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook := claimstest.NewServer()
			defer hook.Close()
			tt.setup(hook)
			var result string
			c := newClient(t, hook, claims.Config{Observe: func(r string, _ time.Duration) { result = r }})
			_, err := c.Call(context.Background(), "", loginReq)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if result != tt.result {
				t.Errorf("observed %q, want %q", result, tt.result)
			}
			var de *claims.DeniedError
			if errors.As(err, &de) && de.Detail != tt.detail {
				t.Errorf("detail %q, want %q", de.Detail, tt.detail)
			}
			var ae *claims.AnswerError
			if errors.As(err, &ae) != (tt.rule != "") || (ae != nil && ae.Rule != tt.rule) {
				t.Errorf("err = %v, want rule %q", err, tt.rule)
			}
			for _, leak := range []string{"nil map", "elsewhere", "<html>"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q holds the answer's %q", err, leak)
				}
			}
			if n := len(hook.Calls()); n != 1 {
				t.Errorf("the hook was called %d times; a call is never retried", n)
			}
		})
	}
}

// A hook nobody listens on is unavailable.
func TestCallRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/claims"
	ln.Close()
	c, err := claims.NewClient(claims.Config{URL: url, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(context.Background(), "", loginReq); !errors.Is(err, claims.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

// A connection dropped after the request was sent is unavailable, and
// the request is not sent again: the hook may have acted on it.
func TestCallDroppedIsNotResent(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	c, err := claims.NewClient(claims.Config{URL: srv.URL, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(context.Background(), "", loginReq); !errors.Is(err, claims.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the hook saw %d requests, want 1", n)
	}
}

// A hook that hangs is cut at the deadline with ErrTimeout, and leaves
// no goroutine and no connection behind.
func TestCallHangTimesOutAndLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		hook := claimstest.NewServer()
		defer hook.Close()
		hook.Hang()
		hc := claims.NewHTTPClient()
		const timeout = 200 * time.Millisecond
		c := newClient(t, hook, claims.Config{Timeout: timeout, HTTPClient: hc})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				start := time.Now()
				_, err := c.Call(context.Background(), "", loginReq)
				if !errors.Is(err, claims.ErrTimeout) {
					t.Errorf("err = %v, want ErrTimeout", err)
				}
				// The deadline is the configured timeout, not something
				// shorter on the way.
				if took := time.Since(start); took < timeout {
					t.Errorf("the call ended after %v, before its deadline", took)
				}
			})
		}
		wg.Wait()
		hc.CloseIdleConnections()
	}()
	if !settle(func() bool { return runtime.NumGoroutine() <= before }) {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
	}
}

// A caller that gives up is told so (ErrUnavailable and
// context.Canceled), which wxlogin does not log as a failure.
func TestCallCanceled(t *testing.T) {
	hook := claimstest.NewServer()
	defer hook.Close()
	hook.Hang()
	c := newClient(t, hook, claims.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := c.Call(ctx, "", loginReq)
	if !errors.Is(err, claims.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want ErrUnavailable and context.Canceled", err)
	}
}

func TestNewClientRefuses(t *testing.T) {
	tests := []struct {
		name, url string
		key       []byte
		want      string
	}{
		{"no URL", "", testKey, "not http or https"},
		{"ftp", "ftp://hook.example.com/", testKey, "not http or https"},
		{"relative", "/claims", testKey, "not http or https"},
		{"no host", "http:///claims", testKey, "no host"},
		{"no key", "https://hook.example.com/claims", nil, "0 bytes"},
		{"short key", "https://hook.example.com/claims", testKey[:16], "16 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := claims.NewClient(claims.Config{URL: tt.url, Key: tt.key})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
	if _, err := claims.NewClient(claims.Config{URL: "https://hook.example.com/claims", Key: testKey}); err != nil {
		t.Errorf("a good config: %v", err)
	}
}

// settle polls cond for up to 5 seconds.
func settle(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
