package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/metrics"
)

// The hot-path methods count into cached children: repeated calls add up
// in the same series, and past the cache's bound every call is still
// counted, in its own series.
func TestMetricsCachedChildren(t *testing.T) {
	m := metrics.New("x")
	for range 3 {
		m.Request("/v1/login", 200, time.Millisecond)
		m.WeChatCall("/sns/jscode2session", "ok", time.Millisecond)
		m.Login("ok")
		m.Login("not_an_outcome")
		m.TokenRejected("expired")
		m.CodeDuplicate("in_flight")
	}
	for status := 100; status < 700; status++ { // more keys than the cache holds
		m.Request("/v1/session", status, time.Millisecond)
		m.Request("/v1/session", status, time.Millisecond)
	}
	out := scrape(t, m)
	for _, want := range []string{
		`wxlogin_http_requests_total{code="200",route="/v1/login"} 3`,
		`wxlogin_http_request_duration_seconds_count{route="/v1/login"} 3`,
		`wxlogin_wechat_requests_total{api="/sns/jscode2session",result="ok"} 3`,
		`wxlogin_logins_total{outcome="ok"} 3`,
		`wxlogin_logins_total{outcome="not_an_outcome"} 3`,
		`wxlogin_token_verification_failures_total{reason="expired"} 3`,
		`wxlogin_login_code_duplicates_total{kind="in_flight"} 3`,
		`wxlogin_http_requests_total{code="699",route="/v1/session"} 2`,
		`wxlogin_http_request_duration_seconds_count{route="/v1/session"} 1200`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if n := strings.Count(out, `wxlogin_http_requests_total{code=`); n != 601 {
		t.Errorf("%d request series, want 601", n)
	}
}
