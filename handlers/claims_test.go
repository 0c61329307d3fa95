package handlers_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/claims/claimstest"
	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// hookOptions configure the API in front of a claims hook.
type hookOptions struct {
	url          string        // the hook's URL; the test hook's when empty
	timeout      time.Duration // of one hook call; 2s when zero
	phoneInToken bool
	reuse        bool // put the resend cache in front of WeChat
	fake         wechattest.Options
}

// newHookEnv is the real API with a claims.Client calling a test hook.
func newHookEnv(t *testing.T, o hookOptions) (*odEnv, *claimstest.Server) {
	t.Helper()
	hook := claimstest.NewServer()
	t.Cleanup(hook.Close)
	recordBytes("claims secret", hook.Key())
	url := o.url
	if url == "" {
		url = hook.URL
	}
	client, err := claims.NewClient(claims.Config{URL: url, Key: hook.Key(), Timeout: o.timeout})
	if err != nil {
		t.Fatal(err)
	}
	e := newODEnv(t, odOptions{fake: o.fake, deps: func(d *handlers.Deps) {
		d.Claims, d.PhoneInToken = client, o.phoneInToken
		// The test client plays a tracing proxy, whose X-Request-Id the
		// server believes and passes on to the hook.
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		if o.reuse {
			d.Apps[0].WeChat = wechat.NewCodeDedup(d.Apps[0].WeChat, wechat.CodeDedupConfig{AppID: d.Apps[0].AppID, Window: time.Minute})
		}
	}})
	return e, hook
}

// login posts a login for user's code, with a request id of ours.
func (e *odEnv) hookLogin(t *testing.T, code, requestID string) (int, http.Header, []byte) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"code": code})
	req, _ := http.NewRequest("POST", e.URL+"/v1/login", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if requestID != "" {
		req.Header.Set("X-Request-Id", requestID)
	}
	resp, err := e.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body json.RawMessage
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header, body
}

func tokenOf(t *testing.T, status int, body []byte) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	if status != 200 || json.Unmarshal(body, &out) != nil || out.Token == "" {
		t.Fatalf("got %d %s, want 200 with a token", status, body)
	}
	return out.Token
}

// wantOneCall returns the hook's only call, checked: its signature
// verified by the test with the hook's key, as a real hook would.
func wantOneCall(t *testing.T, hook *claimstest.Server, n int) claimstest.Call {
	t.Helper()
	calls := hook.Calls()
	if len(calls) != n {
		t.Fatalf("the hook was called %d times, want %d", len(calls), n)
	}
	c := calls[n-1]
	if c.Err != nil {
		t.Fatalf("the hook refused wxlogin's request: %v", c.Err)
	}
	req, err := claims.ConstructEvent(c.Body, c.Header.Get(claims.SignatureHeader), hook.Key())
	if err != nil || !reflect.DeepEqual(req, c.Request) {
		t.Fatalf("the test's own check of the signature: %v (%+v)", err, req)
	}
	if ct := c.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return c
}

// The hook is called with a signed request naming the user, and its sub
// and claims go into the token and /v1/session; the session_key, the
// code and the token never reach it.
func TestClaimsHookLogin(t *testing.T) {
	e, hook := newHookEnv(t, hookOptions{fake: wechattest.Options{UnionID: true}})
	hasura := map[string]any{"x-hasura-allowed-roles": []any{"member"}, "x-hasura-default-role": "member", "x-hasura-user-id": "10042"}
	hook.Answer(claims.Answer{Sub: "10042", Claims: map[string]any{
		"roles": []any{"member", "admin"}, "https://hasura.io/jwt/claims": hasura, "role": "web_user",
	}})

	code := e.wx.Code("grace")
	status, _, body := e.hookLogin(t, code, "trace-0123456789")
	tok := tokenOf(t, status, body)
	c := wantOneCall(t, hook, 1)
	openid := e.wx.OpenID("grace")
	want := claims.Request{Event: claims.EventLogin, AppID: e.appID, OpenID: openid, UnionID: e.wx.UnionID("grace")}
	if !reflect.DeepEqual(c.Request, want) {
		t.Errorf("the hook got %+v, want %+v", c.Request, want)
	}
	if id := c.Header.Get("X-Request-Id"); id != "trace-0123456789" {
		t.Errorf("X-Request-Id %q, want the login's request id", id)
	}
	sent := string(c.Body) + fmt.Sprint(c.Header)
	for what, secret := range map[string]string{"session_key": e.wx.SessionKey(openid), "code": code, "token": tok} {
		if strings.Contains(sent, secret) {
			t.Errorf("the hook's request holds the %s", what)
		}
	}
	var members map[string]any
	json.Unmarshal(c.Body, &members)
	for name := range members {
		if name != "event" && name != "appid" && name != "openid" && name != "unionid" {
			t.Errorf("the login request holds %q", name)
		}
	}

	claimsOf, err := e.ver.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if claimsOf.Subject != "10042" || claimsOf.OpenID() != openid || claimsOf.OpenIDClaim != openid {
		t.Errorf("token sub %q openid %q, want the hook's sub and the openid claim", claimsOf.Subject, claimsOf.OpenIDClaim)
	}
	if r, _ := claimsOf.Get("role"); r != "web_user" {
		t.Errorf("token role %v", r)
	}
	status, _, body = e.call(t, "GET", "/v1/session", tok, nil)
	var session map[string]any
	if status != 200 || json.Unmarshal(body, &session) != nil {
		t.Fatalf("session: %d %s", status, body)
	}
	wantClaims := map[string]any{"roles": []any{"member", "admin"}, "https://hasura.io/jwt/claims": hasura, "role": "web_user"}
	if session["sub"] != "10042" || session["openid"] != openid || !reflect.DeepEqual(session["claims"], wantClaims) {
		t.Errorf("session %s: want sub 10042, the openid and the hook's claims", body)
	}
	// The session key is still the user's.
	if sk, err := e.iss.OpenSessionKey(claimsOf); err != nil || sk != e.wx.SessionKey(openid) {
		t.Errorf("sk opens to the wrong session key (%v)", err)
	}
}

// Without an answer's sub and claims the token is as without a hook.
func TestClaimsHookEmptyAnswer(t *testing.T) {
	e, hook := newHookEnv(t, hookOptions{})
	status, _, body := e.hookLogin(t, e.wx.Code("hana"), "")
	tok := tokenOf(t, status, body)
	wantOneCall(t, hook, 1)
	c, _ := e.ver.Verify(tok)
	if c == nil || c.Subject != e.wx.OpenID("hana") || c.OpenIDClaim != "" || c.Extra != nil {
		t.Errorf("claims %+v, want the plain token", c)
	}
	_, _, body = e.call(t, "GET", "/v1/session", tok, nil)
	if strings.Contains(string(body), `"claims"`) {
		t.Errorf("session %s shows claims the hook did not give", body)
	}
}

// Every answer that breaks a rule fails the login with upstream_error and
// a loud log line naming the rule, never the answer's values.
func TestClaimsHookBadAnswers(t *testing.T) {
	type badAnswer struct {
		name     string
		body     string
		rule     claims.Rule
		ruleName string
	}
	var tests []badAnswer
	for _, name := range claims.Reserved() {
		tests = append(tests, badAnswer{"reserved " + name, fmt.Sprintf(`{"claims":{%q:"VALUE-SECRET-1"}}`, name), claims.RuleReserved, name})
	}
	// A reserved name in another case (or another spelling under Unicode
	// case folding) is refused too: a verifier built on encoding/json
	// would read it as the reserved claim.
	for _, tc := range []struct{ name, reserved string }{
		{"appId", "appid"}, {"Exp", "exp"}, {"\u017fub", "sub"}, {"s\u212a", "sk"},
	} {
		tests = append(tests, badAnswer{"reserved in another case " + tc.name, fmt.Sprintf(`{"claims":{%q:"VALUE-SECRET-1"}}`, tc.name), claims.RuleReserved, tc.reserved})
	}
	tests = append(tests, badAnswer{"the review's answer",
		`{"claims":{"appId":"wxOTHER-VALUE-SECRET","openId":"victim-VALUE-SECRET","Exp":4102444800,"SUB":"admin-VALUE-SECRET"}}`, claims.RuleReserved, "sub"})
	// Claims of exactly 4 KiB pass (below); one byte more does not.
	pad := strings.Repeat("x", claims.MaxClaimsSize-len(`{"pad":"VALUE-SECRET-1"}`)+1)
	tests = append(tests,
		badAnswer{"4 KiB + 1 of claims", `{"claims":{"pad":"VALUE-SECRET-1` + pad + `"}}`, claims.RuleClaimsSize, ""},
		badAnswer{"not JSON", `<html>VALUE-SECRET-1</html>`, claims.RuleJSON, ""},
		badAnswer{"claims not an object", `{"claims":["VALUE-SECRET-1"]}`, claims.RuleClaimsType, ""},
		badAnswer{"sub not a string", `{"sub":42,"claims":{"a":"VALUE-SECRET-1"}}`, claims.RuleSub, ""},
		badAnswer{"sub too long", `{"sub":"VALUE-SECRET-1` + strings.Repeat("s", 256) + `"}`, claims.RuleSub, ""},
		badAnswer{"unknown member", `{"sub":"VALUE-SECRET-1","role":"admin"}`, claims.RuleMember, "role"},
	)
	e, hook := newHookEnv(t, hookOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook.Respond(200, "application/json", tt.body)
			before := len(e.logs.String())
			status, hdr, body := e.hookLogin(t, e.wx.Code("ivan"), "")
			p := odProblem(t, status, hdr, body, 502, handlers.CodeUpstreamError)
			if !strings.Contains(p.Detail, "claims hook") || strings.Contains(string(body), "VALUE-SECRET") {
				t.Errorf("problem %s: want a detail naming the hook, never the answer", body)
			}
			logs := e.logs.String()[before:]
			var line map[string]any
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, "CLAIMS HOOK BROKEN") {
					json.Unmarshal([]byte(l), &line)
				}
			}
			if line["level"] != "ERROR" || line["rule"] != string(tt.rule) || !strings.Contains(line["msg"].(string), string(tt.rule)) {
				t.Errorf("log %s: want an error line naming the rule %s", logs, tt.rule)
			}
			if tt.ruleName != "" && line["name"] != tt.ruleName {
				t.Errorf("log line names %v, want %s", line["name"], tt.ruleName)
			}
			if strings.Contains(logs, "VALUE-SECRET") {
				t.Errorf("the logs hold the answer's values: %s", logs)
			}
		})
	}
	t.Run("exactly 4 KiB of claims", func(t *testing.T) {
		hook.Respond(200, "application/json", `{"claims":{"pad":"VALUE-SECRET-1`+pad[1:]+`"}}`)
		status, _, body := e.hookLogin(t, e.wx.Code("ivan"), "")
		c, err := e.ver.Verify(tokenOf(t, status, body))
		if err != nil || len(c.Extra["pad"].(string)) != claims.MaxClaimsSize-len(`{"pad":""}`) {
			t.Errorf("the largest claims allowed: %v", err)
		}
	})
}

func TestClaimsHookDenied(t *testing.T) {
	e, hook := newHookEnv(t, hookOptions{})
	for _, tt := range []struct{ detail, want string }{
		{"this account is blocked; write to support@example.com", "this account is blocked; write to support@example.com"},
		{"", "refused the login"},
	} {
		hook.Deny(tt.detail)
		status, hdr, body := e.hookLogin(t, e.wx.Code("judy"), "")
		p := odProblem(t, status, hdr, body, 403, handlers.CodeLoginDenied)
		if !strings.Contains(p.Detail, tt.want) {
			t.Errorf("detail %q, want %q", p.Detail, tt.want)
		}
	}
}

// A hook that fails, is not there, or hangs fails the login with the
// contract's code; a hung call ends at the deadline and leaves nothing
// running.
func TestClaimsHookFailures(t *testing.T) {
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		return "http://" + ln.Addr().String() + "/claims"
	}
	tests := []struct {
		name    string
		setup   func(*claimstest.Server)
		refused bool
		status  int
		code    string
	}{
		{name: "HTTP 500", setup: func(h *claimstest.Server) { h.Respond(500, "text/plain", "oops") }, status: 502, code: handlers.CodeUpstreamError},
		{name: "HTTP 503", setup: func(h *claimstest.Server) { h.Respond(503, "", "") }, status: 502, code: handlers.CodeUpstreamError},
		{name: "a redirect", setup: func(h *claimstest.Server) { h.Respond(307, "", "") }, status: 502, code: handlers.CodeUpstreamError},
		{name: "connection refused", refused: true, status: 503, code: handlers.CodeUpstreamUnavailable},
		{name: "hangs", setup: func(h *claimstest.Server) { h.Hang() }, status: 504, code: handlers.CodeUpstreamTimeout},
	}
	for _, tt := range tests {
		before := runtime.NumGoroutine()
		t.Run(tt.name, func(t *testing.T) {
			o := hookOptions{timeout: 300 * time.Millisecond}
			if tt.refused {
				o.url = refused(t)
			}
			e, hook := newHookEnv(t, o)
			if tt.setup != nil {
				tt.setup(hook)
			}
			start := time.Now()
			status, hdr, body := e.hookLogin(t, e.wx.Code("ken"), "")
			odProblem(t, status, hdr, body, tt.status, tt.code)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("answered after %s; the hook's deadline is 300ms", took)
			}
			if !tt.refused {
				wantOneCall(t, hook, 1) // never retried
			}
			e.Close()
			hook.Close()
		})
		if !settle(func() bool { return runtime.NumGoroutine() <= before }) {
			buf := make([]byte, 1<<16)
			t.Errorf("%s: %d goroutines after, %d before:\n%s", tt.name, runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
	}
}

// A hung hook call is cut at its deadline: the hook sees wxlogin hang up
// while it still holds the request.
func TestClaimsHookHangIsCut(t *testing.T) {
	e, hook := newHookEnv(t, hookOptions{timeout: 200 * time.Millisecond})
	hungUp := make(chan struct{})
	hook.Reply(func(w http.ResponseWriter, r *http.Request, req claims.Request) {
		<-r.Context().Done() // held until wxlogin gives up on it
		close(hungUp)
	})
	status, hdr, body := e.hookLogin(t, e.wx.Code("liam"), "")
	odProblem(t, status, hdr, body, 504, handlers.CodeUpstreamTimeout)
	select {
	case <-hungUp:
	case <-time.After(5 * time.Second):
		t.Fatal("wxlogin answered, but its call to the hook is still open")
	}
}

// A resent code within the reuse window is answered without WeChat, and
// the hook is asked again: its answer may have changed.
func TestClaimsHookResentCode(t *testing.T) {
	e, hook := newHookEnv(t, hookOptions{reuse: true})
	var n atomic.Int32
	hook.AnswerFunc(func(r claims.Request) claims.Answer {
		return claims.Answer{Sub: "user-7", Claims: map[string]any{"call": n.Add(1)}}
	})
	code := e.wx.Code("mona")
	var calls []any
	for range 2 {
		status, _, body := e.hookLogin(t, code, "")
		c, err := e.ver.Verify(tokenOf(t, status, body))
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c.Extra["call"])
	}
	if got := e.wx.Calls("/sns/jscode2session"); got != 1 {
		t.Errorf("WeChat was asked %d times, want once", got)
	}
	wantOneCall(t, hook, 2)
	if calls[0] != json.Number("1") || calls[1] != json.Number("2") {
		t.Errorf("the tokens carry the answers %v, want the first and the second", calls)
	}
}

// A phone exchange with a hook: the hook gets the number and the current
// token's sub and claims, and its answer shapes the fresh token.
func TestClaimsHookPhone(t *testing.T) {
	for _, inToken := range []bool{false, true} {
		t.Run(fmt.Sprintf("PHONE_IN_TOKEN=%v", inToken), func(t *testing.T) {
			e, hook := newHookEnv(t, hookOptions{phoneInToken: inToken, fake: wechattest.Options{UnionID: true}})
			hook.AnswerFunc(func(r claims.Request) claims.Answer {
				if r.Event == claims.EventPhone {
					return claims.Answer{Sub: "member-9", Claims: map[string]any{"roles": []any{"member"}}}
				}
				return claims.Answer{Sub: "visitor-1", Claims: map[string]any{"roles": []any{"visitor"}}}
			})
			status, _, body := e.hookLogin(t, e.wx.Code("nora"), "")
			tok := tokenOf(t, status, body)
			phoneCode := e.wx.PhoneCode("86", "13800138000")
			status, _, body = e.phone(t, tok, phoneCode)
			fresh := tokenOf(t, status, body)

			c := wantOneCall(t, hook, 2)
			openid := e.wx.OpenID("nora")
			want := claims.Request{Event: claims.EventPhone, AppID: e.appID, OpenID: openid, UnionID: e.wx.UnionID("nora"),
				PhoneNumber: "+8613800138000", Sub: "visitor-1", Claims: map[string]any{"roles": []any{"visitor"}}}
			if !reflect.DeepEqual(c.Request, want) {
				t.Errorf("the phone event is %+v, want %+v", c.Request, want)
			}
			for what, secret := range map[string]string{"session_key": e.wx.SessionKey(openid), "phone code": phoneCode, "token": tok} {
				if strings.Contains(string(c.Body)+fmt.Sprint(c.Header), secret) {
					t.Errorf("the phone event holds the %s", what)
				}
			}

			fc, err := e.ver.Verify(fresh)
			if err != nil {
				t.Fatal(err)
			}
			if fc.Subject != "member-9" || fc.OpenID() != openid || !reflect.DeepEqual(fc.Extra, map[string]any{"roles": []any{"member"}}) {
				t.Errorf("fresh token %+v, want the hook's phone answer", fc)
			}
			if sk, err := e.iss.OpenSessionKey(fc); err != nil || sk != e.wx.SessionKey(openid) {
				t.Errorf("the fresh token's sk: %v; want the same session_key", err)
			}
			wantPhone := ""
			if inToken {
				wantPhone = "+8613800138000"
			}
			if fc.PhoneNumber != wantPhone || fc.PhoneNumberVerified != inToken {
				t.Errorf("fresh token phone_number %q verified %v, want %q %v", fc.PhoneNumber, fc.PhoneNumberVerified, wantPhone, inToken)
			}
		})
	}
}

func TestClaimsHookPhoneDenied(t *testing.T) {
	e, hook := newHookEnv(t, hookOptions{})
	status, _, body := e.hookLogin(t, e.wx.Code("olga"), "")
	tok := tokenOf(t, status, body)
	hook.Deny("this number belongs to a closed account")
	status, hdr, body := e.phone(t, tok, e.wx.PhoneCode("86", "13900139000"))
	p := odProblem(t, status, hdr, body, 403, handlers.CodeLoginDenied)
	if p.Detail != "this number belongs to a closed account" {
		t.Errorf("detail %q", p.Detail)
	}
}

// Without a hook, WXLOGIN_PHONE_IN_TOKEN puts the number into the fresh
// token of the same user.
func TestPhoneInToken(t *testing.T) {
	e := newODEnv(t, odOptions{deps: func(d *handlers.Deps) { d.PhoneInToken = true }})
	tok, _ := e.loginAs(t, "pia")
	status, _, body := e.phone(t, tok, e.wx.PhoneCode("1", "2025550123"))
	fresh := tokenOf(t, status, body)
	fc := e.wantSameUser(t, tok, fresh)
	if fc.PhoneNumber != "+12025550123" || !fc.PhoneNumberVerified {
		t.Errorf("fresh token phone_number %q verified %v, want +12025550123 true", fc.PhoneNumber, fc.PhoneNumberVerified)
	}
	status, _, body = e.call(t, "GET", "/v1/session", fresh, nil)
	if status != 200 || strings.Contains(string(body), "phone") {
		t.Errorf("session %d %s", status, body)
	}
}
