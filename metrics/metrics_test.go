package metrics_test

import (
	"io"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/metrics"
	"github.com/wxlogin/wxlogin/token"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetricsExposition(t *testing.T) {
	m := metrics.New("v1.2.3", labels)
	m.Login("ok")
	m.Login("invalid_code")
	m.TokenIssued()
	m.TokenRejected("expired")
	m.WeChatCall("/sns/jscode2session", "ok", 120*time.Millisecond)
	m.WeChatCall("/sns/jscode2session", "errcode_40125", 80*time.Millisecond)
	m.Request("/v1/login", 200, 130*time.Millisecond)
	m.CodeDuplicate("replayed")

	out := scrape(t, m)
	for _, want := range []string{
		`wxlogin_logins_total{outcome="ok"} 1`,
		`wxlogin_logins_total{outcome="invalid_code"} 1`,
		`wxlogin_logins_total{outcome="upstream_timeout"} 0`, // exported at zero
		`wxlogin_tokens_issued_total 1`,
		`wxlogin_token_verification_failures_total{reason="expired"} 1`,
		`wxlogin_token_verification_failures_total{reason="signature"} 0`,
		`wxlogin_wechat_requests_total{api="/sns/jscode2session",result="ok"} 1`,
		`wxlogin_wechat_requests_total{api="/sns/jscode2session",result="errcode_40125"} 1`,
		`wxlogin_wechat_request_duration_seconds_bucket{api="/sns/jscode2session",le="0.1"} 1`,
		`wxlogin_wechat_request_duration_seconds_count{api="/sns/jscode2session"} 2`,
		`wxlogin_http_requests_total{code="200",route="/v1/login"} 1`,
		`wxlogin_http_request_duration_seconds_count{route="/v1/login"} 1`,
		`wxlogin_login_code_duplicates_total{kind="replayed"} 1`,
		`wxlogin_build_info{goversion="` + runtime.Version() + `",version="v1.2.3"} 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

// Two servers in one process each have their own registry, and the
// global default registry is untouched.
func TestMetricsHaveOwnRegistry(t *testing.T) {
	a, b := metrics.New("a", labels), metrics.New("b", labels)
	a.TokenIssued()
	if out := scrape(t, b); !strings.Contains(out, "wxlogin_tokens_issued_total 0") {
		t.Error("a token issued by one server shows in the other's metrics")
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "wxlogin_") {
			t.Errorf("%s is on the global default registry", mf.GetName())
		}
	}
}

// WeChat's errcodes come from outside: however many distinct ones it
// sends, the number of series stays bounded.
func TestMetricsLabelCardinalityBounded(t *testing.T) {
	m := metrics.New("x", labels)
	for i := range 1000 {
		m.WeChatCall("/sns/jscode2session", "errcode_"+strconv.Itoa(50000+i), time.Millisecond)
	}
	out := scrape(t, m)
	if n := strings.Count(out, "wxlogin_wechat_requests_total{"); n > 64 {
		t.Errorf("%d series for 1000 distinct errcodes, want at most 64", n)
	}
	if !strings.Contains(out, `result="other"`) {
		t.Error(`overflowing results are not counted as "other"`)
	}
}

// labels are the label values wxlogin knows in advance, from their source
// tables.
var labels = metrics.Labels{LoginOutcomes: handlers.Outcomes(), TokenFailureReasons: token.Reasons()}

// Each app's logins and WeChat calls are counted apart, with the app
// label bounded by the AppIDs served.
func TestMetricsByApp(t *testing.T) {
	m := metrics.New("x", metrics.Labels{LoginOutcomes: []string{"ok", "invalid_code", "unknown_app"}, Apps: []string{"wxshop", "wxgame"}})
	m.AppLogin("wxshop", "ok")
	m.AppLogin("wxshop", "ok")
	m.AppLogin("wxgame", "invalid_code")
	m.AppLogin("", "unknown_app")
	shop, game := m.WeChatObserver("wxshop"), m.WeChatObserver("wxgame")
	shop("/sns/jscode2session", "ok", time.Millisecond)
	game("/sns/jscode2session", "errcode_40125", time.Millisecond)
	game("/cgi-bin/stable_token", "ok", time.Millisecond)
	for i := range 100 { // AppIDs nobody configured never become labels
		m.AppLogin("wxforged"+strconv.Itoa(i), "unknown_app")
		m.WeChatObserver("wxforged"+strconv.Itoa(i))("/sns/jscode2session", "ok", time.Millisecond)
	}
	out := scrape(t, m)
	for _, want := range []string{
		`wxlogin_app_logins_total{app="wxshop",outcome="ok"} 2`,
		`wxlogin_app_logins_total{app="wxgame",outcome="invalid_code"} 1`,
		`wxlogin_app_logins_total{app="wxgame",outcome="ok"} 0`, // exported at zero
		`wxlogin_app_logins_total{app="unknown",outcome="unknown_app"} 101`,
		`wxlogin_app_wechat_requests_total{api="/sns/jscode2session",app="wxshop",result="ok"} 1`,
		`wxlogin_app_wechat_requests_total{api="/sns/jscode2session",app="wxgame",result="errcode_40125"} 1`,
		`wxlogin_app_wechat_requests_total{api="/cgi-bin/stable_token",app="wxgame",result="ok"} 1`,
		`wxlogin_app_wechat_requests_total{api="/sns/jscode2session",app="unknown",result="ok"} 100`,
		// The totals count every app's calls.
		`wxlogin_wechat_requests_total{api="/sns/jscode2session",result="ok"} 101`,
		`wxlogin_wechat_requests_total{api="/sns/jscode2session",result="errcode_40125"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, "wxforged") {
		t.Error("an AppID that is not served became a label value")
	}
}
