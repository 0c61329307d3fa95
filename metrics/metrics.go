// Package metrics holds wxlogin's Prometheus metrics. Every metric lives on
// a registry of its own, built by New, so nothing is registered in the
// client library's global default registry and two servers in one process
// (as in tests) never collide.
//
// The methods are the hooks the rest of the server reports through: the
// WeChat client's Observe (WeChatCall), the HTTP layer (Request, Login,
// TokenIssued, TokenRejected) and the login-code deduplication
// (CodeDuplicate). All are safe for concurrent use and cheap enough for the
// login path.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
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

	outcomes, results, reasons *bounded

	// The children the hot path counts into, looked up once: prometheus's
	// WithLabelValues hashes the values and takes a lock on every call.
	loginChildren     map[string]prometheus.Counter // by outcome, LoginOutcomes
	rejectChildren    map[string]prometheus.Counter // by reason, TokenFailureReasons
	duplicateChildren map[string]prometheus.Counter // by kind
	requestChildren   children[requestKey, series]
	wechatChildren    children[wechatKey, series]
}

// requestKey names the series of one route and status.
type requestKey struct {
	route  string
	status int
}

// wechatKey names the series of one WeChat API and result.
type wechatKey struct{ api, result string }

// series are the children one request or WeChat call counts into: its
// counter and its duration histogram.
type series struct {
	count prometheus.Counter
	took  prometheus.Observer
}

// LoginOutcomes are the outcomes of POST /v1/login that are exported at
// zero from start-up, so that rate() and alerts work before the first
// failure: "ok" and every error code the login can answer with.
var LoginOutcomes = []string{
	"ok", "invalid_request", "invalid_code", "user_blocked", "payload_too_large",
	"unsupported_media_type", "rate_limited", "upstream_error", "upstream_unavailable",
	"upstream_timeout", "internal_error",
}

// TokenFailureReasons are the reasons a bearer token is refused (see
// token.Reason), exported at zero from start-up.
var TokenFailureReasons = []string{
	"missing", "malformed", "unknown_key", "signature", "expired", "not_yet_valid",
	"issuer", "audience", "other",
}

// New returns the metrics of one server, registered with the Go runtime
// and process collectors and wxlogin_build_info for version.
func New(version string) *Metrics {
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
		outcomes: newBounded(),
		results:  newBounded(),
		reasons:  newBounded(),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "wxlogin_build_info",
		Help:        "Always 1; the labels tell the running build.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(
		m.logins, m.wechatRequests, m.wechatDuration, m.tokensIssued, m.tokenFailures,
		m.httpRequests, m.httpDuration, m.codeDuplicates, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.loginChildren = curry(m.logins, LoginOutcomes, m.outcomes.value)
	m.rejectChildren = curry(m.tokenFailures, TokenFailureReasons, m.reasons.value)
	m.duplicateChildren = curry(m.codeDuplicates, []string{"in_flight", "replayed"}, nil)
	m.requestChildren.make = func(k requestKey) series {
		return series{
			count: m.httpRequests.WithLabelValues(k.route, strconv.Itoa(k.status)),
			took:  m.httpDuration.WithLabelValues(k.route),
		}
	}
	m.wechatChildren.make = func(k wechatKey) series {
		return series{
			count: m.wechatRequests.WithLabelValues(k.api, m.results.value(k.result)),
			took:  m.wechatDuration.WithLabelValues(k.api),
		}
	}
	return m
}

// curry creates the child of vec for each value, so that it is exported
// at zero from start-up, and returns them by value. admit, when not nil,
// enters each value into the label's bounded set.
func curry(vec *prometheus.CounterVec, values []string, admit func(string) string) map[string]prometheus.Counter {
	cs := make(map[string]prometheus.Counter, len(values))
	for _, v := range values {
		label := v
		if admit != nil {
			label = admit(v)
		}
		cs[v] = vec.WithLabelValues(label)
	}
	return cs
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
	s := m.wechatChildren.get(wechatKey{api, result})
	s.count.Inc()
	s.took.Observe(took.Seconds())
}

// Login counts one POST /v1/login by outcome: "ok" or the error code.
func (m *Metrics) Login(outcome string) {
	if c, ok := m.loginChildren[outcome]; ok {
		c.Inc()
		return
	}
	m.logins.WithLabelValues(m.outcomes.value(outcome)).Inc()
}

// TokenIssued counts one signed token.
func (m *Metrics) TokenIssued() { m.tokensIssued.Inc() }

// TokenRejected counts one refused bearer token by reason (token.Reason).
func (m *Metrics) TokenRejected(reason string) {
	if c, ok := m.rejectChildren[reason]; ok {
		c.Inc()
		return
	}
	m.tokenFailures.WithLabelValues(m.reasons.value(reason)).Inc()
}

// Request counts one HTTP request by route pattern and status, and its
// duration.
func (m *Metrics) Request(route string, status int, took time.Duration) {
	s := m.requestChildren.get(requestKey{route, status})
	s.count.Inc()
	s.took.Observe(took.Seconds())
}

// CodeDuplicate counts one login answered without a WeChat call: kind is
// "in_flight" (it shared a concurrent call) or "replayed" (a recent answer
// for the same code was reused).
func (m *Metrics) CodeDuplicate(kind string) {
	if c, ok := m.duplicateChildren[kind]; ok {
		c.Inc()
		return
	}
	m.codeDuplicates.WithLabelValues(kind).Inc()
}

// maxChildren bounds how many label combinations a children cache keeps;
// beyond it, make is called every time (the series themselves are bounded
// by the label values admitted, not by this cache).
const maxChildren = 256

// children caches the result of make for each key, so that the hot path
// finds its series with one lock-free map read instead of hashing label
// values under prometheus's lock. The zero value, with make set, is ready.
type children[K comparable, V any] struct {
	make func(K) V
	m    sync.Map // K → V
	n    atomic.Int32
}

func (c *children[K, V]) get(k K) V {
	if v, ok := c.m.Load(k); ok {
		return v.(V)
	}
	v := c.make(k)
	if c.n.Load() < maxChildren {
		if _, loaded := c.m.LoadOrStore(k, v); !loaded {
			c.n.Add(1)
		}
	}
	return v
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
