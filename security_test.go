package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/token/tokentest"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// The ES256 twin (r, n−s) of a token is refused by default; with
// WXLOGIN_ACCEPT_HIGH_S_BEFORE after the token's iat (the transition for
// tokens signed before low-s signing) it is accepted.
func TestAcceptHighSBefore(t *testing.T) {
	km := newKeyMaterial(t)
	d := newDeployment(t)
	env := map[string]string{"WXLOGIN_SIGNING_KEY": km.signingKey, "WXLOGIN_SESSION_KEY_SECRET": km.sessionSecret}
	d.deploy(t, env)
	tok, _ := d.login(t, "code-of-a-user")
	twin := tokentest.Twin(tok)
	if resp, body := d.session(t, tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("the token: %d %s", resp.StatusCode, body)
	}
	if resp, body := d.session(t, twin); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("its twin, no transition: %d %s; want 401", resp.StatusCode, body)
	}

	for _, tc := range []struct {
		cutover time.Time
		want    int
	}{
		{time.Now().Add(time.Hour), http.StatusOK},            // issued before the cut-over
		{time.Now().Add(-time.Hour), http.StatusUnauthorized}, // issued after it
	} {
		env["WXLOGIN_ACCEPT_HIGH_S_BEFORE"] = tc.cutover.UTC().Format(time.RFC3339)
		d.deploy(t, env)
		if resp, body := d.session(t, twin); resp.StatusCode != tc.want {
			t.Errorf("cut-over %s: the twin: %d %s; want %d", env["WXLOGIN_ACCEPT_HIGH_S_BEFORE"], resp.StatusCode, body, tc.want)
		}
	}
}

var metricsLine = regexp.MustCompile(`"msg":"serving /metrics on its own listener","addr":"([^"]+)"`)

// With WXLOGIN_METRICS_ADDR, /metrics is served there and only there; the
// public listener answers it 404. Unset, it stays on the public listener.
func TestMetricsAddr(t *testing.T) {
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	env := prodEnv(t, wx.URL)
	status := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	clearEnv(t, env)
	base, _, stop := startRun(t)
	if code, body := status(base + "/metrics"); code != 200 || !strings.Contains(body, "wxlogin_") {
		t.Errorf("unset: public /metrics: %d; want 200 with wxlogin_ series", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	env["WXLOGIN_METRICS_ADDR"] = "127.0.0.1:0"
	clearEnv(t, env)
	base, logs, stop := startRun(t)
	defer stop()
	var m []string
	for deadline := time.Now().Add(5 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = metricsLine.FindStringSubmatch(logs.String())
	}
	if m == nil {
		t.Fatalf("no log line names the metrics listener:\n%s", logs)
	}
	if code, body := status("http://" + m[1] + "/metrics"); code != 200 || !strings.Contains(body, "wxlogin_") {
		t.Errorf("metrics listener: /metrics: %d; want 200 with wxlogin_ series", code)
	}
	if code, _ := status(base + "/metrics"); code != http.StatusNotFound {
		t.Errorf("public listener: /metrics: %d; want 404", code)
	}
	if code, _ := status("http://" + m[1] + "/healthz"); code != http.StatusNotFound {
		t.Errorf("metrics listener: /healthz: %d; want 404 (it serves /metrics only)", code)
	}
}

// WXLOGIN_USER_RATE_LIMIT reaches the server: with 2, the third session
// check of one token in a minute is 429 rate_limited.
func TestUserRateLimitSetting(t *testing.T) {
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	env := prodEnv(t, wx.URL)
	env["WXLOGIN_USER_RATE_LIMIT"] = "2"
	clearEnv(t, env)
	base, _, stop := startRun(t)
	defer stop()
	status, ans := postLogin(t, base, wx.Code("alice"))
	tok, _ := ans["token"].(string)
	if status != 200 || tok == "" {
		t.Fatalf("login: %d %v", status, ans)
	}
	var got []int
	for range 3 {
		req, _ := http.NewRequest("POST", base+"/v1/session/check", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if got[0] != 200 || got[1] != 200 || got[2] != http.StatusTooManyRequests {
		t.Errorf("three session checks: %v; want 200 200 429", got)
	}
}
