package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/metrics"
	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat"
)

// runServe loads the configuration, serves HTTP until ctx ends, then
// drains: /readyz fails at once, new requests are still served for
// ShutdownDelay, then the listener closes and in-flight requests get
// ShutdownTimeout to finish.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wxlogin serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.Bool("dev", false, "development mode (same as WXLOGIN_DEV=true)")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: wxlogin [serve] [-dev] | wxlogin keygen [-ed25519] [-shell] | wxlogin healthcheck")
		fmt.Fprintln(stdout, "\nFlags of serve:")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fmt.Fprintln(stdout, "\nConfiguration comes from these environment variables:")
		printVariables(stdout)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := configure(*dev)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	if cfg.Dev {
		logger.Warn(devWarning)
	}
	a, err := newApp(cfg, logger, ln.Addr())
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: connTimeouts.readHeader,
		ReadTimeout:       connTimeouts.read,
		// The slowest request makes up to four WeChat calls (/v1/phone:
		// access token, exchange, refetch, retry), then a hook call.
		WriteTimeout:   4*cfg.WeChatTimeout + cfg.ClaimsTimeout + 10*time.Second,
		IdleTimeout:    connTimeouts.idle,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2) // the main and the metrics listener
	if a.metrics != nil {
		msrv, maddr, err := serveMetrics(cfg.MetricsAddr, a.metrics, logger, errc)
		if err != nil {
			return err
		}
		defer msrv.Close() // after the drain: scrapes still see it
		fmt.Fprintf(stdout, "wxlogin metrics on http://%s/metrics\n", maddr)
	}
	go func() { errc <- srv.Serve(ln) }()

	url := "http://" + ln.Addr().String()
	logger.Info("listening", "version", version, "addr", ln.Addr().String(), "issuer", a.issuer, "alg", a.alg, "kid", a.kid,
		"apps", appIDs(cfg.apps()), "subject", cfg.Subject, "claims_hook", cfg.ClaimsURL != "", "dev", cfg.Dev)
	fmt.Fprintf(stdout, "wxlogin listening on %s\n", url)
	if cfg.Dev {
		printDevHint(stdout, ln.Addr(), appIDs(cfg.apps()))
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.readiness.Drain()
	if cfg.ShutdownDelay > 0 {
		// Load balancers learn from /readyz, or from an endpoints update,
		// that this instance is going: until they do, they still send
		// requests, which must not meet a closed port.
		logger.Info("shutting down: /readyz fails; still serving while load balancers catch up", "delay", cfg.ShutdownDelay.String())
		select {
		case <-time.After(cfg.ShutdownDelay):
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		}
	}
	logger.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: requests still running after %s: %w", cfg.ShutdownTimeout, err)
	}
	logger.Info("stopped")
	return nil
}

// requiredOutsideDev ends the desc tag of every variable that start-up
// requires unless in dev mode; `wxlogin -h` shows it as its own column.
const requiredOutsideDev = " (required outside dev mode)"

// variablesTemplate is the table of variables `wxlogin -h` prints, one
// tab-separated row each, aligned by a tabwriter.
var variablesTemplate = template.Must(template.New("variables").Funcs(template.FuncMap{
	"required": func(tags reflect.StructTag) string {
		if strings.HasSuffix(tags.Get("desc"), requiredOutsideDev) {
			return "yes"
		}
		return ""
	},
	"describe": func(tags reflect.StructTag) string {
		return strings.TrimSuffix(tags.Get("desc"), requiredOutsideDev)
	},
}).Parse("VARIABLE\tDEFAULT\tREQUIRED\tDESCRIPTION\n" +
	"{{range .}}{{.Key}}\t{{.Tags.Get \"default\"}}\t{{required .Tags}}\t{{describe .Tags}}\n{{end}}"))

// printVariables prints every configuration variable with its default,
// whether it is required, and what it means, in aligned columns.
func printVariables(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	envconfig.Usaget(envPrefix, &Config{}, tw, variablesTemplate)
	tw.Flush()
	fmt.Fprintln(w, "\nREQUIRED: start-up stops without it, except in development mode (-dev or WXLOGIN_DEV=true).")
}

// withDevHint adds to a configuration error outside dev mode where to
// look next: someone who starts wxlogin with nothing set most likely
// wants to try it, which dev mode is for.
func withDevHint(cfg *Config, err error) error {
	if cfg.Dev {
		return err
	}
	return fmt.Errorf("%w\n\nwxlogin -h lists every variable. To try wxlogin without any of them, run it in\ndevelopment mode: wxlogin -dev (a fake WeChat, generated keys; never in production)", err)
}

// claimsHook is the client of WXLOGIN_CLAIMS_URL, or nil without one,
// telling observe of every call. It has its own keep-alive HTTP client:
// the hook is not WeChat.
func (cfg *Config) claimsHook(observe func(result string, took time.Duration)) (handlers.ClaimsHook, error) {
	if cfg.ClaimsURL == "" {
		return nil, nil
	}
	key, err := cfg.claimsKey()
	if err != nil {
		return nil, err
	}
	c, err := claims.NewClient(claims.Config{URL: cfg.ClaimsURL, Key: key, Timeout: cfg.ClaimsTimeout, Now: cfg.Now, Observe: observe})
	if err != nil {
		return nil, err // not a nil *claims.Client in a non-nil interface
	}
	return c, nil
}

// connTimeouts bound how long a client may take to send its headers and
// its whole request, and how long an idle keep-alive connection stays
// open, so that slow or silent clients cannot hold connections. A
// variable only so that tests can shorten it.
var connTimeouts = struct{ readHeader, read, idle time.Duration }{
	readHeader: 5 * time.Second,
	read:       10 * time.Second,
	idle:       120 * time.Second,
}

// newLogger logs JSON (or text) at the configured level. Each line is
// written to w as it is logged, with one write: the log is an audit
// trail, and a line held back in memory would be lost in a crash.
func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	level, _ := cfg.logLevel()
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// app is the wired server.
type app struct {
	handler   http.Handler
	metrics   http.Handler // /metrics for WXLOGIN_METRICS_ADDR; nil when it is served by handler
	readiness *handlers.Readiness
	issuer    string
	alg, kid  string
}

// newApp builds every piece from the validated configuration, which it
// only reads. Each app served has its own WeChat client, access-token
// cache and token issuer; they share the signing key, the sealer, the
// resend cache and the verifier, which accepts every app's audience.
func newApp(cfg *Config, logger *slog.Logger, addr net.Addr) (*app, error) {
	issuerURL := cfg.issuerURL(addr)
	signer, _, err := cfg.signer()
	if err != nil {
		return nil, err
	}
	verifyKeys, err := cfg.verifyKeys()
	if err != nil {
		return nil, err
	}
	sealSecret, err := cfg.sealSecret()
	if err != nil {
		return nil, err
	}
	trusted, err := cfg.trustedProxies()
	if err != nil {
		return nil, err
	}

	oldSecrets, err := cfg.oldSealSecrets()
	if err != nil {
		return nil, err
	}
	sealer, err := token.NewSealer(sealSecret, oldSecrets...)
	if err != nil {
		return nil, err
	}
	configured := cfg.apps()
	labels := metrics.Labels{LoginOutcomes: handlers.Outcomes(), TokenFailureReasons: token.Reasons(), Apps: appIDs(configured)}
	if cfg.ClaimsURL != "" {
		labels.ClaimsHookResults = claims.Results()
	}
	m := metrics.New(version, labels)
	httpClient := wechat.NewHTTPClient()
	if cfg.Dev {
		httpClient = cfg.devHTTPClient()
	}

	var (
		apps      []handlers.App
		audiences []string
		key       token.Key
		dedup     *wechat.CodeDedup
	)
	for _, a := range configured {
		iss, err := token.NewIssuer(token.IssuerConfig{
			Key: signer, Issuer: issuerURL, Audience: a.Audience, AppID: a.AppID, Subject: cfg.Subject,
			TTL: cfg.TokenTTL, Sealer: sealer, Now: cfg.Now,
		})
		if err != nil {
			return nil, err
		}
		key = iss.Key()
		wx := wechat.New(wechat.Config{
			BaseURL: cfg.WeChatBaseURL, AppID: a.AppID, Secret: a.Secret,
			HTTPClient: httpClient, Timeout: cfg.WeChatTimeout,
			Observe: m.WeChatObserver(a.AppID),
		})
		// A resent code is answered again for CodeReuseWindow (see
		// wechat.CodeDedup), from one cache for every app, keyed by app
		// and code; with 0, every request asks WeChat.
		if dedup == nil {
			dedup = wechat.NewCodeDedup(wx, wechat.CodeDedupConfig{
				AppID: a.AppID, Window: cfg.CodeReuseWindow, Now: cfg.Now, OnDuplicate: m.CodeDuplicate,
			})
		} else {
			dedup = dedup.ForApp(a.AppID, wx)
		}
		// The app's access token for /v1/phone and /v1/session/check:
		// stable_token in normal mode, cached in process. A central token
		// service plugs in as this Fetch (see wechat.AccessTokens).
		accessTokens := wechat.NewTokenCache(wechat.TokenCacheConfig{
			Fetch:   func(ctx context.Context) (wechat.AccessToken, error) { return wx.StableAccessToken(ctx, false) },
			Now:     cfg.Now,
			Timeout: cfg.WeChatTimeout,
		})
		apps = append(apps, handlers.App{
			AppID: a.AppID, WeChat: dedup, Tokens: iss,
			UserAPI: &wechat.UserAPI{Client: wx, Tokens: accessTokens},
		})
		audiences = append(audiences, a.Audience)
	}
	keys := []token.Key{key}
	for _, k := range verifyKeys {
		if k.KID != key.KID {
			keys = append(keys, k)
		}
	}
	ver, err := token.NewVerifier(token.VerifierConfig{
		Keys: keys, Issuer: issuerURL, Audiences: audiences, Now: cfg.Now,
		AcceptHighSBefore: cfg.AcceptHighSBefore,
	})
	if err != nil {
		return nil, err
	}
	hook, err := cfg.claimsHook(m.ClaimsHookCall)
	if err != nil {
		return nil, err
	}
	// /metrics is on the public listener unless WXLOGIN_METRICS_ADDR gives
	// it one of its own.
	publicMetrics, ownMetrics := m.Handler(), http.Handler(nil)
	if cfg.MetricsAddr != "" {
		publicMetrics, ownMetrics = nil, m.Handler()
	}
	ready := &handlers.Readiness{}
	h, err := handlers.New(handlers.Deps{
		Logger: logger, Issuer: issuerURL, Apps: apps,
		Verifier: ver, Keys: keys, Readiness: ready,
		Claims: hook, PhoneInToken: cfg.PhoneInToken,
		RateLimit: cfg.RateLimit, TrustedProxies: trusted,
		UserRateLimit: cfg.UserRateLimit, UserIPRateLimit: cfg.UserIPRateLimit,
		Metrics: m, MetricsHandler: publicMetrics,
	})
	if err != nil {
		return nil, err
	}
	return &app{handler: h, metrics: ownMetrics, readiness: ready, issuer: issuerURL, alg: key.Alg, kid: key.KID}, nil
}
