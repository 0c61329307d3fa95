package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

const (
	apiStableToken = "/cgi-bin/stable_token"
	apiPhone       = "/wxa/business/getuserphonenumber"
	apiCheck       = "/wxa/checksession"
)

// onPath applies fault to requests for path only.
func onPath(path string, fault wechattest.Fault) wechattest.Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		return r.URL.Path == path && fault(w, r)
	}
}

func (e *odEnv) phone(t *testing.T, bearer, code string) (int, http.Header, []byte) {
	t.Helper()
	return e.call(t, "POST", "/v1/phone", bearer, map[string]string{"code": code})
}

func TestPhone(t *testing.T) {
	e := newODEnv(t, odOptions{})
	tok, _ := e.loginAs(t, "dave")
	code := e.wx.PhoneCode("86", "13800138000")
	status, hdr, body := e.phone(t, tok, code)
	if status != 200 || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("got %d %v %s", status, hdr, body)
	}
	var got map[string]any
	json.Unmarshal(body, &got)
	want := map[string]any{"phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
		"token_type": "Bearer", "expires_in": float64(3600)}
	if len(got) != len(want)+1 {
		t.Errorf("answer %s, want exactly %v and a token", body, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// The fresh token is the same user's, with the same session_key, and
	// without WXLOGIN_PHONE_IN_TOKEN no phone number.
	fresh, _ := got["token"].(string)
	e.wantSameUser(t, tok, fresh)
	if c, _ := e.ver.Verify(fresh); c == nil || c.PhoneNumber != "" || c.PhoneNumberVerified {
		t.Errorf("fresh token claims %+v: want no phone number", c)
	}

	// The same code again: WeChat's 40029.
	status, hdr, body = e.phone(t, tok, code)
	p := odProblem(t, status, hdr, body, 401, handlers.CodeInvalidCode)
	if !strings.Contains(p.Detail, "phone-number") || strings.Contains(p.Detail, code) {
		t.Errorf("detail %q: want a phone-number hint, never the code", p.Detail)
	}
	if strings.Contains(e.logs.String(), code) {
		t.Error("the logs hold a phone code")
	}
}

// wantSameUser checks that fresh is a new token for the user of old: the
// same subject, openid, unionid and app, and the same session_key.
func (e *odEnv) wantSameUser(t *testing.T, old, fresh string) *token.Claims {
	t.Helper()
	oc, err := e.ver.Verify(old)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := e.ver.Verify(fresh)
	if err != nil {
		t.Fatalf("the fresh token does not verify: %v", err)
	}
	if fc.Subject != oc.Subject || fc.OpenID() != oc.OpenID() || fc.UnionID != oc.UnionID || fc.AppID != oc.AppID || fc.ID == oc.ID {
		t.Errorf("fresh token %+v, old %+v: want the same user in a new token", fc, oc)
	}
	osk, err1 := e.iss.OpenSessionKey(oc)
	fsk, err2 := e.iss.OpenSessionKey(fc)
	if err1 != nil || err2 != nil || osk != fsk {
		t.Errorf("session keys: fresh %v, old %v: want the same", err2, err1)
	}
	return fc
}

func TestPhoneRejects(t *testing.T) {
	e := newODEnv(t, odOptions{})
	tok, _ := e.loginAs(t, "erin")
	tests := []struct {
		name       string
		bearer     string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"unknown code", tok, map[string]string{"code": "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"}, 401, handlers.CodeInvalidCode},
		{"empty code", tok, map[string]string{"code": ""}, 400, handlers.CodeInvalidRequest},
		{"code with spaces", tok, map[string]string{"code": "a b"}, 400, handlers.CodeInvalidRequest},
		{"code too long", tok, map[string]string{"code": strings.Repeat("a", 300)}, 400, handlers.CodeInvalidRequest},
		{"unknown field", tok, map[string]string{"code": "abc", "openid": "x"}, 400, handlers.CodeInvalidRequest},
		{"no token", "", map[string]string{"code": "abc"}, 401, handlers.CodeInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.wx.Calls(apiPhone)
			status, hdr, body := e.call(t, "POST", "/v1/phone", tt.bearer, tt.body)
			odProblem(t, status, hdr, body, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == 400 && e.wx.Calls(apiPhone) != before {
				t.Error("a malformed request reached WeChat")
			}
		})
	}
}

func TestPhoneConcurrentExchangesShareOneAccessToken(t *testing.T) {
	e := newODEnv(t, odOptions{})
	tok, _ := e.loginAs(t, "frank")
	const n = 50
	codes := make([]string, n)
	for i := range codes {
		codes[i] = e.wx.PhoneCode("86", "1380013"+strings.Repeat("0", 4-len(itoa(i)))+itoa(i))
	}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	numbers := make([]string, n)
	for i := range n {
		wg.Go(func() {
			status, _, body := e.phone(t, tok, codes[i])
			var out struct {
				Pure string `json:"purePhoneNumber"`
			}
			json.Unmarshal(body, &out)
			statuses[i], numbers[i] = status, out.Pure
		})
	}
	wg.Wait()
	for i := range n {
		if want := "1380013" + strings.Repeat("0", 4-len(itoa(i))) + itoa(i); statuses[i] != 200 || numbers[i] != want {
			t.Errorf("exchange %d: %d %q, want 200 %q", i, statuses[i], numbers[i], want)
		}
	}
	if got := e.wx.Calls(apiStableToken); got != 1 {
		t.Errorf("%d concurrent exchanges fetched the access token %d times, want 1", n, got)
	}
	if got := e.wx.Calls(apiPhone); got != n {
		t.Errorf("getuserphonenumber calls = %d, want %d", got, n)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestPhoneRecoversFromInvalidatedAccessToken(t *testing.T) {
	e := newODEnv(t, odOptions{})
	tok, _ := e.loginAs(t, "grace")
	if status, _, body := e.phone(t, tok, e.wx.PhoneCode("86", "13800000001")); status != 200 {
		t.Fatalf("warm-up: %d %s", status, body)
	}

	// Another party force-refreshes: our cached token is dead.
	e.wx.InvalidateAccessToken()
	tokens0, phones0 := e.wx.Calls(apiStableToken), e.wx.Calls(apiPhone)
	status, _, body := e.phone(t, tok, e.wx.PhoneCode("86", "13800000002"))
	if status != 200 || !strings.Contains(string(body), "13800000002") {
		t.Fatalf("after invalidation: %d %s, want the number", status, body)
	}
	if got := e.wx.Calls(apiStableToken) - tokens0; got != 1 {
		t.Errorf("refetches = %d, want exactly 1", got)
	}
	if got := e.wx.Calls(apiPhone) - phones0; got != 2 {
		t.Errorf("getuserphonenumber calls = %d, want 2 (the refused one and one retry)", got)
	}

	// Many requests refused with the same dead token still cause one refetch.
	e.wx.InvalidateAccessToken()
	tokens0 = e.wx.Calls(apiStableToken)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if status, _, body := e.phone(t, tok, e.wx.PhoneCode("86", "1390000000"+itoa(i%10))); status != 200 {
				t.Errorf("concurrent after invalidation: %d %s", status, body)
			}
		})
	}
	wg.Wait()
	if got := e.wx.Calls(apiStableToken) - tokens0; got != 1 {
		t.Errorf("20 requests refused with one dead token caused %d refetches, want 1", got)
	}
}

func TestPhoneRetriesOnlyOnce(t *testing.T) {
	e := newODEnv(t, odOptions{})
	tok, _ := e.loginAs(t, "heidi")
	e.wx.Inject(onPath(apiPhone, wechattest.ErrcodeFault(40001))) // WeChat keeps refusing
	status, hdr, body := e.phone(t, tok, e.wx.PhoneCode("86", "13800000003"))
	odProblem(t, status, hdr, body, 502, handlers.CodeUpstreamError)
	if got := e.wx.Calls(apiStableToken); got != 2 {
		t.Errorf("stable_token calls = %d, want 2 (the first fetch and one refetch)", got)
	}
	if got := e.wx.Calls(apiPhone); got != 2 {
		t.Errorf("getuserphonenumber calls = %d, want 2 (one try, one retry)", got)
	}
}

func TestPhoneUpstreamFailures(t *testing.T) {
	tests := []struct {
		name       string
		warm       bool // fetch the access token before the fault
		fault      func(e *odEnv) wechattest.Fault
		wantStatus int
		wantCode   string
	}{
		{"busy on exchange", true, func(*odEnv) wechattest.Fault { return onPath(apiPhone, wechattest.ErrcodeFault(-1)) }, 503, handlers.CodeUpstreamUnavailable},
		{"busy on token fetch", false, func(*odEnv) wechattest.Fault { return wechattest.ErrcodeFault(-1) }, 503, handlers.CodeUpstreamUnavailable},
		{"rate limited", true, func(*odEnv) wechattest.Fault { return onPath(apiPhone, wechattest.ErrcodeFault(45011)) }, 429, handlers.CodeRateLimited},
		{"HTTP 503", true, func(*odEnv) wechattest.Fault { return onPath(apiPhone, wechattest.StatusFault(503, "")) }, 503, handlers.CodeUpstreamUnavailable},
		{"garbage", true, func(*odEnv) wechattest.Fault { return onPath(apiPhone, wechattest.StatusFault(200, "<html>")) }, 502, handlers.CodeUpstreamError},
		{"wrong secret", false, func(*odEnv) wechattest.Fault { return onPath(apiStableToken, wechattest.ErrcodeFault(40125)) }, 502, handlers.CodeUpstreamError},
		{"hangs on exchange", true, func(e *odEnv) wechattest.Fault { return onPath(apiPhone, wechattest.HangFault(make(chan struct{}))) }, 504, handlers.CodeUpstreamTimeout},
		{"hangs on token fetch", false, func(e *odEnv) wechattest.Fault { return wechattest.HangFault(make(chan struct{})) }, 504, handlers.CodeUpstreamTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newODEnv(t, odOptions{timeout: 300 * time.Millisecond})
			tok, _ := e.loginAs(t, "ivan")
			if tt.warm {
				if status, _, body := e.phone(t, tok, e.wx.PhoneCode("86", "13800000004")); status != 200 {
					t.Fatalf("warm-up: %d %s", status, body)
				}
			}
			e.wx.Inject(tt.fault(e))
			status, hdr, body := e.phone(t, tok, e.wx.PhoneCode("86", "13800000005"))
			odProblem(t, status, hdr, body, tt.wantStatus, tt.wantCode)
			if strings.Contains(e.logs.String(), odSecret) {
				t.Error("the logs hold the AppSecret")
			}
		})
	}
}

func (e *odEnv) check(t *testing.T, bearer string) (int, bool) {
	t.Helper()
	status, _, body := e.call(t, "POST", "/v1/session/check", bearer, nil)
	var out struct {
		Valid *bool `json:"valid"`
	}
	if status == 200 && (json.Unmarshal(body, &out) != nil || out.Valid == nil) {
		t.Fatalf("answer %s has no valid member", body)
	}
	return status, status == 200 && *out.Valid
}

func TestSessionCheck(t *testing.T) {
	e := newODEnv(t, odOptions{})
	first, openid := e.loginAs(t, "judy")
	if status, valid := e.check(t, first); status != 200 || !valid {
		t.Fatalf("fresh login: %d valid=%v, want 200 true", status, valid)
	}

	second, _ := e.loginAs(t, "judy") // a later wx.login replaces the session_key
	if status, valid := e.check(t, first); status != 200 || valid {
		t.Errorf("older token after a new login: %d valid=%v, want 200 false", status, valid)
	}
	if status, valid := e.check(t, second); status != 200 || !valid {
		t.Errorf("newest token: %d valid=%v, want 200 true", status, valid)
	}
	if got := e.wx.Calls(apiStableToken); got != 1 {
		t.Errorf("stable_token calls = %d, want 1 (cached)", got)
	}

	// A token whose sk does not open here (the session-key secret was
	// rotated) is not valid, and WeChat is not asked.
	rotated, err := newODIssuer(t, e.signer, odAppID).Issue(openid, "", e.wx.SessionKey(openid))
	if err != nil {
		t.Fatal(err)
	}
	calls := e.wx.Calls(apiCheck)
	if status, valid := e.check(t, rotated.Token); status != 200 || valid {
		t.Errorf("unopenable sk: %d valid=%v, want 200 false", status, valid)
	}
	if e.wx.Calls(apiCheck) != calls {
		t.Error("WeChat was asked about a session_key that could not be opened")
	}

	// The access token dies: one refetch and one retry, then the answer.
	e.wx.InvalidateAccessToken()
	if status, valid := e.check(t, second); status != 200 || !valid {
		t.Errorf("after invalidation: %d valid=%v, want 200 true", status, valid)
	}
	if got := e.wx.Calls(apiStableToken); got != 2 {
		t.Errorf("stable_token calls = %d, want 2", got)
	}

	status, hdr, body := e.call(t, "POST", "/v1/session/check", "", nil)
	odProblem(t, status, hdr, body, 401, handlers.CodeInvalidToken)

	e.wx.Inject(onPath(apiCheck, wechattest.ErrcodeFault(-1)))
	status, hdr, body = e.call(t, "POST", "/v1/session/check", second, nil)
	odProblem(t, status, hdr, body, 503, handlers.CodeUpstreamUnavailable)

	if strings.Contains(e.logs.String(), e.wx.SessionKey(openid)) {
		t.Error("the logs hold a session_key")
	}
}

func TestUserAPINotConfigured(t *testing.T) {
	e := newODEnv(t, odOptions{})
	tok, _ := e.loginAs(t, "kim")
	h, err := handlers.New(handlers.Deps{Issuer: odIssuer, Verifier: e.ver, Keys: []token.Key{e.iss.Key()},
		Apps: []handlers.App{{AppID: odAppID, Tokens: e.iss}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/session/check", "/v1/phone"} {
		req := httptest.NewRequest("POST", path, strings.NewReader(`{"code":"abc"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 500 || !strings.Contains(rec.Body.String(), handlers.CodeInternal) {
			t.Errorf("%s without UserAPI: %d %s, want 500 internal_error", path, rec.Code, rec.Body)
		}
	}
}
