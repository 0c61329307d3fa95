package handlers_test

import (
	"encoding/json"
	"net/http"
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

// TestClientIPInLog checks the client_ip of the request log for each
// shape of X-Forwarded-For a trusted proxy (the test client, on
// 127.0.0.1) or a client may send.
func TestClientIPInLog(t *testing.T) {
	ts := limited(t, 0, "127.0.0.0/8", "10.0.0.0/8")
	direct := limited(t, 0)
	for _, tc := range []struct {
		name   string
		ts     *testServer
		xff    []string // one header each
		wantIP string
	}{
		// nginx on loopback in front of a client on loopback: every hop
		// is trusted, so the leftmost is the client.
		{"every hop trusted", ts, []string{"127.0.0.1"}, "127.0.0.1"},
		{"every hop trusted, two proxies", ts, []string{"10.1.2.3, 127.0.0.5"}, "10.1.2.3"},
		{"client behind two proxies", ts, []string{"203.0.113.9, 10.0.0.7"}, "203.0.113.9"},
		{"forged left of the client", ts, []string{"198.51.100.1, 203.0.113.7, 10.0.0.7"}, "203.0.113.7"},
		{"trusted forged left of the client", ts, []string{"10.9.9.9, 203.0.113.7"}, "203.0.113.7"},
		{"two headers are one list", ts, []string{"203.0.113.1", "127.0.0.2"}, "203.0.113.1"},
		{"v4-mapped client", ts, []string{"::ffff:203.0.113.4"}, "203.0.113.4"},
		{"v4-mapped trusted hop", ts, []string{"203.0.113.5, ::ffff:10.0.0.1"}, "203.0.113.5"},
		{"no header: the peer", ts, nil, "127.0.0.1"},
		{"garbage: fail closed", ts, []string{"203.0.113.6, nonsense, 10.0.0.1"}, ""},
		{"untrusted peer: header ignored", direct, []string{"203.0.113.1"}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A path that is not served: its problem answer names the
			// request id the log line carries.
			req, _ := http.NewRequest(http.MethodGet, tc.ts.URL+"/client-ip-probe", nil)
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			resp, err := tc.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var p struct {
				RequestID string `json:"request_id"`
			}
			err = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			id := p.RequestID
			if err != nil || id == "" {
				t.Fatalf("the 404 problem names no request id (%v)", err)
			}
			logs := tc.ts.logs.waitFor(t, `"request_id":"`+id+`"`)
			for _, line := range strings.Split(logs, "\n") {
				var l struct {
					RequestID string  `json:"request_id"`
					ClientIP  *string `json:"client_ip"`
				}
				if json.Unmarshal([]byte(line), &l) != nil || l.RequestID != id {
					continue
				}
				if l.ClientIP == nil || *l.ClientIP != tc.wantIP {
					t.Errorf("X-Forwarded-For %q: client_ip %v; want %q", tc.xff, l.ClientIP, tc.wantIP)
				}
				return
			}
			t.Fatalf("no request log line with request_id %s:\n%s", id, logs)
		})
	}
}
