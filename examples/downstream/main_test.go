package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

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
