// Package metrics holds wxlogin's Prometheus metrics. Every metric lives on
// a registry of its own, built by New, so nothing is registered in the
// client library's global default registry and two servers in one process
// (as in tests) never collide.
//
// The methods are the hooks the rest of the server reports through: the
// WeChat client's Observe (WeChatCall, or WeChatObserver for one app's
// client), the claims hook client's (ClaimsHookCall), the HTTP layer (Request, Login, AppLogin, TokenIssued,
// TokenRejected) and the login-code deduplication (CodeDuplicate). All
// are safe for concurrent use.
//
// A server of several mini programs shows each app's logins and WeChat
// calls apart in wxlogin_app_logins_total and
// wxlogin_app_wechat_requests_total, whose app label takes only the
// AppIDs of Labels.Apps and "unknown". The totals keep their labels, so
// single-app dashboards and alerts stand.
//
// The label values known in advance come from their source tables, given
// to New (the HTTP layer's error codes, token.Reasons), and are exported
// at zero from start-up, so that rate() and alerts work before the first
// failure.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxLabelValues bounds how many distinct values a label fed by the outside
// world (WeChat's errcodes, error codes) may take; further values are
// counted as "other", so a misbehaving upstream cannot blow up the number
// of series.
const maxLabelValues = 64

// Metrics is wxlogin's set of metrics on its own registry.
type Metrics struct {
	reg *prometheus.Registry

	logins         *prometheus.CounterVec
	wechatRequests *prometheus.CounterVec
	wechatDuration *prometheus.HistogramVec
	tokensIssued   prometheus.Counter
	tokenFailures  *prometheus.CounterVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	codeDuplicates *prometheus.CounterVec
	appLogins      *prometheus.CounterVec
	appWeChat      *prometheus.CounterVec
	hookRequests   *prometheus.CounterVec
	hookDuration   prometheus.Histogram

	outcomes, results, reasons, hookResults *bounded
	apps                                    map[string]bool // the values of the app label
}

// UnknownApp is the app label of a login that named no app served here
// (or none, where several are served).
const UnknownApp = "unknown"

// Labels are the label values known in advance, exported at zero.
type Labels struct {
	// LoginOutcomes are "ok" and every error code a login can answer with.
	LoginOutcomes []string
	// TokenFailureReasons are the reasons a bearer token is refused
	// (token.Reasons).
	TokenFailureReasons []string
	// Apps are the AppIDs served: the only values of the app label
	// besides UnknownApp.
	Apps []string
	// ClaimsHookResults are the results of a claims hook call
	// (claims.Results); none when no hook is configured.
	ClaimsHookResults []string
}

// New returns the metrics of one server, registered with the Go runtime
// and process collectors and wxlogin_build_info for version, with the
// known label values of labels at zero.
func New(version string, labels Labels) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxlogin_logins_total",
			Help: `Logins (POST /v1/login) by outcome: "ok" or the error code answered.`,
		}, []string{"outcome"}),
		wechatRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxlogin_wechat_requests_total",
			Help: `Calls to WeChat's APIs by API path and result ("ok", "timeout", "unavailable", "errcode_40029", "http_500", "bad_answer"…).`,
		}, []string{"api", "result"}),
		wechatDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wxlogin_wechat_request_duration_seconds",
			Help:    "Time WeChat's APIs took to answer, failures and timeouts included, by API path.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"api"}),
		tokensIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wxlogin_tokens_issued_total",
			Help: "Tokens signed and handed out.",
		}),
		tokenFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxlogin_token_verification_failures_total",
			Help: `Bearer tokens refused by this server, by reason ("expired", "signature", "malformed"…).`,
		}, []string{"reason"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxlogin_http_requests_total",
			Help: `HTTP requests by route pattern ("unmatched" for none) and status code.`,
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wxlogin_http_request_duration_seconds",
			Help:    "Time from request to answer, by route pattern.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		codeDuplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxlogin_login_code_duplicates_total",
			Help: `Logins answered without a WeChat call because the same code was ` +
				`already being exchanged ("in_flight") or had been within WXLOGIN_CODE_REUSE_WINDOW ("replayed").`,
		}, []string{"kind"}),
		appLogins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxlogin_app_logins_total",
			Help: `Logins (POST /v1/login) by app (its AppID, or "unknown" when the request named no app served here) and outcome.`,
		}, []string{"app", "outcome"}),
		appWeChat: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxlogin_app_wechat_requests_total",
			Help: `Calls to WeChat's APIs by app (the AppID a call was made for), API path and result.`,
		}, []string{"app", "api", "result"}),
		hookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxlogin_claims_hook_requests_total",
			Help: `Calls to the claims hook by result ("ok", "denied", "bad_answer", "timeout", "unavailable", "http_500"…).`,
		}, []string{"result"}),
		hookDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wxlogin_claims_hook_request_duration_seconds",
			Help:    "Time the claims hook took to answer, failures and timeouts included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		apps:        map[string]bool{UnknownApp: true},
		outcomes:    newBounded(),
		results:     newBounded(),
		reasons:     newBounded(),
		hookResults: newBounded(),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "wxlogin_build_info",
		Help:        "Always 1; the labels tell the running build.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(
		m.logins, m.wechatRequests, m.wechatDuration, m.tokensIssued, m.tokenFailures,
		m.httpRequests, m.httpDuration, m.codeDuplicates, m.appLogins, m.appWeChat,
		m.hookRequests, m.hookDuration, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, v := range labels.LoginOutcomes {
		m.logins.WithLabelValues(m.outcomes.value(v))
	}
	for _, v := range labels.TokenFailureReasons {
		m.tokenFailures.WithLabelValues(m.reasons.value(v))
	}
	for _, v := range []string{"in_flight", "replayed"} {
		m.codeDuplicates.WithLabelValues(v)
	}
	for _, v := range labels.ClaimsHookResults {
		m.hookRequests.WithLabelValues(m.hookResults.value(v))
	}
	for _, a := range labels.Apps {
		m.apps[a] = true
	}
	for a := range m.apps {
		for _, v := range labels.LoginOutcomes {
			m.appLogins.WithLabelValues(a, m.outcomes.value(v))
		}
	}
	return m
}

// app is the app label of appid: appid when it is served, else
// UnknownApp.
func (m *Metrics) app(appid string) string {
	if m.apps[appid] {
		return appid
	}
	return UnknownApp
}

// WeChatObserver returns the Observe hook of the WeChat client of app
// (wechat.Config.Observe): each call is counted in the totals, as by
// WeChatCall, and in app's series.
func (m *Metrics) WeChatObserver(app string) func(api, result string, took time.Duration) {
	label := m.app(app)
	return func(api, result string, took time.Duration) {
		m.WeChatCall(api, result, took)
		m.appWeChat.WithLabelValues(label, api, m.results.value(result)).Inc()
	}
}

// AppLogin counts one POST /v1/login of app by outcome in the series by
// app (Login counts it in the totals). An app that is not served counts
// as UnknownApp.
func (m *Metrics) AppLogin(app, outcome string) {
	m.appLogins.WithLabelValues(m.app(app), m.outcomes.value(outcome)).Inc()
}

// Registry returns the registry every metric is on, for tests and for
// adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// WeChatCall counts one call to WeChat and its latency. Its signature is
// that of wechat.Config.Observe.
func (m *Metrics) WeChatCall(api, result string, took time.Duration) {
	m.wechatRequests.WithLabelValues(api, m.results.value(result)).Inc()
	m.wechatDuration.WithLabelValues(api).Observe(took.Seconds())
}

// ClaimsHookCall counts one call to the claims hook by result, and its
// latency. Its signature is that of claims.Config.Observe.
func (m *Metrics) ClaimsHookCall(result string, took time.Duration) {
	m.hookRequests.WithLabelValues(m.hookResults.value(result)).Inc()
	m.hookDuration.Observe(took.Seconds())
}

// Login counts one POST /v1/login by outcome: "ok" or the error code.
func (m *Metrics) Login(outcome string) {
	m.logins.WithLabelValues(m.outcomes.value(outcome)).Inc()
}

// TokenIssued counts one signed token.
func (m *Metrics) TokenIssued() { m.tokensIssued.Inc() }

// TokenRejected counts one refused bearer token by reason (token.Reason).
func (m *Metrics) TokenRejected(reason string) {
	m.tokenFailures.WithLabelValues(m.reasons.value(reason)).Inc()
}

// Request counts one HTTP request by route pattern and status, and its
// duration. Route patterns come from the one routes table, so they are
// bounded.
func (m *Metrics) Request(route string, status int, took time.Duration) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(took.Seconds())
}

// CodeDuplicate counts one login answered without a WeChat call: kind is
// "in_flight" (it shared a concurrent call) or "replayed" (a recent answer
// for the same code was reused).
func (m *Metrics) CodeDuplicate(kind string) {
	m.codeDuplicates.WithLabelValues(kind).Inc()
}

// bounded admits at most maxLabelValues distinct label values; later ones
// become "other".
type bounded struct {
	mu   sync.RWMutex
	seen map[string]bool
}

func newBounded() *bounded { return &bounded{seen: map[string]bool{"other": true}} }

func (b *bounded) value(v string) string {
	b.mu.RLock()
	ok := b.seen[v]
	b.mu.RUnlock()
	if ok {
		return v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[v] {
		return v
	}
	if len(b.seen) >= maxLabelValues {
		return "other"
	}
	b.seen[v] = true
	return v
}
