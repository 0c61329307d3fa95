package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/metrics"
	"github.com/wxlogin/wxlogin/token"
)

// Repeated calls add up in the same series, and each of many label
// combinations is counted in its own series.
func TestMetricsSeriesAddUp(t *testing.T) {
	m := metrics.New("x", labels)
	for range 3 {
		m.Request("/v1/login", 200, time.Millisecond)
		m.WeChatCall("/sns/jscode2session", "ok", time.Millisecond)
		m.Login("ok")
		m.Login("not_an_outcome")
		m.TokenRejected("expired")
		m.CodeDuplicate("in_flight")
	}
	for status := 100; status < 700; status++ {
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

// Every outcome and refusal reason of the source tables is exported at
// zero from start-up: a new error code or reason needs no edit here.
func TestMetricsLabelsFromSourceTables(t *testing.T) {
	out := scrape(t, metrics.New("x", labels))
	for _, o := range handlers.Outcomes() {
		if want := `wxlogin_logins_total{outcome="` + o + `"} 0`; !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, r := range token.Reasons() {
		if want := `wxlogin_token_verification_failures_total{reason="` + r + `"} 0`; !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
