package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

const (
	testAppID  = "wx0123456789abcdef"
	testSecret = "app-secret-0123456789abcdef01234"
)

// clearEnv unsets every WXLOGIN_ variable for the test (t.Setenv restores
// them afterwards) and sets vars.
func clearEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, envPrefix+"_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

// keygen runs `wxlogin keygen` and returns its variables.
func keygen(t *testing.T, args ...string) map[string]string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"wxlogin", "keygen"}, args...), &out, io.Discard); err != nil {
		t.Fatalf("keygen: %v", err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "WXLOGIN_") {
			t.Fatalf("keygen line %q is not WXLOGIN_…=…", line)
		}
		vars[k] = v
	}
	return vars
}

// prodEnv is a complete production configuration against WeChat at baseURL.
func prodEnv(t *testing.T, baseURL string, keygenArgs ...string) map[string]string {
	env := keygen(t, keygenArgs...)
	env["WXLOGIN_APPID"] = testAppID
	env["WXLOGIN_SECRET"] = testSecret
	env["WXLOGIN_ISSUER"] = "https://login.example.com"
	env["WXLOGIN_WECHAT_BASE_URL"] = baseURL
	env["WXLOGIN_ADDR"] = "127.0.0.1:0"
	return env
}

func TestConfigMissingVariables(t *testing.T) {
	clearEnv(t, nil)
	err := run(context.Background(), []string{"wxlogin"}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("start-up without configuration succeeded")
	}
	for _, name := range []string{"WXLOGIN_APPID", "WXLOGIN_SECRET", "WXLOGIN_ISSUER", "WXLOGIN_SIGNING_KEY", "WXLOGIN_SESSION_KEY_SECRET"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	// Each one alone is reported.
	full := prodEnv(t, "https://api.weixin.qq.com")
	for _, name := range []string{"WXLOGIN_APPID", "WXLOGIN_SECRET", "WXLOGIN_ISSUER", "WXLOGIN_SIGNING_KEY", "WXLOGIN_SESSION_KEY_SECRET"} {
		env := map[string]string{}
		for k, v := range full {
			if k != name {
				env[k] = v
			}
		}
		clearEnv(t, env)
		cfg, err := loadConfig()
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), name+": required") {
			t.Errorf("without %s: err = %v", name, err)
		}
	}
}

func TestConfigBadValues(t *testing.T) {
	rsaLike := "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(p384)
	p384PEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	garbledPEM := "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"
	tests := []struct {
		name, variable, value, want string
	}{
		{"not PEM", "WXLOGIN_SIGNING_KEY", "s3cr3t-not-a-pem", "WXLOGIN_SIGNING_KEY: not a PEM block"},
		{"garbled PEM", "WXLOGIN_SIGNING_KEY", garbledPEM, "WXLOGIN_SIGNING_KEY: PEM block does not hold a valid private key"},
		{"RSA key", "WXLOGIN_SIGNING_KEY", rsaLike, "WXLOGIN_SIGNING_KEY: PEM block is \"RSA PRIVATE KEY\""},
		{"P-384 key", "WXLOGIN_SIGNING_KEY", p384PEM, "WXLOGIN_SIGNING_KEY: ECDSA key is not on curve P-256"},
		{"short secret", "WXLOGIN_SESSION_KEY_SECRET", "c2hvcnQtc2VjcmV0", "WXLOGIN_SESSION_KEY_SECRET: decodes to 12 bytes; want 32"},
		{"secret not base64", "WXLOGIN_SESSION_KEY_SECRET", "not base64 at all!", "WXLOGIN_SESSION_KEY_SECRET: is not valid base64"},
		{"verify key not PEM", "WXLOGIN_VERIFY_KEYS", "junk", "WXLOGIN_VERIFY_KEYS: no PEM public key found"},
		{"issuer not URL", "WXLOGIN_ISSUER", "login.example.com", "WXLOGIN_ISSUER: must be an absolute http(s) URL"},
		{"ttl too long", "WXLOGIN_TOKEN_TTL", "720h", "WXLOGIN_TOKEN_TTL: 720h0m0s is out of range"},
		{"ttl fraction", "WXLOGIN_TOKEN_TTL", "90.5s", "WXLOGIN_TOKEN_TTL: must be a whole number of seconds"},
		{"timeout", "WXLOGIN_WECHAT_TIMEOUT", "0s", "WXLOGIN_WECHAT_TIMEOUT: 0s is out of range"},
		{"rate limit", "WXLOGIN_RATE_LIMIT", "-1", "WXLOGIN_RATE_LIMIT: must be 0"},
		{"proxies", "WXLOGIN_TRUSTED_PROXIES", "10.0.0.0/8,nonsense", `WXLOGIN_TRUSTED_PROXIES: "nonsense" is not a CIDR`},
		{"log format", "WXLOGIN_LOG_FORMAT", "xml", "WXLOGIN_LOG_FORMAT: must be json or text"},
		{"log level", "WXLOGIN_LOG_LEVEL", "loud", "WXLOGIN_LOG_LEVEL"},
		{"log flush interval", "WXLOGIN_LOG_FLUSH_INTERVAL", "1m", "WXLOGIN_LOG_FLUSH_INTERVAL: 1m0s is out of range"},
		{"negative log flush interval", "WXLOGIN_LOG_FLUSH_INTERVAL", "-1ms", "WXLOGIN_LOG_FLUSH_INTERVAL: -1ms is out of range"},
		{"reuse window too long", "WXLOGIN_CODE_REUSE_WINDOW", "10m", "WXLOGIN_CODE_REUSE_WINDOW: 10m0s is out of range"},
		{"negative reuse window", "WXLOGIN_CODE_REUSE_WINDOW", "-1s", "WXLOGIN_CODE_REUSE_WINDOW: -1s is out of range"},
		{"shutdown delay", "WXLOGIN_SHUTDOWN_DELAY", "2m", "WXLOGIN_SHUTDOWN_DELAY: 2m0s is out of range"},
		{"shutdown timeout", "WXLOGIN_SHUTDOWN_TIMEOUT", "-1s", "WXLOGIN_SHUTDOWN_TIMEOUT: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := prodEnv(t, "https://api.weixin.qq.com")
			env[tt.variable] = tt.value
			clearEnv(t, env)
			err := run(context.Background(), []string{"wxlogin"}, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(tt.variable, "KEY") || strings.Contains(tt.variable, "SECRET") {
				for _, line := range strings.Split(tt.value, "\n") {
					if len(line) > 8 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
						t.Errorf("error prints the secret value: %v", err)
					}
				}
			}
		})
	}
}

func TestConfigUnparsableTTL(t *testing.T) {
	env := prodEnv(t, "https://api.weixin.qq.com")
	env["WXLOGIN_TOKEN_TTL"] = "two hours"
	clearEnv(t, env)
	err := run(context.Background(), []string{"wxlogin"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "WXLOGIN_TOKEN_TTL") {
		t.Fatalf("err = %v, want it to name WXLOGIN_TOKEN_TTL", err)
	}
}

func TestConfigFileForms(t *testing.T) {
	dir := t.TempDir()
	env := prodEnv(t, "https://api.weixin.qq.com")
	for _, name := range []string{"SECRET", "SIGNING_KEY", "SESSION_KEY_SECRET"} {
		path := filepath.Join(dir, name)
		// Files hold real newlines, and often a trailing one.
		value := strings.ReplaceAll(env["WXLOGIN_"+name], `\n`, "\n") + "\n"
		if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		delete(env, "WXLOGIN_"+name)
		env["WXLOGIN_"+name+"_FILE"] = path
	}
	clearEnv(t, env)
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Secret != testSecret {
		t.Error("WXLOGIN_SECRET_FILE was not read (or its newline kept)")
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config from _FILE forms: %v", err)
	}

	// Both forms at once, and a missing file, are errors naming the variable.
	env["WXLOGIN_SECRET"] = testSecret
	env["WXLOGIN_SIGNING_KEY_FILE"] = filepath.Join(dir, "nope")
	clearEnv(t, env)
	_, err = loadConfig()
	if err == nil || !strings.Contains(err.Error(), "WXLOGIN_SECRET and WXLOGIN_SECRET_FILE are both set") ||
		!strings.Contains(err.Error(), "WXLOGIN_SIGNING_KEY_FILE: cannot read") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Error("error prints the secret")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg := Config{Secret: "hunter2", SigningKey: "-----BEGIN PRIVATE KEY-----", SessionKeySecret: "c2VjcmV0"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "secret", cfg.Secret)
	printed := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.Secret) + logs.String()
	for _, secret := range []string{"hunter2", "BEGIN", "c2VjcmV0"} {
		if strings.Contains(printed, secret) {
			t.Errorf("printing the config shows %q: %s", secret, printed)
		}
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"wxlogin", "-h"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"WXLOGIN_ADDR", "WXLOGIN_APPID", "WXLOGIN_SECRET", "WXLOGIN_SECRET_FILE", "WXLOGIN_WECHAT_BASE_URL",
		"WXLOGIN_ISSUER", "WXLOGIN_AUDIENCE", "WXLOGIN_TOKEN_TTL", "WXLOGIN_SIGNING_KEY", "WXLOGIN_VERIFY_KEYS",
		"WXLOGIN_SESSION_KEY_SECRET", "WXLOGIN_WECHAT_TIMEOUT", "WXLOGIN_RATE_LIMIT", "WXLOGIN_TRUSTED_PROXIES", "WXLOGIN_DEV", ":8080", "2h"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("-h output lacks %s", v)
		}
	}
}

func TestKeygen(t *testing.T) {
	for _, tt := range []struct {
		args []string
		alg  string
	}{{nil, token.ES256}, {[]string{"-ed25519"}, token.EdDSA}} {
		env := keygen(t, tt.args...)
		if len(env) != 2 {
			t.Fatalf("keygen printed %d variables, want 2: %v", len(env), env)
		}
		_, alg, err := token.ParsePrivateKey([]byte(unescapePEM(env["WXLOGIN_SIGNING_KEY"])))
		if err != nil || alg != tt.alg {
			t.Errorf("keygen %v: key alg %q, err %v; want %s", tt.args, alg, err, tt.alg)
		}
		if b, err := decodeBase64(env["WXLOGIN_SESSION_KEY_SECRET"]); err != nil || len(b) != 32 {
			t.Errorf("session key secret: %d bytes, %v", len(b), err)
		}
		if again := keygen(t, tt.args...); again["WXLOGIN_SIGNING_KEY"] == env["WXLOGIN_SIGNING_KEY"] ||
			again["WXLOGIN_SESSION_KEY_SECRET"] == env["WXLOGIN_SESSION_KEY_SECRET"] {
			t.Error("two keygen runs printed the same material")
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenLine = regexp.MustCompile(`wxlogin listening on (http://\S+)`)

// startRun runs the whole program with args and waits until it serves.
// It returns the base URL, the logs, and a stop function that ends the
// context and returns run's error.
func startRun(t *testing.T, args ...string) (string, *syncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"wxlogin"}, args...), stdout, stderr) }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return errors.New("run did not return after its context ended")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\nstderr:\n%s", err, stderr)
		default:
		}
		if m := listenLine.FindStringSubmatch(stdout.String()); m != nil {
			if resp, err := http.Get(m[1] + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return m[1], stderr, stop
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	t.Fatalf("server did not become healthy; stdout:\n%s\nstderr:\n%s", stdout, stderr)
	return "", nil, nil
}

func postLogin(t *testing.T, base, code string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"code": code})
	resp, err := http.Post(base+"/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// verifyWithServedJWKS checks tok against the keys the server publishes,
// found through its discovery document, as a downstream service would.
func verifyWithServedJWKS(t *testing.T, base, tok, audience string) *token.Claims {
	t.Helper()
	c, err := servedVerifier(t, base, audience).Verify(tok)
	if err != nil {
		t.Fatalf("token does not verify against the served JWKS: %v", err)
	}
	return c
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestRunEndToEnd(t *testing.T) {
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret, UnionID: true})
	defer wx.Close()
	for _, keyArgs := range [][]string{nil, {"-ed25519"}} {
		clearEnv(t, prodEnv(t, wx.URL, keyArgs...))
		base, logs, stop := startRun(t)

		code := wx.Code("alice")
		status, ans := postLogin(t, base, code)
		if status != 200 {
			t.Fatalf("login: %d %v", status, ans)
		}
		tok, _ := ans["token"].(string)
		c := verifyWithServedJWKS(t, base, tok, testAppID)
		if c.Subject != wx.OpenID("alice") || c.UnionID != wx.UnionID("alice") || c.AppID != testAppID {
			t.Errorf("claims = %+v", c)
		}
		// A resent code within WXLOGIN_CODE_REUSE_WINDOW gets the same
		// user again (a fresh token), without a second WeChat call.
		calls := wx.Calls("/sns/jscode2session")
		if status, ans := postLogin(t, base, code); status != 200 || ans["openid"] != c.Subject || ans["token"] == tok {
			t.Errorf("resent code: %d %v %v", status, ans["code"], ans["openid"])
		}
		if n := wx.Calls("/sns/jscode2session") - calls; n != 0 {
			t.Errorf("resent code made %d WeChat calls, want 0", n)
		}
		if err := stop(); err != nil {
			t.Fatalf("run after SIGTERM-like cancel: %v", err)
		}
		for _, secretValue := range []string{testSecret, code, tok, wx.SessionKey(c.Subject)} {
			if strings.Contains(logs.String(), secretValue) {
				t.Errorf("logs hold a secret %q:\n%s", secretValue[:6], logs)
			}
		}
	}
}

// With WXLOGIN_CODE_REUSE_WINDOW=0 every login asks WeChat, which knows
// a spent code: the resend is invalid_code.
func TestRunCodeReuseOff(t *testing.T) {
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	env := prodEnv(t, wx.URL)
	env["WXLOGIN_CODE_REUSE_WINDOW"] = "0"
	clearEnv(t, env)
	base, _, stop := startRun(t)
	defer stop()
	code := wx.Code("alice")
	if status, ans := postLogin(t, base, code); status != 200 {
		t.Fatalf("login: %d %v", status, ans["code"])
	}
	if status, ans := postLogin(t, base, code); status != 401 || ans["code"] != "invalid_code" {
		t.Errorf("resent code: %d %v, want 401 invalid_code", status, ans["code"])
	}
	if n := wx.Calls("/sns/jscode2session"); n != 2 {
		t.Errorf("%d WeChat calls, want 2", n)
	}
}

// Request lines are gathered for up to WXLOGIN_LOG_FLUSH_INTERVAL and
// written together; stopping the server writes those still held, so none
// is lost on a graceful stop.
func TestRunWritesHeldLogLinesOnStop(t *testing.T) {
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	env := prodEnv(t, wx.URL)
	env["WXLOGIN_LOG_FLUSH_INTERVAL"] = "10s"
	clearEnv(t, env)
	base, logs, stop := startRun(t)
	if status, ans := postLogin(t, base, wx.Code("alice")); status != 200 {
		stop()
		t.Fatalf("login: %d %v", status, ans["code"])
	}
	// The 10-second interval has not passed: the line is still held.
	if strings.Contains(logs.String(), `"route":"/v1/login"`) {
		t.Errorf("the login's line was written before the flush interval:\n%s", logs)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"route":"/v1/login"`) || !strings.Contains(logs.String(), `"status":200`) {
		t.Errorf("no request line for the login after stop:\n%s", logs)
	}
}

func TestRunDevMode(t *testing.T) {
	clearEnv(t, map[string]string{"WXLOGIN_ADDR": "127.0.0.1:0"})
	base, logs, stop := startRun(t, "serve", "-dev")
	defer stop()
	if !strings.Contains(logs.String(), "DEVELOPMENT MODE") {
		t.Errorf("no loud dev warning in logs:\n%s", logs)
	}
	s1, a1 := postLogin(t, base, "any-code-you-like")
	s2, a2 := postLogin(t, base, "any-code-you-like")
	s3, a3 := postLogin(t, base, "another-code")
	if s1 != 200 || s2 != 200 || s3 != 200 {
		t.Fatalf("dev logins: %d %d %d", s1, s2, s3)
	}
	if a1["openid"] != a2["openid"] || a1["openid"] == a3["openid"] {
		t.Errorf("openids: same code %v/%v, other code %v", a1["openid"], a2["openid"], a3["openid"])
	}
	c := verifyWithServedJWKS(t, base, a1["token"].(string), devAppID)
	if c.Subject != a1["openid"] {
		t.Errorf("sub = %q, want %v", c.Subject, a1["openid"])
	}
}

func TestHealthcheck(t *testing.T) {
	status := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := run(ctx, []string{"wxlogin", "healthcheck", "-url", srv.URL + "/healthz"}, io.Discard, io.Discard); err != nil {
		t.Errorf("healthy server: %v", err)
	}
	status = 503
	if err := run(ctx, []string{"wxlogin", "healthcheck", "-url", srv.URL + "/healthz"}, io.Discard, io.Discard); err == nil {
		t.Error("unhealthy server: healthcheck succeeded")
	}
	// By default it asks WXLOGIN_ADDR's port on 127.0.0.1.
	clearEnv(t, map[string]string{"WXLOGIN_ADDR": strings.TrimPrefix(srv.URL, "http://127.0.0.1")})
	status = 200
	if err := run(ctx, []string{"wxlogin", "healthcheck"}, io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck from WXLOGIN_ADDR: %v", err)
	}
}

func TestUnknownCommand(t *testing.T) {
	if err := run(context.Background(), []string{"wxlogin", "frobnicate"}, io.Discard, io.Discard); err == nil {
		t.Error("unknown command succeeded")
	}
}

// keyFromJWK reads a public EC P-256 or Ed25519 JWK, independently of the
// token package's encoder.
func keyFromJWK(raw json.RawMessage) (token.Key, error) {
	var j struct{ Kty, Crv, X, Y, Kid, Alg string }
	if err := json.Unmarshal(raw, &j); err != nil {
		return token.Key{}, err
	}
	x, errX := base64.RawURLEncoding.DecodeString(j.X)
	if errX != nil {
		return token.Key{}, errX
	}
	var pub any
	switch {
	case j.Kty == "EC" && j.Crv == "P-256":
		y, err := base64.RawURLEncoding.DecodeString(j.Y)
		if err != nil {
			return token.Key{}, err
		}
		ec, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return token.Key{}, err
		}
		pub = ec
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		pub = ed25519.PublicKey(x)
	default:
		return token.Key{}, fmt.Errorf("unexpected JWK %s/%s", j.Kty, j.Crv)
	}
	k, err := token.NewKey(pub)
	if err != nil {
		return token.Key{}, err
	}
	if k.KID != j.Kid || k.Alg != j.Alg {
		return token.Key{}, fmt.Errorf("JWK kid/alg %s/%s, want %s/%s", j.Kid, j.Alg, k.KID, k.Alg)
	}
	return k, nil
}
