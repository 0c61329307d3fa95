package wechat_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/wxlogin/wxlogin/wechat"
)

// Code2Session decodes WeChat's answer once, errcode and fields together;
// an answer that does not decode cleanly is classified as when the
// errcode is read on its own first: a non-zero errcode wins over a field
// of the wrong type, and an envelope that does not parse is ErrUpstream.
func TestCode2SessionClassifiesOddAnswers(t *testing.T) {
	for _, tt := range []struct {
		body    string
		want    error // the sentinel; nil for success
		errcode int   // of the *APIError, when one is expected
	}{
		{`{"openid":"o","session_key":"k","unionid":"u"}`, nil, 0},
		{`{"errcode":0,"errmsg":"ok","openid":"o","session_key":"k"}`, nil, 0},
		{`{"errcode":"","openid":"o","session_key":"k"}`, nil, 0},
		{`{"errcode":null,"openid":"o","session_key":"k"}`, nil, 0},
		{`{"errcode":40029,"errmsg":"invalid code"}`, wechat.ErrInvalidCode, 40029},
		{`{"errcode":"40163","errmsg":"code been used"}`, wechat.ErrInvalidCode, 40163},
		{`{"openid":1,"errcode":40029}`, wechat.ErrInvalidCode, 40029},
		{`{"errcode":40029,"session_key":["k"]}`, wechat.ErrInvalidCode, 40029},
		{`{"errcode":40029,"errmsg":5}`, wechat.ErrUpstream, 0},
		{`{"errcode":"4x","openid":"o","session_key":"k"}`, wechat.ErrUpstream, 0},
		{`{"errcode":0,"openid":1,"session_key":"k"}`, wechat.ErrUpstream, 0},
		{`{"errcode":40029,"errcode":"x"}`, wechat.ErrUpstream, 0},
		{`{"openid":"o"}`, wechat.ErrUpstream, 0},
		{`{"openid":"o","session_key":"k"`, wechat.ErrUpstream, 0},
		{`[]`, wechat.ErrUpstream, 0},
	} {
		c := wechat.New(wechat.Config{
			BaseURL: "http://wechat.fake", AppID: "wxapp", Secret: "s",
			HTTPClient: &http.Client{Transport: &fzTransport{status: http.StatusOK, body: []byte(tt.body)}},
		})
		s, err := c.Code2Session(t.Context(), "code")
		if tt.want == nil {
			if err != nil || s.OpenID != "o" || s.SessionKey != "k" {
				t.Errorf("%s: %+v, %v; want success", tt.body, s, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.body, err, tt.want)
			continue
		}
		var ae *wechat.APIError
		if got := errors.As(err, &ae); got != (tt.errcode != 0) || got && ae.Code != tt.errcode {
			t.Errorf("%s: err = %v, want errcode %d", tt.body, err, tt.errcode)
		}
	}
}
