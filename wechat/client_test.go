package wechat_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

const (
	testAppID  = "wx0123456789abcdef"
	testSecret = "0123456789abcdef0123456789abcdef"
)

func newClient(t *testing.T, opts wechattest.Options) (*wechat.Client, *wechattest.Server) {
	t.Helper()
	opts.AppID, opts.Secret = testAppID, testSecret
	srv := wechattest.NewServer(opts)
	t.Cleanup(srv.Close)
	c := wechat.New(wechat.Config{BaseURL: srv.URL, AppID: testAppID, Secret: testSecret, Timeout: 300 * time.Millisecond})
	return c, srv
}

func TestCode2Session(t *testing.T) {
	for _, opts := range []wechattest.Options{
		{},                  // errcode absent, as jscode2session really answers
		{ZeroErrcode: true}, // errcode 0 and errmsg "ok"
		{UnionID: true},
	} {
		c, srv := newClient(t, opts)
		s, err := c.Code2Session(context.Background(), srv.Code("alice"))
		if err != nil {
			t.Fatalf("%+v: Code2Session: %v", opts, err)
		}
		if got, want := s.OpenID, srv.OpenID("alice"); got != want {
			t.Errorf("openid = %q, want %q", got, want)
		}
		if got, want := s.SessionKey, srv.SessionKey(s.OpenID); got != want || got == "" {
			t.Errorf("session_key = %q, want %q", got, want)
		}
		if opts.UnionID && s.UnionID != srv.UnionID("alice") {
			t.Errorf("unionid = %q, want %q", s.UnionID, srv.UnionID("alice"))
		}
		if !opts.UnionID && s.UnionID != "" {
			t.Errorf("unionid = %q, want none", s.UnionID)
		}
	}
}

func TestCode2SessionReusedCode(t *testing.T) {
	c, srv := newClient(t, wechattest.Options{StringErrcode: true})
	code := srv.Code("bob")
	if _, err := c.Code2Session(context.Background(), code); err != nil {
		t.Fatal(err)
	}
	_, err := c.Code2Session(context.Background(), code)
	var ae *wechat.APIError
	if !errors.Is(err, wechat.ErrInvalidCode) || !errors.As(err, &ae) || ae.Code != 40163 {
		t.Fatalf("reused code: err = %v, want ErrInvalidCode with errcode 40163", err)
	}
	if n := srv.Calls("/sns/jscode2session"); n != 2 {
		t.Errorf("calls = %d, want 2 (no retries)", n)
	}
}

func TestCode2SessionErrors(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	tests := []struct {
		name  string
		fault wechattest.Fault
		want  error
	}{
		{"invalid code", wechattest.ErrcodeFault(40029), wechat.ErrInvalidCode},
		{"used code", wechattest.ErrcodeFault(40163), wechat.ErrInvalidCode},
		{"blocked", wechattest.ErrcodeFault(40226), wechat.ErrBlocked},
		{"rate limited", wechattest.ErrcodeFault(45011), wechat.ErrRateLimited},
		{"busy", wechattest.ErrcodeFault(-1), wechat.ErrBusy},
		{"bad appid", wechattest.ErrcodeFault(40013), wechat.ErrMisconfigured},
		{"bad secret", wechattest.ErrcodeFault(40125), wechat.ErrMisconfigured},
		{"unknown errcode", wechattest.ErrcodeFault(99999), wechat.ErrUpstream},
		{"string errcode", wechattest.StatusFault(200, `{"errcode":"40029","errmsg":"invalid code"}`), wechat.ErrInvalidCode},
		{"garbage", wechattest.StatusFault(200, `<html>gateway</html>`), wechat.ErrUpstream},
		{"non-numeric errcode", wechattest.StatusFault(200, `{"errcode":"oops"}`), wechat.ErrUpstream},
		{"no openid", wechattest.StatusFault(200, `{"session_key":"abc"}`), wechat.ErrUpstream},
		{"HTTP 500", wechattest.StatusFault(500, `internal`), wechat.ErrUpstream},
		{"HTTP 503", wechattest.StatusFault(503, ``), wechat.ErrUnavailable},
		{"hang", wechattest.HangFault(stop), wechat.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv := newClient(t, wechattest.Options{})
			srv.Inject(tt.fault)
			start := time.Now()
			_, err := c.Code2Session(context.Background(), "some-code")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %s; the 300ms deadline was not kept", took)
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "some-code") {
				t.Errorf("error %q leaks the secret or the code", err)
			}
		})
	}
}

func TestCode2SessionUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	c := wechat.New(wechat.Config{BaseURL: "http://" + addr, AppID: testAppID, Secret: testSecret})
	_, err = c.Code2Session(context.Background(), "code-123")
	if !errors.Is(err, wechat.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "code-123") {
		t.Errorf("error %q leaks the secret or the code", err)
	}
}

func TestCode2SessionSendsCredentials(t *testing.T) {
	c, srv := newClient(t, wechattest.Options{})
	var method, query string
	srv.Inject(func(w http.ResponseWriter, r *http.Request) bool {
		method, query = r.Method, r.URL.RawQuery
		return false
	})
	if _, err := c.Code2Session(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"appid=" + testAppID, "secret=" + testSecret, "js_code=x", "grant_type=authorization_code"} {
		if !strings.Contains(query, want) {
			t.Errorf("query %q lacks %q", query, want)
		}
	}
	if method != http.MethodGet {
		t.Errorf("method = %s, want GET", method)
	}
}

func TestParseAnswer(t *testing.T) {
	type out struct {
		OpenID string `json:"openid"`
	}
	tests := []struct {
		body     string
		wantCode int // 0: success
		wantErr  error
	}{
		{`{"openid":"o1","session_key":"k"}`, 0, nil},
		{`{"openid":"o1","errcode":0,"errmsg":"ok"}`, 0, nil},
		{`{"openid":"o1","errcode":"0"}`, 0, nil},
		{`{"openid":"o1","errcode":""}`, 0, nil},
		{`{"openid":"o1","errcode":null}`, 0, nil},
		{`{"openid":"o1","rid":"abc","unknown":{"nested":[1,2]}}`, 0, nil},
		{`{"errcode":40029,"errmsg":"invalid code, rid: 1"}`, 40029, wechat.ErrInvalidCode},
		{`{"errcode":"40163","errmsg":"code been used"}`, 40163, wechat.ErrInvalidCode},
		{`{"errcode":" -1 "}`, -1, wechat.ErrBusy},
		{`{"errcode":true}`, 0, wechat.ErrUpstream},
		{`{"openid":1}`, 0, wechat.ErrUpstream},
		{``, 0, wechat.ErrUpstream},
		{`[1]`, 0, wechat.ErrUpstream},
	}
	for _, tt := range tests {
		var o out
		err := wechat.ParseAnswer("/test", []byte(tt.body), &o)
		if tt.wantErr == nil {
			if err != nil || o.OpenID != "o1" {
				t.Errorf("ParseAnswer(%s) = %v, openid %q; want success with o1", tt.body, err, o.OpenID)
			}
			continue
		}
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("ParseAnswer(%s) = %v, want %v", tt.body, err, tt.wantErr)
		}
		var ae *wechat.APIError
		if tt.wantCode != 0 && (!errors.As(err, &ae) || ae.Code != tt.wantCode) {
			t.Errorf("ParseAnswer(%s): errcode = %v, want %d", tt.body, err, tt.wantCode)
		}
	}
}

// Whatever an answer holds, the error it becomes carries at most about
// 200 bytes of it: an errmsg, an errcode that is not a number, a number
// too large for its field; cut on a UTF-8 boundary.
func TestParseAnswerBoundsUpstreamText(t *testing.T) {
	long := strings.Repeat("微", 100_000) // 3 bytes each: a cut must not split one
	var out struct {
		ErrCode   int `json:"errcode"`
		ExpiresIn int `json:"expires_in"`
	}
	for name, body := range map[string]string{
		"errmsg":            `{"errcode":40099,"errmsg":"` + long + `"}`,
		"errcode as string": `{"errcode":"` + long + `"}`,
		"huge number":       `{"expires_in":1` + strings.Repeat("0", 300_000) + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			err := wechat.ParseAnswer("/api", []byte(body), &out)
			if !errors.Is(err, wechat.ErrUpstream) {
				t.Fatalf("ParseAnswer = %.200v, want ErrUpstream", err)
			}
			if msg := err.Error(); len(msg) > 400 || !utf8.ValidString(msg) {
				t.Errorf("error is %d bytes (valid UTF-8: %v); want at most about 200 of the answer", len(msg), utf8.ValidString(msg))
			}
		})
	}
}
