package handlers_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/wxlogin/wxlogin/handlers"
)

// limited is a test server whose logins are limited to limit per minute
// per client IP, with trusted proxies as given.
func limited(t *testing.T, limit int, trusted ...string) *testServer {
	t.Helper()
	var prefixes []netip.Prefix
	for _, p := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	return newTestServer(t, testOptions{deps: func(d *handlers.Deps) {
		d.RateLimit, d.TrustedProxies = limit, prefixes
	}})
}

// loginFrom logs in with a fresh code, sending X-Forwarded-For when xff
// is not empty.
func (ts *testServer) loginFrom(t *testing.T, xff string) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"code": ts.wx.Code("user-" + xff)})
	var hdr []string
	if xff != "" {
		hdr = []string{"X-Forwarded-For", xff}
	}
	status, h, body := ts.do(t, "POST", "/v1/login", "application/json", string(b), hdr...)
	if status == 429 {
		wantProblem(t, status, h, body, 429, "rate_limited")
		if ra := h.Get("Retry-After"); ra != "60" {
			t.Errorf("429 with Retry-After %q, want 60", ra)
		}
	}
	return status, body
}

func TestLoginRateLimit(t *testing.T) {
	ts := limited(t, 3)
	for i := range 3 {
		if status, body := ts.loginFrom(t, ""); status != 200 {
			t.Fatalf("login %d: %d %s", i+1, status, body)
		}
	}
	if status, _ := ts.loginFrom(t, ""); status != 429 {
		t.Fatalf("login over the limit: status %d, want 429", status)
	}
	if n := ts.wx.Calls("/sns/jscode2session"); n != 3 {
		t.Errorf("WeChat calls = %d, want 3: a limited login must not spend quota", n)
	}
	if logs := ts.logs.waitFor(t, `"outcome":"rate_limited"`); !strings.Contains(logs, `"status":429`) {
		t.Errorf("the 429 is not in the request log:\n%s", logs)
	}
	// Other routes are not limited.
	if status, _, _ := ts.do(t, "GET", "/healthz", "", ""); status != 200 {
		t.Errorf("/healthz after the login limit = %d", status)
	}
}

// A client that talks to the server directly cannot pick its bucket with
// X-Forwarded-For: the header is believed only from trusted proxies.
func TestRateLimitIgnoresSpoofedXFF(t *testing.T) {
	for _, trusted := range [][]string{nil, {"10.0.0.0/8"}} {
		ts := limited(t, 3, trusted...)
		var statuses []int
		for i := range 5 {
			status, _ := ts.loginFrom(t, "203.0.113."+string(rune('1'+i)))
			statuses = append(statuses, status)
		}
		if statuses[3] != 429 || statuses[4] != 429 {
			t.Errorf("trusted %v: statuses %v; spoofed X-Forwarded-For escaped the limit", trusted, statuses)
		}
	}
}

// Behind a trusted proxy each client (the rightmost untrusted address of
// X-Forwarded-For) has its own bucket, and what a client wrote to the
// left of its own address changes nothing.
func TestRateLimitPerClientBehindTrustedProxy(t *testing.T) {
	ts := limited(t, 3, "127.0.0.0/8") // the test server's peer is 127.0.0.1
	for i := range 3 {
		if status, body := ts.loginFrom(t, "203.0.113.7"); status != 200 {
			t.Fatalf("client A login %d: %d %s", i+1, status, body)
		}
	}
	if status, _ := ts.loginFrom(t, "203.0.113.7"); status != 429 {
		t.Errorf("client A over its limit: %d, want 429", status)
	}
	if status, _ := ts.loginFrom(t, "198.51.100.1, 203.0.113.7"); status != 429 {
		t.Errorf("client A with a forged left-hand X-Forwarded-For entry: %d, want 429", status)
	}
	if status, body := ts.loginFrom(t, "203.0.113.8"); status != 200 {
		t.Errorf("client B: %d %s; one client's limit hit another", status, body)
	}
	// Two proxy hops, both trusted: the client is still found.
	if status, body := ts.loginFrom(t, "203.0.113.9, 127.0.0.5"); status != 200 {
		t.Errorf("client C through two proxies: %d %s", status, body)
	}
	logs := ts.logs.waitFor(t, `"client_ip":"203.0.113.8"`)
	if !strings.Contains(logs, `"client_ip":"203.0.113.8"`) {
		t.Errorf("the request log does not name the client IP from X-Forwarded-For:\n%s", logs)
	}
	// A trusted proxy that sends no X-Forwarded-For is limited by its own
	// address: it does not escape the limit.
	for range 3 {
		ts.loginFrom(t, "")
	}
	if status, _ := ts.loginFrom(t, ""); status != 429 {
		t.Errorf("proxy without X-Forwarded-For over the limit: %d, want 429", status)
	}
}

func TestRateLimitZeroIsOff(t *testing.T) {
	ts := limited(t, 0)
	for i := range 30 {
		if status, body := ts.loginFrom(t, ""); status != 200 {
			t.Fatalf("login %d with the limit off: %d %s", i+1, status, body)
		}
	}
}

func TestRateLimitNegativeIsRefused(t *testing.T) {
	if _, err := handlers.New(handlers.Deps{RateLimit: -1}); err == nil {
		t.Error("handlers.New accepted a negative rate limit")
	}
}
