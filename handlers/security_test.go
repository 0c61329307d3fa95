package handlers_test

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// longestLogLine returns the length of the longest line in logs.
func longestLogLine(logs string) int {
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		n = max(n, len(line))
	}
	return n
}

// A 15,000-character method is neither echoed in the 405 problem nor
// written whole into the request's log line.
func TestLongMethodIsBounded(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	method := strings.Repeat("X", 15_000)
	status, hdr, body := ts.do(t, method, "/v1/login", "", "")
	p := wantProblem(t, status, hdr, body, 405, "method_not_allowed")
	if len(body) > 1000 || strings.Contains(p.Detail, method[:100]) {
		t.Errorf("the 405 answer (%d bytes) echoes the method: detail %.80q…", len(body), p.Detail)
	}
	logs := ts.logs.waitFor(t, `"status":405`)
	if !strings.Contains(logs, `"status":405`) {
		t.Fatalf("no request line for the 405:\n%.2000s", logs)
	}
	if n := longestLogLine(logs); n > 1000 {
		t.Errorf("a log line is %d bytes long: the method is logged whole", n)
	}
	// A standard method is still named as it is.
	status, hdr, body = ts.do(t, "PUT", "/v1/login", "", "")
	if p := wantProblem(t, status, hdr, body, 405, "method_not_allowed"); !strings.Contains(p.Detail, "PUT") {
		t.Errorf("detail %q does not name PUT", p.Detail)
	}
}

// An upstream's errmsg, or an errcode that is not a number, of a megabyte
// reaches the log cut to about 200 bytes.
func TestUpstreamTextIsBoundedInLogs(t *testing.T) {
	huge := strings.Repeat("m", 1<<20-100) // just under the 1 MiB the client reads
	for name, answer := range map[string]string{
		"errmsg":            `{"errcode":40099,"errmsg":"` + huge + `"}`,
		"errcode as string": `{"errcode":"` + huge + `","errmsg":"x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, testOptions{})
			ts.wx.Inject(wechattest.StatusFault(200, answer))
			status, hdr, body := ts.login(t, "abc")
			wantProblem(t, status, hdr, body, 502, "upstream_error")
			logs := ts.logs.waitFor(t, "request failed")
			if !strings.Contains(logs, "request failed") || !strings.Contains(logs, "mmmmmmmmmm") {
				t.Fatalf("no error line quoting the start of the answer:\n%.2000s", logs)
			}
			if n := longestLogLine(logs); n > 1000 {
				t.Errorf("a log line is %d bytes long; want the upstream text cut to about 200", n)
			}
		})
	}
}

// clientAt returns an HTTP client whose connections leave from the
// loopback address ip (any of 127.0.0.0/8 on Linux), so that the server
// sees another client IP than 127.0.0.1.
func clientAt(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// send makes a request from client with body and the headers hdr (name,
// value…) and returns the answer.
func send(t *testing.T, client *http.Client, method, url, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// loginWith posts code from client, with the headers hdr.
func (ts *testServer) loginWith(t *testing.T, client *http.Client, code string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	return send(t, client, "POST", ts.URL+"/v1/login", `{"code":"`+code+`"}`, append([]string{"Content-Type", "application/json"}, hdr...)...)
}

// A spent code is answered again within the reuse window only to the
// client that exchanged it (a resend after a lost answer); from another
// address it is invalid_code, as it would be without the cache.
func TestReplayFromAnotherClientIsInvalidCode(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	ts, _, _ := deduped(t, time.Minute, clock, testOptions{})
	code := ts.wx.Code("victim")
	first, other := clientAt(t, "127.0.0.1"), clientAt(t, "127.0.0.2")
	if status, _, body := ts.loginWith(t, first, code); status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}
	// The leaked code, from elsewhere: refused, and no token.
	status, hdr, body := ts.loginWith(t, other, code)
	wantProblem(t, status, hdr, body, 401, "invalid_code")
	if strings.Contains(string(body), `"token"`) {
		t.Fatalf("the replay got a token: %s", body)
	}
	// The same client's resend still works, within the window.
	clock.Add(30 * time.Second)
	if status, _, body := ts.loginWith(t, first, code); status != 200 {
		t.Errorf("the same client's resend: %d %s; want 200", status, body)
	}
}

// Behind a trusted proxy the client is the X-Forwarded-For address, and
// an IPv6 client is its /64, as for the login rate limit: a device whose
// address changes within its /64 may resend, another network may not.
func TestReplayBucketIsTheClientIPOr64(t *testing.T) {
	ts := newTestServer(t, testOptions{deps: func(d *handlers.Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		d.Apps[0].WeChat = wechat.NewCodeDedup(d.Apps[0].WeChat, wechat.CodeDedupConfig{Window: time.Minute})
	}})
	local := clientAt(t, "127.0.0.1")
	for _, tc := range []struct {
		first, again string
		want         int
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", 200}, // the same /64
		{"2001:db8:1:2::1", "2001:db8:1:3::1", 401},      // the next /64
		{"198.51.100.7", "198.51.100.7", 200},
		{"198.51.100.7", "198.51.100.8", 401},
	} {
		code := ts.wx.Code("user-" + tc.first + "-" + tc.again)
		if status, _, body := ts.loginWith(t, local, code, "X-Forwarded-For", tc.first); status != 200 {
			t.Fatalf("login from %s: %d %s", tc.first, status, body)
		}
		if status, _, body := ts.loginWith(t, local, code, "X-Forwarded-For", tc.again); status != tc.want {
			t.Errorf("code of %s resent from %s: %d %s; want %d", tc.first, tc.again, status, body, tc.want)
		}
	}
}

// A client's X-Request-Id is believed only from a trusted proxy (one that
// traces requests); from anyone else it is replaced by an id of ours, in
// the problem answer and in the log line alike.
func TestRequestIDOnlyFromTrustedProxies(t *testing.T) {
	ts := newTestServer(t, testOptions{deps: func(d *handlers.Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	}})
	get := func(client *http.Client, id string) handlers.Problem {
		t.Helper()
		status, hdr, body := send(t, client, "GET", ts.URL+"/nope", "", "X-Request-Id", id)
		return wantProblem(t, status, hdr, body, 404, "not_found")
	}
	const forged, traced = "forged-by-a-client", "traced-by-the-proxy"
	if p := get(clientAt(t, "127.0.0.1"), forged); p.RequestID == forged || p.RequestID == "" {
		t.Errorf("untrusted peer: request_id %q; want one of ours", p.RequestID)
	}
	if p := get(clientAt(t, "127.0.0.2"), traced); p.RequestID != traced {
		t.Errorf("trusted proxy: request_id %q; want %q", p.RequestID, traced)
	}
	logs := ts.logs.waitFor(t, traced)
	if strings.Contains(logs, forged) {
		t.Errorf("the log holds the untrusted client's id:\n%s", logs)
	}
	if !strings.Contains(logs, `"request_id":"`+traced+`"`) {
		t.Errorf("the log lacks the trusted proxy's id:\n%s", logs)
	}
}

// callFrom posts body with the bearer token from client.
func (e *odEnv) callFrom(t *testing.T, client *http.Client, path, bearer, body string) (int, http.Header, []byte) {
	t.Helper()
	return send(t, client, "POST", e.URL+path, body, "Content-Type", "application/json", "Authorization", "Bearer "+bearer)
}

// One token cannot drive /v1/session/check and /v1/phone, which spend the
// app's WeChat quota, without bound: past WXLOGIN_USER_RATE_LIMIT calls a
// minute (the three routes together) the answer is 429 rate_limited with
// Retry-After, and WeChat is not called. Another user is not affected.
func TestUserRateLimit(t *testing.T) {
	const limit = 10
	e := newODEnv(t, odOptions{deps: func(d *handlers.Deps) { d.UserRateLimit = limit }})
	tok, _ := e.loginAs(t, "flooder")
	local := clientAt(t, "127.0.0.1")
	ok, limited := 0, 0
	for i := range 3 * limit {
		var status int
		var hdr http.Header
		var body []byte
		if i%2 == 0 {
			status, hdr, body = e.callFrom(t, local, "/v1/session/check", tok, "")
		} else {
			status, hdr, body = e.callFrom(t, local, "/v1/phone", tok, `{"code":"`+e.wx.PhoneCode("86", "13800138000")+`"}`)
		}
		switch status {
		case 200:
			ok++
		case 429:
			limited++
			odProblem(t, status, hdr, body, 429, handlers.CodeRateLimited)
			if ra := hdr.Get("Retry-After"); ra == "" || ra == "0" {
				t.Fatalf("429 without Retry-After")
			}
		default:
			t.Fatalf("call %d: %d %s", i, status, body)
		}
	}
	if ok != limit || limited != 2*limit {
		t.Errorf("%d calls with one token: %d answered, %d limited; want %d and %d", 3*limit, ok, limited, limit, 2*limit)
	}
	if calls := e.wx.Calls(apiCheck) + e.wx.Calls(apiPhone); calls != limit {
		t.Errorf("WeChat saw %d checksession and phone calls; want %d", calls, limit)
	}
	// Decrypting counts too, and another user still gets through.
	status, hdr, body := e.callFrom(t, local, "/v1/decrypt", tok, `{"encryptedData":"AAAA","iv":"AAAA"}`)
	odProblem(t, status, hdr, body, 429, handlers.CodeRateLimited)
	// The token was verified before the limit answered: its app is in
	// the log line of the 429.
	line := lastLogLine(t, e.logs.waitFor(t, `"route":"/v1/decrypt"`), `"route":"/v1/decrypt"`)
	if !strings.Contains(line, `"status":429`) || !strings.Contains(line, `"app":"`+e.appID+`"`) {
		t.Errorf("log line of the per-user 429 %s; want status 429 and app %s", line, e.appID)
	}
	other, _ := e.loginAs(t, "bystander")
	if status, _, body := e.callFrom(t, local, "/v1/session/check", other, ""); status != 200 {
		t.Errorf("another user: %d %s; want 200", status, body)
	}
}

// One address with many tokens is bounded too: past
// WXLOGIN_USER_IP_RATE_LIMIT calls a minute from one client IP, its
// requests are limited whoever's token they carry, and before the token is
// even verified; another address is not affected.
func TestUserIPRateLimit(t *testing.T) {
	const limit = 6
	e := newODEnv(t, odOptions{deps: func(d *handlers.Deps) { d.UserIPRateLimit = limit }})
	local, other := clientAt(t, "127.0.0.1"), clientAt(t, "127.0.0.2")
	for i := range limit {
		tok, _ := e.loginAs(t, "user-"+strconv.Itoa(i))
		if status, _, body := e.callFrom(t, local, "/v1/session/check", tok, ""); status != 200 {
			t.Fatalf("call %d: %d %s", i, status, body)
		}
	}
	tok, _ := e.loginAs(t, "one-more")
	status, hdr, body := e.callFrom(t, local, "/v1/session/check", tok, "")
	odProblem(t, status, hdr, body, 429, handlers.CodeRateLimited)
	if ra := hdr.Get("Retry-After"); ra != "60" {
		t.Errorf("Retry-After = %q, want 60", ra)
	}
	status, hdr, body = e.callFrom(t, local, "/v1/session/check", "not-even-a-token", "")
	odProblem(t, status, hdr, body, 429, handlers.CodeRateLimited)
	if calls := e.wx.Calls(apiCheck); calls != limit {
		t.Errorf("WeChat saw %d checksession calls; want %d", calls, limit)
	}
	if status, _, body := e.callFrom(t, other, "/v1/session/check", tok, ""); status != 200 {
		t.Errorf("from another address: %d %s; want 200", status, body)
	}
}
