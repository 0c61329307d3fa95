package wechat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// When WeChat drops a reused keep-alive connection after reading the
// request, net/http's transport would resend a plain GET by itself,
// spending the login code twice. The client's calls are not resent: the
// caller gets an error, and WeChat saw the code once.
func TestCode2SessionNeverResentByTheTransport(t *testing.T) {
	fake := wechattest.New(wechattest.Options{AppID: testAppID, Secret: testSecret})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 {
			// The second request arrives on the first one's connection:
			// read it, then hang up without answering.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := wechat.New(wechat.Config{BaseURL: srv.URL, AppID: testAppID, Secret: testSecret, HTTPClient: wechat.NewHTTPClient()})

	if _, err := c.Code2Session(context.Background(), fake.Code("alice")); err != nil {
		t.Fatalf("first login: %v", err)
	}
	_, err := c.Code2Session(context.Background(), fake.Code("bob"))
	if !errors.Is(err, wechat.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable for a connection dropped without an answer", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("WeChat saw %d requests, want 2: the dropped one was resent", n)
	}
}

// A redirect is not followed: the AppSecret in the query must not travel
// to the host it names.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, testSecret) {
			leaked.Store(true)
		}
		w.Write([]byte(`{"openid":"o","session_key":"k"}`))
	}))
	defer elsewhere.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := wechat.New(wechat.Config{BaseURL: srv.URL, AppID: testAppID, Secret: testSecret, HTTPClient: wechat.NewHTTPClient()})
	_, err := c.Code2Session(context.Background(), "code-123")
	if !errors.Is(err, wechat.ErrUpstream) {
		t.Errorf("err = %v, want ErrUpstream for a redirect", err)
	}
	if leaked.Load() {
		t.Error("the redirect was followed with the AppSecret")
	}
}
