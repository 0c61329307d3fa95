package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

const (
	issuer   = "https://login.example.com"
	audience = "wxdevfake000000000"
)

// newAPI returns the example's routes trusting a test signer whose JWKS an
// httptest server publishes, as wxlogin would.
func newAPI(t *testing.T) (*tokentest.Signer, http.Handler) {
	t.Helper()
	s := tokentest.New(token.ES256, issuer, audience)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(s.JWKS())
	}))
	t.Cleanup(jwks.Close)
	v, err := token.NewVerifier(token.VerifierConfig{JWKSURL: jwks.URL, Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return s, routes(v)
}

func get(h http.Handler, path, bearer string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHelloGreetsByOpenID(t *testing.T) {
	s, api := newAPI(t)
	rec := get(api, "/hello", s.Token("oUser123"))
	var got helloResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("status %d body %q (%v); want 200 JSON", rec.Code, rec.Body.String(), err)
	}
	if got.OpenID != "oUser123" || got.Message != "hello, oUser123" {
		t.Errorf("got %+v; want the user greeted by openid", got)
	}
}

func TestHelloRefusesBadTokens(t *testing.T) {
	s, api := newAPI(t)
	if rec := get(api, "/hello", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("no token: status %d; want 401", rec.Code)
	}
	for _, a := range s.Attacks() {
		if rec := get(api, "/hello", a.Token); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d; want 401", a.Name, rec.Code)
		}
	}
}

func TestHealthzIsOpen(t *testing.T) {
	_, api := newAPI(t)
	if rec := get(api, "/healthz", ""); rec.Code != http.StatusOK {
		t.Errorf("status %d; want 200 without a token", rec.Code)
	}
}

// A downstream of two apps served by one wxlogin lists both audiences in
// WXLOGIN_AUDIENCE; it tells the apps apart by appid and refuses a third.
func TestTwoAppsAudiences(t *testing.T) {
	// The issuer, as wxlogin publishes its keys.
	var shop *tokentest.Signer
	wxlogin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == token.JWKSPath {
			w.Write(shop.JWKS())
		}
	}))
	defer wxlogin.Close()
	shop = tokentest.New(token.ES256, wxlogin.URL, "wxshop0000000001")
	game := &tokentest.Signer{Key: shop.Key, Issuer: wxlogin.URL, Audience: "wxgame0000000002", AppID: "wxgame0000000002"}
	other := &tokentest.Signer{Key: shop.Key, Issuer: wxlogin.URL, Audience: "wxcard0000000003", AppID: "wxcard0000000003"}

	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := map[string]string{"WXLOGIN_ISSUER": wxlogin.URL, "WXLOGIN_AUDIENCE": "wxshop0000000001,wxgame0000000002", "ADDR": addr}
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, io.Discard) }()
	defer func() { cancel(); <-done }()

	call := func(tok string) (int, helloResponse) {
		t.Helper()
		for range 100 {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/hello", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				time.Sleep(20 * time.Millisecond) // not listening yet
				continue
			}
			defer resp.Body.Close()
			var got helloResponse
			json.NewDecoder(resp.Body).Decode(&got)
			return resp.StatusCode, got
		}
		t.Fatal("the downstream never answered")
		return 0, helloResponse{}
	}
	for _, s := range []*tokentest.Signer{shop, game} {
		if status, got := call(s.Token("oAlice")); status != 200 || got.AppID != s.AppID {
			t.Errorf("%s's token: %d %+v", s.AppID, status, got)
		}
	}
	if status, _ := call(other.Token("oAlice")); status != http.StatusUnauthorized {
		t.Errorf("a third app's token: %d, want 401", status)
	}
}
