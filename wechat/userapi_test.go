package wechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

const (
	uaAppID  = "wx5555555555555555"
	uaSecret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-0001"
)

// clock is a settable time for the fake and the cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newUserAPIClient(t *testing.T, opts wechattest.Options) (*wechat.Client, *wechattest.Server) {
	t.Helper()
	opts.AppID, opts.Secret = uaAppID, uaSecret
	srv := wechattest.NewServer(opts)
	t.Cleanup(srv.Close)
	return wechat.New(wechat.Config{BaseURL: srv.URL, AppID: uaAppID, Secret: uaSecret, Timeout: 300 * time.Millisecond}), srv
}

func mustToken(t *testing.T, c *wechat.Client, force bool) wechat.AccessToken {
	t.Helper()
	at, err := c.StableAccessToken(context.Background(), force)
	if err != nil {
		t.Fatalf("StableAccessToken(force=%v): %v", force, err)
	}
	return at
}

func TestStableAccessToken(t *testing.T) {
	clk := newClock()
	c, srv := newUserAPIClient(t, wechattest.Options{Now: clk.Now})

	first := mustToken(t, c, false)
	if first.Token == "" || first.ExpiresIn != 7200*time.Second {
		t.Fatalf("first token: %v, want a token for 7200s", first)
	}
	clk.Advance(100 * time.Second)
	again := mustToken(t, c, false)
	if again.Token != first.Token || again.ExpiresIn != 7100*time.Second {
		t.Errorf("normal mode 100s later: same token %v, expires in %s; want the same token, 7100s", again.Token == first.Token, again.ExpiresIn)
	}

	// force_refresh rotates and invalidates the old token at once.
	forced := mustToken(t, c, true)
	if forced.Token == first.Token {
		t.Fatal("force_refresh returned the old token")
	}
	if _, err := c.GetPhoneNumber(context.Background(), first.Token, srv.PhoneCode("86", "13800138000")); !errors.Is(err, wechat.ErrAccessToken) {
		t.Errorf("old token after force_refresh: err = %v, want ErrAccessToken", err)
	}
	// A second force_refresh within 30s does not rotate, as WeChat's.
	if again := mustToken(t, c, true); again.Token != forced.Token {
		t.Error("force_refresh 0s after the last one rotated the token")
	}
	if n := srv.Calls("/cgi-bin/stable_token"); n != 4 {
		t.Errorf("stable_token calls = %d, want 4", n)
	}

	// In the last 5 minutes, normal mode hands out the next token while
	// the old one keeps working until it expires.
	clk.Advance(7200*time.Second - 4*time.Minute)
	next := mustToken(t, c, false)
	if next.Token == forced.Token || next.ExpiresIn != 7200*time.Second {
		t.Fatalf("within 5 minutes of expiry: new token %v, expires in %s; want a new 7200s token", next.Token != forced.Token, next.ExpiresIn)
	}
	code := srv.PhoneCode("86", "13800138000")
	if _, err := c.GetPhoneNumber(context.Background(), forced.Token, code); err != nil {
		t.Errorf("old token in the handover window: %v", err)
	}
	clk.Advance(5 * time.Minute)
	var ae *wechat.APIError
	if _, err := c.GetPhoneNumber(context.Background(), forced.Token, srv.PhoneCode("86", "1")); !errors.As(err, &ae) || ae.Code != 42001 || !errors.Is(err, wechat.ErrAccessToken) {
		t.Errorf("old token after expiry: err = %v, want ErrAccessToken with 42001", err)
	}
}

func TestStableAccessTokenErrors(t *testing.T) {
	tests := []struct {
		name  string
		fault wechattest.Fault
		want  error
	}{
		{"wrong secret", wechattest.ErrcodeFault(40125), wechat.ErrMisconfigured},
		{"40001 from a token API is a wrong secret", wechattest.ErrcodeFault(40001), wechat.ErrMisconfigured},
		{"IP not whitelisted", wechattest.ErrcodeFault(40164), wechat.ErrMisconfigured},
		{"busy", wechattest.ErrcodeFault(-1), wechat.ErrBusy},
		{"daily quota", wechattest.ErrcodeFault(45009), wechat.ErrUpstream},
		{"no token", wechattest.StatusFault(200, `{"expires_in":7200}`), wechat.ErrUpstream},
		{"no expiry", wechattest.StatusFault(200, `{"access_token":"x"}`), wechat.ErrUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := newUserAPIClient(t, wechattest.Options{})
			srv.Inject(tt.fault)
			_, err := c.StableAccessToken(context.Background(), false)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if errors.Is(err, wechat.ErrAccessToken) {
				t.Errorf("err = %v also says ErrAccessToken: a caller would refetch in a loop", err)
			}
		})
	}

	// The real fake refuses a wrong secret the same way.
	srv := wechattest.NewServer(wechattest.Options{AppID: uaAppID, Secret: uaSecret})
	defer srv.Close()
	c := wechat.New(wechat.Config{BaseURL: srv.URL, AppID: uaAppID, Secret: "wrong"})
	if _, err := c.StableAccessToken(context.Background(), false); !errors.Is(err, wechat.ErrMisconfigured) {
		t.Errorf("wrong secret: err = %v, want ErrMisconfigured", err)
	}
}

func TestStableAccessTokenSendsJSON(t *testing.T) {
	c, srv := newUserAPIClient(t, wechattest.Options{})
	var body map[string]any
	var method, ctype, query string
	srv.Inject(func(w http.ResponseWriter, r *http.Request) bool {
		method, ctype, query = r.Method, r.Header.Get("Content-Type"), r.URL.RawQuery
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		io.WriteString(w, `{"access_token":"t","expires_in":7200}`)
		return true
	})
	mustToken(t, c, false)
	want := map[string]any{"grant_type": "client_credential", "appid": uaAppID, "secret": uaSecret, "force_refresh": false}
	if method != http.MethodPost || ctype != "application/json" || query != "" {
		t.Errorf("request: %s, %q, query %q; want POST application/json, no query (the secret stays out of URLs)", method, ctype, query)
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body[%q] = %v, want %v", k, body[k], v)
		}
	}
}

func TestGetPhoneNumber(t *testing.T) {
	clk := newClock()
	c, srv := newUserAPIClient(t, wechattest.Options{Now: clk.Now})
	at := mustToken(t, c, false).Token

	code := srv.PhoneCode("86", "13800138000")
	p, err := c.GetPhoneNumber(context.Background(), at, code)
	if err != nil {
		t.Fatal(err)
	}
	want := wechat.PhoneNumber{PhoneNumber: "13800138000", PurePhoneNumber: "13800138000", CountryCode: "86",
		Watermark: wechat.Watermark{AppID: uaAppID, Timestamp: clk.Now().Unix()}}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}

	p, err = c.GetPhoneNumber(context.Background(), at, srv.PhoneCode("852", "61234567"))
	if err != nil || p.PhoneNumber != "+85261234567" || p.PurePhoneNumber != "61234567" || p.CountryCode != "852" {
		t.Errorf("Hong Kong number: %+v, %v", p, err)
	}

	var ae *wechat.APIError
	wantInvalid := func(name, code string) {
		t.Helper()
		if _, err := c.GetPhoneNumber(context.Background(), at, code); !errors.Is(err, wechat.ErrInvalidCode) || !errors.As(err, &ae) || ae.Code != 40029 {
			t.Errorf("%s: err = %v, want ErrInvalidCode with 40029", name, err)
		}
	}
	wantInvalid("used code", code)
	wantInvalid("unknown code", "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144")
	expiring := srv.PhoneCode("86", "13900000000")
	clk.Advance(5*time.Minute + time.Second)
	wantInvalid("expired code", expiring)

	// A refused token spends no code: it still works with a good token.
	code = srv.PhoneCode("86", "13800138001")
	if _, err := c.GetPhoneNumber(context.Background(), "not-a-token", code); !errors.Is(err, wechat.ErrAccessToken) || !errors.As(err, &ae) || ae.Code != 40001 {
		t.Errorf("bad access token: err = %v, want ErrAccessToken with 40001", err)
	}
	if _, err := c.GetPhoneNumber(context.Background(), at, code); err != nil {
		t.Errorf("the code after a refused token: %v", err)
	}
}

func TestGetPhoneNumberAnswers(t *testing.T) {
	tests := []struct {
		name, body string
		want       error
		country    string
	}{
		{"numeric countryCode, as WeChat's example shows", `{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":86,"watermark":{"timestamp":1637744274,"appid":"` + uaAppID + `"}}}`, nil, "86"},
		{"no phone_info", `{"errcode":0,"errmsg":"ok"}`, wechat.ErrUpstream, ""},
		{"another appid's watermark", `{"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"1","purePhoneNumber":"1","countryCode":"86","watermark":{"timestamp":1,"appid":"wx9999999999999999"}}}`, wechat.ErrUpstream, ""},
		{"busy", `{"errcode":-1,"errmsg":"system error"}`, wechat.ErrBusy, ""},
		{"rate limited", `{"errcode":45011,"errmsg":"api minute-quota reach limit"}`, wechat.ErrRateLimited, ""},
		{"expired token", `{"errcode":42001,"errmsg":"access_token expired"}`, wechat.ErrAccessToken, ""},
		{"token not latest", `{"errcode":40014,"errmsg":"invalid access_token"}`, wechat.ErrAccessToken, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := newUserAPIClient(t, wechattest.Options{})
			srv.Inject(wechattest.StatusFault(200, tt.body))
			p, err := c.GetPhoneNumber(context.Background(), "tok", "code")
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if p.CountryCode != tt.country {
				t.Errorf("countryCode = %q, want %q", p.CountryCode, tt.country)
			}
		})
	}
}

func TestCheckSession(t *testing.T) {
	c, srv := newUserAPIClient(t, wechattest.Options{})
	at := mustToken(t, c, false).Token
	s1, err := c.Code2Session(context.Background(), srv.Code("carol"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.CheckSession(context.Background(), at, s1.OpenID, s1.SessionKey); !ok || err != nil {
		t.Fatalf("current session_key: %v, %v; want true", ok, err)
	}

	// A later wx.login replaces the session_key: the old one is no longer current.
	s2, err := c.Code2Session(context.Background(), srv.Code("carol"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.CheckSession(context.Background(), at, s1.OpenID, s1.SessionKey); ok || err != nil {
		t.Errorf("replaced session_key: %v, %v; want false, nil", ok, err)
	}
	if ok, err := c.CheckSession(context.Background(), at, s2.OpenID, s2.SessionKey); !ok || err != nil {
		t.Errorf("new session_key: %v, %v; want true", ok, err)
	}

	if _, err := c.CheckSession(context.Background(), "bad-token", s2.OpenID, s2.SessionKey); !errors.Is(err, wechat.ErrAccessToken) {
		t.Errorf("bad access token: err = %v, want ErrAccessToken", err)
	}
	if _, err := c.CheckSession(context.Background(), at, "o-nobody", s2.SessionKey); !errors.Is(err, wechat.ErrUpstream) {
		t.Errorf("unknown openid: err = %v, want ErrUpstream", err)
	}
}

func TestCheckSessionSendsSignatureNotKey(t *testing.T) {
	c, srv := newUserAPIClient(t, wechattest.Options{})
	var rawQuery, method string
	srv.Inject(func(w http.ResponseWriter, r *http.Request) bool {
		method, rawQuery = r.Method, r.URL.RawQuery
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
		return true
	})
	const sk = "o0q0otL8aEzpcZL/FT9WsQ=="
	if ok, err := c.CheckSession(context.Background(), "tok", "oGZUI0egBJY1zhBYw2KhdUfwVJJE", sk); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if method != http.MethodGet || strings.Contains(rawQuery, "o0q0otL8") || strings.Contains(rawQuery, "o0q0otL8aEzpcZL%2FFT9WsQ") {
		t.Errorf("request %s ?%s sends the session_key", method, rawQuery)
	}
	for _, want := range []string{"sig_method=hmac_sha256", "signature=" + wechat.SessionSignature(sk, nil), "openid=oGZUI0egBJY1zhBYw2KhdUfwVJJE", "access_token=tok"} {
		if !strings.Contains(rawQuery, want) {
			t.Errorf("query %q lacks %q", rawQuery, want)
		}
	}
}

func TestUserAPIErrorsKeepSecretsOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connection refused from now on
	c := wechat.New(wechat.Config{BaseURL: "http://" + addr, AppID: uaAppID, Secret: uaSecret})
	const tok, code, sk = "ACCESS-TOKEN-123", "PHONE-CODE-456", "SESSIONKEY789abcdefghi=="
	_, err1 := c.StableAccessToken(context.Background(), false)
	_, err2 := c.GetPhoneNumber(context.Background(), tok, code)
	_, err3 := c.CheckSession(context.Background(), tok, "openid", sk)
	for _, err := range []error{err1, err2, err3} {
		if !errors.Is(err, wechat.ErrUnavailable) {
			t.Errorf("err = %v, want ErrUnavailable", err)
		}
		for _, secret := range []string{uaSecret, tok, code, sk, wechat.SessionSignature(sk, nil)} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q leaks %q", err, secret)
			}
		}
	}
	at := wechat.AccessToken{Token: tok, ExpiresIn: time.Hour}
	for _, s := range []string{at.String(), at.GoString(), at.LogValue().String()} {
		if strings.Contains(s, tok) {
			t.Errorf("AccessToken prints as %q", s)
		}
	}
}
