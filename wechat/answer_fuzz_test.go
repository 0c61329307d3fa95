package wechat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/wechat"
)

// fzKinds are the sentinels every failed call is classified by.
var fzKinds = []error{
	wechat.ErrInvalidCode, wechat.ErrBlocked, wechat.ErrRateLimited, wechat.ErrBusy,
	wechat.ErrMisconfigured, wechat.ErrAccessToken, wechat.ErrUpstream, wechat.ErrUnavailable, wechat.ErrTimeout,
}

// fzKind returns the one sentinel err wraps, or nil when it wraps none or
// several.
func fzKind(err error) error {
	var found error
	for _, k := range fzKinds {
		if errors.Is(err, k) {
			if found != nil {
				return nil
			}
			found = k
		}
	}
	return found
}

// fzClassify is the errcode table of the contract, written out again.
func fzClassify(code int) error {
	switch code {
	case 40029, 40163:
		return wechat.ErrInvalidCode
	case 40226:
		return wechat.ErrBlocked
	case 45011:
		return wechat.ErrRateLimited
	case -1:
		return wechat.ErrBusy
	case 40013, 40125, 40164, 41004, 40002:
		return wechat.ErrMisconfigured
	case 40001, 40014, 42001:
		return wechat.ErrAccessToken
	default:
		return wechat.ErrUpstream
	}
}

var fzAnswers = []string{
	`{"openid":"oABC","session_key":"c2Vzc2lvbmtleTEyMzQ1Ng==","unionid":"uABC"}`,
	`{"openid":"oABC","session_key":"k","errcode":0,"errmsg":"ok"}`,
	`{"errcode":40029,"errmsg":"invalid code, rid: 1"}`,
	`{"errcode":"40163","errmsg":"code been used"}`,
	`{"errcode":"","openid":"o","session_key":"k"}`,
	`{"errcode":null,"openid":"o","session_key":"k"}`,
	`{"errcode":-1,"errmsg":"system error"}`,
	`{"errcode":45011}`, `{"errcode":40226}`, `{"errcode":40125}`, `{"errcode":42001}`, `{"errcode":99999}`,
	`{"errcode":"4x"}`, `{"errcode":1e3}`, `{"errcode":" 40029 "}`, `{"errcode":true}`,
	`{"openid":1}`, `{"openid":"o"}`, `[]`, `null`, `""`, ``, `<html>502 Bad Gateway</html>`, `{"openid":"o"`,
}

// FuzzParseAnswer decodes arbitrary answers as jscode2session's. It must
// not panic; an answer it accepts is valid JSON without a non-zero
// errcode; a refusal wraps exactly one sentinel, and an *APIError carries
// a non-zero errcode classified as the contract's table says.
func FuzzParseAnswer(f *testing.F) {
	for _, a := range fzAnswers {
		f.Add([]byte(a))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var out struct {
			OpenID     string `json:"openid"`
			SessionKey string `json:"session_key"`
			UnionID    string `json:"unionid"`
		}
		err := wechat.ParseAnswer("/sns/jscode2session", body, &out)
		if err == nil {
			var env struct {
				ErrCode wechat.Code `json:"errcode"`
			}
			if !json.Valid(body) || json.Unmarshal(body, &env) != nil || env.ErrCode != 0 {
				t.Fatalf("ParseAnswer accepted %q", body)
			}
			return
		}
		kind := fzKind(err)
		if kind == nil {
			t.Fatalf("ParseAnswer(%q) = %v: wraps no sentinel, or several", body, err)
		}
		var ae *wechat.APIError
		if errors.As(err, &ae) {
			if ae.Code == 0 || ae.API != "/sns/jscode2session" || kind != fzClassify(ae.Code) {
				t.Fatalf("ParseAnswer(%q) = %v: errcode %d classified as %v, want %v", body, err, ae.Code, kind, fzClassify(ae.Code))
			}
		} else if kind != wechat.ErrUpstream {
			t.Fatalf("ParseAnswer(%q) = %v: an answer that does not parse must be ErrUpstream", body, err)
		}
	})
}

// fzTransport answers every request with a fixed status and body, and
// keeps the last request.
type fzTransport struct {
	status int
	body   []byte
	req    *http.Request
}

func (t *fzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.req = r
	return &http.Response{
		StatusCode: t.status, Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(bytes.NewReader(t.body)), Request: r,
	}, nil
}

// FuzzCode2Session runs a whole jscode2session call against any HTTP
// status and answer. It must not panic; a success has an openid and a
// session_key and came with HTTP 200; a failure wraps exactly one
// sentinel, and its message never holds the AppSecret or the code that
// were in the URL.
func FuzzCode2Session(f *testing.F) {
	for _, a := range fzAnswers {
		f.Add(200, []byte(a))
	}
	f.Add(502, []byte(`<html>bad gateway</html>`))
	f.Add(503, []byte(``))
	f.Add(404, []byte(`{"openid":"o","session_key":"k"}`))
	f.Add(301, []byte(``))
	const secret, code = "fuzzsecret0123456789abcdef012345", "fuzzcode0123456789ABCDEFGHIJ"
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			status = 200 + (status%800+800)%800
		}
		tr := &fzTransport{status: status, body: body}
		c := wechat.New(wechat.Config{
			BaseURL: "http://wechat.fake", AppID: "wxfuzz", Secret: secret,
			HTTPClient: &http.Client{Transport: tr}, Timeout: time.Second,
		})
		s, err := c.Code2Session(context.Background(), code)
		if tr.req == nil || tr.req.URL.Query().Get("js_code") != code || tr.req.URL.Query().Get("secret") != secret {
			t.Fatal("Code2Session did not send the code and secret")
		}
		if err == nil {
			if status != http.StatusOK || s.OpenID == "" || s.SessionKey == "" {
				t.Fatalf("HTTP %d %q: accepted as %+v", status, body, s)
			}
			return
		}
		if fzKind(err) == nil {
			t.Fatalf("HTTP %d %q: %v wraps no sentinel, or several", status, body, err)
		}
		// WeChat's errmsg is part of the message; only an answer that
		// itself holds the secret or code may bring them in.
		for _, s := range []string{secret, code} {
			if strings.Contains(err.Error(), s) && !bytes.Contains(body, []byte(s)) {
				t.Fatalf("HTTP %d %q: the error leaks the secret or code: %v", status, body, err)
			}
		}
	})
}
