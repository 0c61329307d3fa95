package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/metrics"
	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// The metrics count what the server did, as GET /metrics shows them.
func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New("test-version", metrics.Labels{LoginOutcomes: handlers.Outcomes(), TokenFailureReasons: token.Reasons()})
	ts := newTestServer(t, testOptions{
		observe: m.WeChatCall,
		deps: func(d *handlers.Deps) {
			d.Metrics, d.MetricsHandler, d.RateLimit = m, m.Handler(), 3
			d.Apps[0].WeChat = wechat.NewCodeDedup(d.Apps[0].WeChat, wechat.CodeDedupConfig{Window: time.Minute, OnDuplicate: m.CodeDuplicate})
		},
	})
	code := ts.wx.Code("olga")
	a := ts.mustLogin(t, code)
	ts.mustLogin(t, code) // a resend, answered from memory
	ts.wx.Inject(wechattest.ErrcodeFault(40125))
	ts.login(t, ts.wx.Code("olga"))
	ts.wx.Inject(nil)
	ts.login(t, ts.wx.Code("olga")) // the fourth: over the limit of 3

	ts.do(t, "GET", "/v1/session", "", "", "Authorization", "Bearer "+a.Token)
	ts.do(t, "GET", "/v1/session", "", "")
	ts.do(t, "GET", "/v1/session", "", "", "Authorization", "Bearer "+a.Token[:len(a.Token)-4]+"AAAA")
	ts.do(t, "GET", "/v1/session", "", "", "Authorization", "Basic dXNlcjpwYXNz")

	// The request line is counted after the answer is sent: wait for it.
	ts.logs.waitFor(t, `"status":401,"duration_ms"`)
	var out string
	settle(func() bool {
		_, _, body := ts.do(t, "GET", "/metrics", "", "")
		out = string(body)
		return strings.Contains(out, `wxlogin_http_requests_total{code="401",route="/v1/session"} 3`)
	})
	for _, want := range []string{
		`wxlogin_logins_total{outcome="ok"} 2`,
		`wxlogin_logins_total{outcome="upstream_error"} 1`,
		`wxlogin_logins_total{outcome="rate_limited"} 1`,
		`wxlogin_tokens_issued_total 2`,
		`wxlogin_wechat_requests_total{api="/sns/jscode2session",result="ok"} 1`,
		`wxlogin_wechat_requests_total{api="/sns/jscode2session",result="errcode_40125"} 1`,
		`wxlogin_wechat_request_duration_seconds_count{api="/sns/jscode2session"} 2`,
		`wxlogin_login_code_duplicates_total{kind="replayed"} 1`,
		`wxlogin_token_verification_failures_total{reason="missing"} 1`,
		`wxlogin_token_verification_failures_total{reason="signature"} 1`,
		`wxlogin_token_verification_failures_total{reason="malformed"} 1`,
		`wxlogin_http_requests_total{code="200",route="/v1/session"} 1`,
		`wxlogin_http_requests_total{code="429",route="/v1/login"} 1`,
		`wxlogin_build_info{goversion="`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, secretValue := range []string{code, a.Token, secret, ts.wx.SessionKey(a.OpenID)} {
		if strings.Contains(out, secretValue) {
			t.Error("/metrics shows a secret")
		}
	}
}

func TestNoMetricsRouteWithoutHandler(t *testing.T) {
	ts := newTestServer(t, testOptions{})
	status, hdr, body := ts.do(t, "GET", "/metrics", "", "")
	wantProblem(t, status, hdr, body, 404, "not_found")
}
