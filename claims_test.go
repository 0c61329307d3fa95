package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/jackc/pgx/v5"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/claims/claimstest"
	"github.com/wxlogin/wxlogin/internal/pgtest"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// Each mistake in the claims hook's variables stops start-up with a
// message naming the variable, and never the secret.
func TestClaimsConfigErrors(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("K"), 32))
	short := base64.StdEncoding.EncodeToString([]byte("short-secret-0123456789")) // 23 bytes
	tests := []struct {
		name string
		env  map[string]string
		want string // the variable named, and what it says
	}{
		{"URL without secret", map[string]string{"WXLOGIN_CLAIMS_URL": "http://127.0.0.1:8091/claims"}, "WXLOGIN_CLAIMS_SECRET: required with WXLOGIN_CLAIMS_URL"},
		{"secret without URL", map[string]string{"WXLOGIN_CLAIMS_SECRET": good}, "WXLOGIN_CLAIMS_URL: not set"},
		{"short secret", map[string]string{"WXLOGIN_CLAIMS_URL": "http://127.0.0.1:8091/claims", "WXLOGIN_CLAIMS_SECRET": short}, "WXLOGIN_CLAIMS_SECRET: the secret decodes to 23 bytes; want at least 32"},
		{"secret not base64", map[string]string{"WXLOGIN_CLAIMS_URL": "http://127.0.0.1:8091/claims", "WXLOGIN_CLAIMS_SECRET": "not base64 at all!"}, "WXLOGIN_CLAIMS_SECRET: the secret is not base64"},
		{"ftp URL", map[string]string{"WXLOGIN_CLAIMS_URL": "ftp://hooks.example.com/claims", "WXLOGIN_CLAIMS_SECRET": good}, "WXLOGIN_CLAIMS_URL: must be an absolute http(s) URL"},
		{"URL without scheme", map[string]string{"WXLOGIN_CLAIMS_URL": "127.0.0.1:8091/claims", "WXLOGIN_CLAIMS_SECRET": good}, "WXLOGIN_CLAIMS_URL: must be an absolute http(s) URL"},
		{"timeout too short", map[string]string{"WXLOGIN_CLAIMS_URL": "http://127.0.0.1:8091/claims", "WXLOGIN_CLAIMS_SECRET": good, "WXLOGIN_CLAIMS_TIMEOUT": "10ms"}, "WXLOGIN_CLAIMS_TIMEOUT: 10ms is out of range"},
		{"secret and its file", map[string]string{"WXLOGIN_CLAIMS_URL": "http://127.0.0.1:8091/claims", "WXLOGIN_CLAIMS_SECRET": good, "WXLOGIN_CLAIMS_SECRET_FILE": "/dev/null"}, "WXLOGIN_CLAIMS_SECRET and WXLOGIN_CLAIMS_SECRET_FILE are both set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := prodEnv(t, "https://api.weixin.qq.com")
			for k, v := range tt.env {
				env[k] = v
			}
			clearEnv(t, env)
			err := run(context.Background(), []string{"wxlogin"}, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			for _, secret := range []string{good, short, "not base64 at all!"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes a secret: %v", err)
				}
			}
		})
	}
}

func TestClaimsConfigDefaultsAndFile(t *testing.T) {
	clearEnv(t, prodEnv(t, "https://api.weixin.qq.com"))
	cfg, err := configure(false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClaimsURL != "" || cfg.ClaimsTimeout != 2*time.Second || cfg.PhoneInToken {
		t.Errorf("defaults: url %q timeout %s phone in token %v; want none, 2s, false", cfg.ClaimsURL, cfg.ClaimsTimeout, cfg.PhoneInToken)
	}
	if hook, err := cfg.claimsHook(nil); hook != nil || err != nil {
		t.Errorf("without a URL: hook %v, err %v; want none", hook, err)
	}

	key := bytes.Repeat([]byte{0xa5}, 48)
	file := filepath.Join(t.TempDir(), "claims-secret")
	os.WriteFile(file, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600)
	env := prodEnv(t, "https://api.weixin.qq.com")
	env["WXLOGIN_CLAIMS_URL"] = "https://hooks.internal.example/claims"
	env["WXLOGIN_CLAIMS_SECRET_FILE"] = file
	env["WXLOGIN_CLAIMS_TIMEOUT"] = "750ms"
	env["WXLOGIN_PHONE_IN_TOKEN"] = "true"
	clearEnv(t, env)
	cfg, err = configure(false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.claimsKey()
	if err != nil || !bytes.Equal(got, key) || cfg.ClaimsTimeout != 750*time.Millisecond || !cfg.PhoneInToken {
		t.Errorf("from the file: key ok %v (%v), timeout %s, phone in token %v", bytes.Equal(got, key), err, cfg.ClaimsTimeout, cfg.PhoneInToken)
	}
	printed := fmt.Sprintf("%v %+v %#v", *cfg, *cfg, *cfg)
	if strings.Contains(printed, base64.StdEncoding.EncodeToString(key)) {
		t.Error("printing the config shows the claims secret")
	}
}

// The whole program with a test hook: the hook's claims in a token the
// served JWKS verifies, and the hook's log joined by the request id.
func TestRunWithClaimsHook(t *testing.T) {
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	hook := claimstest.NewServer()
	defer hook.Close()
	hook.Answer(claims.Answer{Sub: "u-1", Claims: map[string]any{"role": "web_user"}})
	env := prodEnv(t, wx.URL)
	env["WXLOGIN_CLAIMS_URL"] = hook.URL + "/claims"
	env["WXLOGIN_CLAIMS_SECRET"] = hook.Secret()
	clearEnv(t, env)
	base, logs, stop := startRun(t)

	code := wx.Code("quinn")
	status, ans := send(t, "POST", base+"/v1/login", "", map[string]string{"code": code})
	if status != 200 {
		t.Fatalf("login: %d %v", status, ans)
	}
	tok := ans["token"].(string)
	c := verifyWithServedJWKS(t, base, tok, testAppID)
	if c.Subject != "u-1" || c.OpenID() != wx.OpenID("quinn") || c.Extra["role"] != "web_user" {
		t.Errorf("claims %+v", c)
	}
	calls := hook.Calls()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`wxlogin_claims_hook_requests_total{result="ok"} 1`, `wxlogin_claims_hook_requests_total{result="timeout"} 0`, "wxlogin_claims_hook_request_duration_seconds_count 1"} {
		if !strings.Contains(string(exposition), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Err != nil || calls[0].Header.Get("X-Request-Id") == "" {
		t.Fatalf("hook calls %+v", calls)
	}
	if !strings.Contains(logs.String(), `"request_id":"`+calls[0].Header.Get("X-Request-Id")+`"`) {
		t.Error("the hook's request id is not in wxlogin's log")
	}
	for _, s := range []string{hook.Secret(), code, tok} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the logs hold a secret %q…", s[:6])
		}
	}
}

// A token with a hook's Hasura claims, and one with the most claims a hook
// may give, are verified by go-jose, a JOSE library wxlogin did not write,
// with the key set the server publishes.
func TestInteropGoJoseHookClaims(t *testing.T) {
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	hook := claimstest.NewServer()
	defer hook.Close()
	env := prodEnv(t, wx.URL)
	env["WXLOGIN_CLAIMS_URL"] = hook.URL
	env["WXLOGIN_CLAIMS_SECRET"] = hook.Secret()
	clearEnv(t, env)
	base, _, stop := startRun(t)
	defer stop()

	var set jose.JSONWebKeySet
	getJSON(t, base+"/.well-known/jwks.json", &set)
	hasura := map[string]any{"x-hasura-allowed-roles": []any{"user", "member"}, "x-hasura-default-role": "member", "x-hasura-user-id": "10042"}
	pad := strings.Repeat("p", claims.MaxClaimsSize-len(`{"pad":""}`))
	for _, answer := range []claims.Answer{
		{Sub: "10042", Claims: map[string]any{"https://hasura.io/jwt/claims": hasura}},
		{Sub: strings.Repeat("s", claims.MaxSubjectLen), Claims: map[string]any{"pad": pad}},
	} {
		hook.Answer(answer)
		status, ans := send(t, "POST", base+"/v1/login", "", map[string]string{"code": wx.Code("rosa")})
		if status != 200 {
			t.Fatalf("login: %d %v", status, ans)
		}
		tok := ans["token"].(string)
		parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
		if err != nil {
			t.Fatalf("go-jose cannot parse a %d-byte token: %v", len(tok), err)
		}
		keys := set.Key(parsed.Headers[0].KeyID)
		if len(keys) != 1 {
			t.Fatal("the token's kid is not in the JWKS")
		}
		var std josejwt.Claims
		var all map[string]any
		if err := parsed.Claims(keys[0].Key, &std, &all); err != nil {
			t.Fatalf("go-jose refuses a %d-byte token: %v", len(tok), err)
		}
		if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: env["WXLOGIN_ISSUER"], AnyAudience: josejwt.Audience{testAppID}, Time: time.Now()}, 0); err != nil {
			t.Error(err)
		}
		if std.Subject != answer.Sub || all["openid"] != wx.OpenID("rosa") {
			t.Errorf("sub %q openid %v, want the hook's sub and the openid", std.Subject, all["openid"])
		}
		for name, want := range answer.Claims {
			if !reflect.DeepEqual(all[name], want) {
				t.Errorf("claim %s = %v, want %v", name, all[name], want)
			}
		}
	}
}

// The PostgreSQL example end to end, as its README wires it: wxlogin,
// examples/claims-hook (built and run as a program) and a real
// PostgreSQL. A first login creates the user, a second finds the same
// one, and a phone binding makes them a member; another WeChat user
// binding the same number is merged into them; a blocked user is refused.
func TestRunClaimsHookPostgres(t *testing.T) {
	dsn := pgtest.Start(t)
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
	hookURL := startExampleHook(t, dsn, secret)

	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret, UnionID: true})
	defer wx.Close()
	env := prodEnv(t, wx.URL)
	env["WXLOGIN_CLAIMS_URL"] = hookURL
	env["WXLOGIN_CLAIMS_SECRET"] = secret
	env["WXLOGIN_PHONE_IN_TOKEN"] = "true"
	clearEnv(t, env)
	base, logs, stop := startRun(t)
	defer stop()

	login := func(user string) string {
		t.Helper()
		status, ans := send(t, "POST", base+"/v1/login", "", map[string]string{"code": wx.Code(user)})
		if status != 200 {
			t.Fatalf("login %s: %d %v\n%s", user, status, ans, logs)
		}
		return ans["token"].(string)
	}
	session := func(tok string) map[string]any {
		t.Helper()
		status, ans := send(t, "GET", base+"/v1/session", tok, nil)
		if status != 200 {
			t.Fatalf("session: %d %v", status, ans)
		}
		return ans
	}
	wantSession := func(what string, got map[string]any, sub string, roles ...any) {
		t.Helper()
		want := map[string]any{"roles": roles}
		if got["sub"] != sub || !reflect.DeepEqual(got["claims"], want) {
			t.Errorf("%s: session %v, want sub %s and claims %v", what, got, sub, want)
		}
	}

	alice := login("alice")
	wantSession("first login", session(alice), "1", "visitor")
	if s := session(alice); s["openid"] != wx.OpenID("alice") || s["unionid"] != wx.UnionID("alice") {
		t.Errorf("session %v: want alice's openid and unionid beside the hook's sub", s)
	}
	alice = login("alice")
	wantSession("second login", session(alice), "1", "visitor")

	status, ans := send(t, "POST", base+"/v1/phone", alice, map[string]string{"code": wx.PhoneCode("86", "13800138000")})
	if status != 200 || ans["phoneNumber"] != "13800138000" || ans["token_type"] != "Bearer" {
		t.Fatalf("phone: %d %v", status, ans)
	}
	alice = ans["token"].(string)
	wantSession("after the phone binding", session(alice), "1", "member")
	c := verifyWithServedJWKS(t, base, alice, testAppID)
	if c.PhoneNumber != "+8613800138000" || !c.PhoneNumberVerified || c.OpenID() != wx.OpenID("alice") {
		t.Errorf("fresh token %+v: want alice with her phone number", c)
	}

	bob := login("bob")
	wantSession("another user", session(bob), "2", "visitor")
	status, ans = send(t, "POST", base+"/v1/phone", bob, map[string]string{"code": wx.PhoneCode("86", "13800138000")})
	if status != 200 {
		t.Fatalf("bob's phone: %d %v", status, ans)
	}
	wantSession("merged into the account with the number", session(ans["token"].(string)), "1", "member")
	wantSession("bob's next login", session(login("bob")), "1", "member")

	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `UPDATE users SET blocked = true WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	status, ans = send(t, "POST", base+"/v1/login", "", map[string]string{"code": wx.Code("alice")})
	if status != 403 || ans["code"] != "login_denied" || ans["detail"] != "this account is blocked; write to support@example.com" {
		t.Errorf("blocked: %d %v", status, ans)
	}
}

// startExampleHook builds examples/claims-hook and runs it against the
// database at dsn until the test ends; it returns the hook's URL.
func startExampleHook(t *testing.T, dsn, secret string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "claims-hook")
	build := exec.Command("go", "build", "-o", bin, "./examples/claims-hook")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/claims-hook: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "CLAIMS_SECRET="+secret, "DATABASE_URL="+dsn, "ADDR="+addr)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return "http://" + addr + "/claims"
			}
		}
	}
	t.Fatalf("the example hook did not become healthy:\n%s", stderr.String())
	return ""
}

// With WXLOGIN_SUBJECT=unionid, a login to an app that gets no unionid
// cannot give a token: it is refused before the claims hook is asked,
// so the hook neither spends a call nor creates a user for it.
func TestRunUnionIDSubjectAsksNoHookWithoutUnionID(t *testing.T) {
	wx := newAppsFake(t)
	hook := claimstest.NewServer()
	defer hook.Close()
	env := appsEnv(t, wx)
	env["WXLOGIN_SUBJECT"] = "unionid"
	env["WXLOGIN_CLAIMS_URL"] = hook.URL + "/claims"
	env["WXLOGIN_CLAIMS_SECRET"] = hook.Secret()
	clearEnv(t, env)
	base, _, stop := startRun(t)
	defer stop()

	status, ans := send(t, "POST", base+"/v1/login", "", map[string]string{"code": wx.App(cardID).Code("alice"), "appid": cardID})
	wantCode(t, "card without unionid", status, ans, 502, "upstream_error")
	if n := len(hook.Calls()); n != 0 {
		t.Errorf("the hook was called %d times for a login that cannot get a token", n)
	}
	// An app with a unionid still asks the hook.
	if tok, _ := loginTo(t, base, gameID, wx.App(gameID).Code("alice")); tok == "" || len(hook.Calls()) != 1 {
		t.Errorf("game login: token %q, %d hook calls; want a token and one call", tok, len(hook.Calls()))
	}
}
