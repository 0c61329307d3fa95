package handlers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "0123456789abcdef0123456789abcdef"
	issuer = "https://login.example.com"
)

// testServer is the real handler in front of the fake WeChat.
type testServer struct {
	*httptest.Server
	wx       *wechattest.Server
	verifier *token.Verifier
	issuer   *token.Issuer
	ready    *handlers.Readiness
	logs     *logBuffer
}

type testOptions struct {
	fake    wechattest.Options
	timeout time.Duration
	wechat  handlers.WeChat                              // replaces the real client when set
	deps    func(*handlers.Deps)                         // changes the dependencies before handlers.New
	observe func(api, result string, took time.Duration) // the WeChat client's Observe
}

func newTestServer(t *testing.T, opts testOptions) *testServer {
	t.Helper()
	opts.fake.AppID, opts.fake.Secret = appID, secret
	wx := wechattest.NewServer(opts.fake)
	t.Cleanup(wx.Close)
	if opts.timeout == 0 {
		opts.timeout = 2 * time.Second
	}
	pemKey, _ := token.GenerateKey(token.ES256)
	signer, _, _ := token.ParsePrivateKey(pemKey)
	sk := make([]byte, token.SecretSize)
	rand.Read(sk)
	recordSecret("app secret", secret)
	recordPEM("signing key", pemKey)
	recordBytes("session-key secret", sk)
	sealer, _ := token.NewSealer(sk)
	iss, err := token.NewIssuer(token.IssuerConfig{Key: signer, Issuer: issuer, Audience: appID, AppID: appID, TTL: 2 * time.Hour, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	ver, err := token.NewVerifier(token.VerifierConfig{Keys: []token.Key{iss.Key()}, Issuer: issuer, Audience: appID})
	if err != nil {
		t.Fatal(err)
	}
	var client handlers.WeChat = wechat.New(wechat.Config{BaseURL: wx.URL, AppID: appID, Secret: secret, Timeout: opts.timeout, HTTPClient: recordingClient(), Observe: opts.observe})
	if opts.wechat != nil {
		client = opts.wechat
	}
	logs := &logBuffer{}
	ready := &handlers.Readiness{}
	deps := handlers.Deps{
		Logger: slog.New(slog.NewJSONHandler(captureLogs(logs), nil)),
		Issuer: issuer, Verifier: ver, Keys: []token.Key{iss.Key()}, Readiness: ready,
		Apps: []handlers.App{{AppID: appID, WeChat: client, Tokens: iss}},
	}
	if opts.deps != nil {
		opts.deps(&deps)
	}
	h, err := handlers.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(recordTraffic(h))
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, wx: wx, verifier: ver, issuer: iss, ready: ready, logs: logs}
}

// do sends a request and returns the status, headers and body.
func (ts *testServer) do(t *testing.T, method, path, contentType, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (ts *testServer) login(t *testing.T, code string) (int, http.Header, []byte) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"code": code})
	return ts.do(t, "POST", "/v1/login", "application/json", string(b))
}

// wantProblem checks an RFC 9457 answer with the contract code.
func wantProblem(t *testing.T, status int, hdr http.Header, body []byte, wantStatus int, wantCode string) handlers.Problem {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", status, wantStatus, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p handlers.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	if p.Code != wantCode || p.Status != wantStatus || p.Title == "" || p.Type == "" || p.Detail == "" {
		t.Errorf("problem = %+v, want code %q status %d with type, title, detail", p, wantCode, wantStatus)
	}
	return p
}

func TestLogin(t *testing.T) {
	ts := newTestServer(t, testOptions{fake: wechattest.Options{UnionID: true}})
	status, hdr, body := ts.login(t, ts.wx.Code("alice"))
	if status != 200 {
		t.Fatalf("status = %d, body %s", status, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := hdr.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var got struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
		ExpiresIn int    `json:"expires_in"`
		OpenID    string `json:"openid"`
		UnionID   string `json:"unionid"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.TokenType != "Bearer" || got.ExpiresIn != 7200 || got.OpenID != ts.wx.OpenID("alice") || got.UnionID != ts.wx.UnionID("alice") {
		t.Errorf("answer = %+v", got)
	}
	c, err := ts.verifier.Verify(got.Token)
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if c.Subject != got.OpenID || c.AppID != appID || c.UnionID != got.UnionID || c.Issuer != issuer {
		t.Errorf("claims = %+v", c)
	}
	if exp := c.ExpiresAt.Sub(c.IssuedAt.Time); exp != 2*time.Hour {
		t.Errorf("exp - iat = %s, want 2h", exp)
	}
	sk, err := ts.issuer.OpenSessionKey(c)
	if err != nil || sk != ts.wx.SessionKey(got.OpenID) {
		t.Errorf("sealed session_key opens to %q (%v), want WeChat's", sk, err)
	}
	if strings.Contains(got.Token, sk) || bytes.Contains(body, []byte(sk)) {
		t.Error("the answer holds the session_key in the clear")
	}

	// The same user logging in again gets the same openid.
	_, _, body2 := ts.login(t, ts.wx.Code("alice"))
	if !bytes.Contains(body2, []byte(got.OpenID)) {
		t.Errorf("second login answered %s, want openid %s", body2, got.OpenID)
	}
}

func TestLoginWithoutUnionID(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	status, _, body := ts.login(t, ts.wx.Code("carol"))
	if status != 200 {
		t.Fatalf("status = %d, body %s", status, body)
	}
	if bytes.Contains(body, []byte("unionid")) {
		t.Errorf("answer %s has a unionid; WeChat sent none", body)
	}
}

func TestLoginMalformedInput(t *testing.T) {
	big := `{"code":"` + strings.Repeat("a", handlers.MaxBodyBytes) + `"}`
	tests := []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"no content type", "", `{"code":"abc"}`, 415, "unsupported_media_type"},
		{"form", "application/x-www-form-urlencoded", `code=abc`, 415, "unsupported_media_type"},
		{"text", "text/plain", `{"code":"abc"}`, 415, "unsupported_media_type"},
		{"latin1", "application/json; charset=latin1", `{"code":"abc"}`, 415, "unsupported_media_type"},
		{"empty body", "application/json", ``, 400, "invalid_request"},
		{"not json", "application/json", `code=abc`, 400, "invalid_request"},
		{"truncated", "application/json", `{"code":"ab`, 400, "invalid_request"},
		{"null", "application/json", `null`, 400, "invalid_request"},
		{"array", "application/json", `["abc"]`, 400, "invalid_request"},
		{"string", "application/json", `"abc"`, 400, "invalid_request"},
		{"missing code", "application/json", `{}`, 400, "invalid_request"},
		{"empty code", "application/json", `{"code":""}`, 400, "invalid_request"},
		{"number code", "application/json", `{"code":123}`, 400, "invalid_request"},
		{"object code", "application/json", `{"code":{"a":1}}`, 400, "invalid_request"},
		{"unknown field", "application/json", `{"code":"abc","extra":1}`, 400, "invalid_request"},
		{"trailing object", "application/json", `{"code":"abc"}{"code":"def"}`, 400, "invalid_request"},
		{"trailing garbage", "application/json", `{"code":"abc"} x`, 400, "invalid_request"},
		{"code with space", "application/json", `{"code":"ab c"}`, 400, "invalid_request"},
		{"code with newline", "application/json", `{"code":"ab\nc"}`, 400, "invalid_request"},
		{"long code", "application/json", `{"code":"` + strings.Repeat("a", 300) + `"}`, 400, "invalid_request"},
		{"too large", "application/json", big, 413, "payload_too_large"},
	}
	ts := newTestServer(t, testOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := ts.do(t, "POST", "/v1/login", tt.contentType, tt.body)
			p := wantProblem(t, status, hdr, body, tt.status, tt.code)
			if strings.Contains(p.Detail, "abc") {
				t.Errorf("detail %q echoes the input", p.Detail)
			}
		})
	}
	if n := ts.wx.Calls("/sns/jscode2session"); n != 0 {
		t.Errorf("malformed requests made %d WeChat calls, want 0", n)
	}
	// A charset of utf-8 is fine.
	status, _, body := ts.do(t, "POST", "/v1/login", "application/json; charset=UTF-8", `{"code":"abc"}`)
	if status != 200 {
		t.Errorf("charset=UTF-8: status %d, body %s", status, body)
	}
}

func TestLoginUpstreamErrors(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	tests := []struct {
		name   string
		fault  wechattest.Fault
		status int
		code   string
	}{
		{"invalid code 40029", wechattest.ErrcodeFault(40029), 401, "invalid_code"},
		{"used code 40163", wechattest.ErrcodeFault(40163), 401, "invalid_code"},
		{"blocked 40226", wechattest.ErrcodeFault(40226), 403, "user_blocked"},
		{"rate limited 45011", wechattest.ErrcodeFault(45011), 429, "rate_limited"},
		{"busy -1", wechattest.ErrcodeFault(-1), 503, "upstream_unavailable"},
		{"bad appid 40013", wechattest.ErrcodeFault(40013), 502, "upstream_error"},
		{"bad secret 40125", wechattest.ErrcodeFault(40125), 502, "upstream_error"},
		{"other errcode", wechattest.ErrcodeFault(40999), 502, "upstream_error"},
		{"string errcode", wechattest.StatusFault(200, `{"errcode":"40029","errmsg":"invalid code"}`), 401, "invalid_code"},
		{"garbage", wechattest.StatusFault(200, `<html>oops</html>`), 502, "upstream_error"},
		{"HTTP 500", wechattest.StatusFault(500, `{"errcode":-1}`), 502, "upstream_error"},
		{"HTTP 503", wechattest.StatusFault(503, ``), 503, "upstream_unavailable"},
		{"hang", wechattest.HangFault(stop), 504, "upstream_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, testOptions{timeout: 300 * time.Millisecond})
			ts.wx.Inject(tt.fault)
			code := ts.wx.Code("dave")
			start := time.Now()
			status, hdr, body := ts.login(t, code)
			took := time.Since(start)
			p := wantProblem(t, status, hdr, body, tt.status, tt.code)
			if strings.Contains(string(body), code) || strings.Contains(string(body), secret) || strings.Contains(p.Detail, "injected") {
				t.Errorf("problem %s echoes the code, the secret or WeChat's errmsg", body)
			}
			if tt.code == "rate_limited" && hdr.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			if tt.code == "upstream_timeout" && took > 3*time.Second {
				t.Errorf("a hanging WeChat held the request %s; the deadline is 300ms", took)
			}
			if n := ts.wx.Calls("/sns/jscode2session"); n != 1 {
				t.Errorf("WeChat calls = %d, want exactly 1 (a code is never retried)", n)
			}
		})
	}
}

func TestLoginReusedCode(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	code := ts.wx.Code("erin")
	if status, _, body := ts.login(t, code); status != 200 {
		t.Fatalf("first login: %d %s", status, body)
	}
	status, hdr, body := ts.login(t, code)
	wantProblem(t, status, hdr, body, 401, "invalid_code")
}

func TestMisconfiguredLogsLoudly(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	ts.wx.Inject(wechattest.ErrcodeFault(40125))
	status, hdr, body := ts.login(t, "abc")
	wantProblem(t, status, hdr, body, 502, "upstream_error")
	if !strings.Contains(ts.logs.String(), `"level":"ERROR"`) || !strings.Contains(ts.logs.String(), "WXLOGIN_SECRET") {
		t.Errorf("no error log names the misconfiguration; logs:\n%s", ts.logs)
	}
}

func TestSession(t *testing.T) {
	ts := newTestServer(t, testOptions{fake: wechattest.Options{UnionID: true}})
	_, _, body := ts.login(t, ts.wx.Code("frank"))
	var lr struct{ Token, OpenID string }
	json.Unmarshal(body, &lr)

	status, hdr, body := ts.do(t, "GET", "/v1/session", "", "", "Authorization", "Bearer "+lr.Token)
	if status != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q, body %s", status, hdr.Get("Content-Type"), body)
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	exp, err := time.Parse(time.RFC3339, got["expires_at"])
	if err != nil {
		t.Errorf("expires_at %q is not RFC 3339: %v", got["expires_at"], err)
	}
	if d := time.Until(exp); d < 119*time.Minute || d > 121*time.Minute {
		t.Errorf("expires_at is %s away, want 2h", d)
	}
	if got["openid"] != ts.wx.OpenID("frank") || got["unionid"] != ts.wx.UnionID("frank") || got["appid"] != appID {
		t.Errorf("session = %v", got)
	}
	if _, leaked := got["sk"]; leaked {
		t.Error("session answer carries sk")
	}

	// Lower-case scheme is accepted, as RFC 7235 makes schemes case-insensitive.
	if status, _, _ := ts.do(t, "GET", "/v1/session", "", "", "Authorization", "bearer "+lr.Token); status != 200 {
		t.Errorf("lower-case bearer: status %d", status)
	}
}

func TestSessionRejects(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	_, _, body := ts.login(t, ts.wx.Code("gina"))
	var lr struct{ Token string }
	json.Unmarshal(body, &lr)
	tampered := lr.Token[:len(lr.Token)-4] + "AAAA"

	tests := []struct {
		name, header string
		wantError    bool // WWW-Authenticate carries error="invalid_token"
	}{
		{"no header", "", false},
		{"basic", "Basic dXNlcjpwYXNz", true},
		{"empty bearer", "Bearer ", true},
		{"garbage", "Bearer not-a-token", true},
		{"tampered signature", "Bearer " + tampered, true},
		{"two dots", "Bearer a.b.c", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.header != "" {
				hdr = []string{"Authorization", tt.header}
			}
			status, h, body := ts.do(t, "GET", "/v1/session", "", "", hdr...)
			wantProblem(t, status, h, body, 401, "invalid_token")
			www := h.Get("WWW-Authenticate")
			if !strings.HasPrefix(www, "Bearer") || strings.Contains(www, `error="invalid_token"`) != tt.wantError {
				t.Errorf("WWW-Authenticate = %q", www)
			}
			if len(tt.header) > 10 && strings.Contains(string(body), tt.header[7:]) {
				t.Error("the problem echoes the token")
			}
		})
	}
}

func TestRouterProblems(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	status, hdr, body := ts.do(t, "GET", "/nope", "", "")
	wantProblem(t, status, hdr, body, 404, "not_found")
	status, hdr, body = ts.do(t, "GET", "/v1/login", "", "")
	wantProblem(t, status, hdr, body, 405, "method_not_allowed")
	if allow := hdr.Get("Allow"); allow != "POST" {
		t.Errorf("Allow = %q, want POST", allow)
	}
	status, hdr, body = ts.do(t, "DELETE", "/v1/session", "", "")
	wantProblem(t, status, hdr, body, 405, "method_not_allowed")
}

func TestWellKnown(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	status, hdr, body := ts.do(t, "GET", "/.well-known/jwks.json", "", "")
	if status != 200 || hdr.Get("Content-Type") != "application/json" || hdr.Get("Cache-Control") == "" {
		t.Fatalf("jwks: %d %v", status, hdr)
	}
	var set token.JWKS
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks = %s (%v)", body, err)
	}
	k := set.Keys[0]
	if k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" || k.Use != "sig" || k.KID != ts.issuer.Key().KID || k.X == "" || k.Y == "" {
		t.Errorf("jwk = %+v", k)
	}
	if bytes.Contains(body, []byte(`"d"`)) {
		t.Error("the JWKS publishes a private key member")
	}

	status, _, body = ts.do(t, "GET", "/.well-known/openid-configuration", "", "")
	var d map[string]any
	if err := json.Unmarshal(body, &d); status != 200 || err != nil {
		t.Fatalf("discovery: %d %s", status, body)
	}
	if d["issuer"] != issuer || d["jwks_uri"] != issuer+"/.well-known/jwks.json" {
		t.Errorf("discovery = %v", d)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	for _, p := range []string{"/healthz", "/readyz"} {
		if status, _, body := ts.do(t, "GET", p, "", ""); status != 200 {
			t.Errorf("%s = %d %s", p, status, body)
		}
	}
	ts.ready.Drain()
	if status, _, _ := ts.do(t, "GET", "/readyz", "", ""); status != 503 {
		t.Errorf("/readyz while draining = %d, want 503", status)
	}
	if status, _, _ := ts.do(t, "GET", "/healthz", "", ""); status != 200 {
		t.Errorf("/healthz while draining = %d, want 200", status)
	}
}

// While draining, every answer closes its connection, so that proxies
// stop reusing connections the shutdown is about to close; before, they
// are kept alive.
func TestDrainClosesConnections(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	var conns []string
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { conns = append(conns, i.Conn.LocalAddr().String()) }}
	get := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", ts.URL+"/healthz", nil)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for range 2 {
		if resp := get(); resp.Close {
			t.Fatal("answer before draining closes the connection")
		}
	}
	ts.ready.Drain()
	for range 2 {
		if resp := get(); !resp.Close || resp.StatusCode != 200 {
			t.Errorf("while draining: status %d, Connection: close %v; want 200 and close", resp.StatusCode, resp.Close)
		}
	}
	if len(conns) != 4 || conns[0] != conns[1] || conns[1] != conns[2] || conns[2] == conns[3] {
		t.Errorf("connections used %v; want one kept alive until the first answer while draining, then a new one", conns)
	}
}

type panicky struct{}

func (panicky) Code2Session(context.Context, string) (wechat.Session, error) { panic("boom") }

func TestPanicIsProblemAndServerKeepsServing(t *testing.T) {
	ts := newTestServer(t, testOptions{wechat: panicky{}})
	status, hdr, body := ts.login(t, "abc")
	p := wantProblem(t, status, hdr, body, 500, "internal_error")
	if p.RequestID == "" || !strings.Contains(ts.logs.waitFor(t, "panicked"), p.RequestID) || !strings.Contains(ts.logs.String(), "panicked") {
		t.Errorf("panic not logged with request id %q; logs:\n%s", p.RequestID, ts.logs)
	}
	if status, _, _ := ts.do(t, "GET", "/healthz", "", ""); status != 200 {
		t.Errorf("after a panic /healthz = %d", status)
	}
}

func TestRequestLogLine(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	code := ts.wx.Code("hank")
	ts.do(t, "POST", "/v1/login?code="+code, "application/json", `{"code":"`+code+`"}`)
	logs := ts.logs.waitFor(t, `"route":"/v1/login"`)
	for _, want := range []string{`"route":"/v1/login"`, `"status":200`, `"outcome":"ok"`, `"request_id":`, `"duration_ms":`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, code) {
		t.Error("the log holds the login code")
	}
}
