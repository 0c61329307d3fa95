package token_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

// greet answers with the openid the middleware put in the context.
var greet = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := token.FromContext(r.Context())
	if !ok {
		http.Error(w, "no claims in the context", http.StatusInternalServerError)
		return
	}
	w.Write([]byte("hello, " + c.OpenID()))
})

// routers protects greet with mw on chi and on net/http's ServeMux.
func routers(mw func(http.Handler) http.Handler) map[string]http.Handler {
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(mw)
		r.Get("/hello", greet)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /hello", mw(greet))
	return map[string]http.Handler{"chi": r, "ServeMux": mux}
}

func get(h http.Handler, authorization string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/hello", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkRefused checks a 401 answer as the contract describes it: the
// invalid_token code in a problem body that does not echo the token, and
// a WWW-Authenticate challenge with error="invalid_token" unless the
// token was missing.
func checkRefused(t *testing.T, rec *httptest.ResponseRecorder, tok string, wantError bool) {
	t.Helper()
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, body %q; want 401", rec.Code, rec.Body.String())
	}
	challenge := rec.Header().Get("WWW-Authenticate")
	if !strings.HasPrefix(challenge, "Bearer") {
		t.Errorf("WWW-Authenticate = %q; want a Bearer challenge", challenge)
	}
	if got := strings.Contains(challenge, `error="invalid_token"`); got != wantError {
		t.Errorf("WWW-Authenticate = %q; want error=\"invalid_token\": %v", challenge, wantError)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q; want application/problem+json", ct)
	}
	var p struct {
		Type   *string `json:"type"`
		Title  *string `json:"title"`
		Status *int    `json:"status"`
		Detail *string `json:"detail"`
		Code   *string `json:"code"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	if p.Type == nil || p.Title == nil || p.Status == nil || *p.Status != 401 || p.Detail == nil || *p.Detail == "" || p.Code == nil || *p.Code != "invalid_token" {
		t.Errorf("body %s; want type, title, status 401, detail and code invalid_token", rec.Body.String())
	}
	if len(tok) > 8 {
		for _, part := range append(strings.Split(tok, "."), tok) {
			if len(part) > 8 && (strings.Contains(rec.Body.String(), part) || strings.Contains(challenge, part)) {
				t.Fatal("the answer echoes the token")
			}
		}
	}
}

func TestMiddlewareLetsValidTokensThrough(t *testing.T) {
	for _, alg := range algs {
		s := tokentest.New(alg, testIssuer, testAudience)
		v := staticVerifier(t, s.PublicKey())
		for name, h := range routers(token.Middleware(v)) {
			t.Run(alg+"/"+name, func(t *testing.T) {
				tok := s.Token("oUser42")
				for _, auth := range []string{"Bearer " + tok, "bearer " + tok, "Bearer  " + tok + " "} {
					rec := get(h, auth)
					if rec.Code != http.StatusOK || rec.Body.String() != "hello, oUser42" {
						t.Errorf("%q: status %d, body %q; want 200 hello, oUser42", auth[:8], rec.Code, rec.Body.String())
					}
				}
			})
		}
	}
}

// TestMiddlewareRefusesAttacks sends every attack through the middleware
// on chi and on ServeMux, cached and not: none reaches the handler.
func TestMiddlewareRefusesAttacks(t *testing.T) {
	for _, alg := range algs {
		s := tokentest.New(alg, testIssuer, testAudience)
		v := staticVerifier(t, s.PublicKey())
		for _, cacheSize := range []int{token.DefaultCacheSize, 0} {
			mw := token.Middleware(v, token.WithCacheSize(cacheSize))
			for name, h := range routers(mw) {
				// Prime the cache with a valid token, so that the attacks
				// built from one are tried against a warm cache.
				if rec := get(h, "Bearer "+s.Token("oVictim")); rec.Code != http.StatusOK {
					t.Fatalf("valid token: status %d", rec.Code)
				}
				for _, a := range s.Attacks() {
					t.Run(alg+"/"+name+"/"+a.Name, func(t *testing.T) {
						checkRefused(t, get(h, "Bearer "+a.Token), a.Token, true)
					})
				}
			}
		}
	}
}

func TestMiddlewareMissingOrMalformedHeader(t *testing.T) {
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	v := staticVerifier(t, s.PublicKey())
	for name, h := range routers(token.Middleware(v)) {
		t.Run(name, func(t *testing.T) {
			rec := get(h, "")
			checkRefused(t, rec, "", false)
			if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
				t.Errorf("missing token: WWW-Authenticate = %q; want Bearer with no error (RFC 6750 3.1)", got)
			}
			tok := s.Token("o1")
			for _, auth := range []string{"Basic " + tok, tok, "Bearer", "Bearer    ", "Token " + tok} {
				checkRefused(t, get(h, auth), tok, true)
			}
		})
	}
}

func TestMiddlewareErrorHandler(t *testing.T) {
	s := tokentest.New(token.ES256, testIssuer, testAudience)
	v := staticVerifier(t, s.PublicKey())
	var reasons []string
	mw := token.Middleware(v, token.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		if !errors.Is(err, token.ErrInvalid) {
			t.Errorf("error handler got %v; want it to wrap ErrInvalid", err)
		}
		reasons = append(reasons, token.Reason(err))
		token.WriteError(w, r, err)
	}))
	h := mw(greet)
	get(h, "")
	get(h, "Bearer garbage")
	get(h, "Bearer "+s.Token("o1"))
	if got := strings.Join(reasons, ","); got != "missing,malformed" {
		t.Errorf("reasons %q; want missing,malformed", got)
	}
}

func TestFromContextWithoutClaims(t *testing.T) {
	if c, ok := token.FromContext(httptest.NewRequest("GET", "/", nil).Context()); ok || c != nil {
		t.Errorf("FromContext on a bare context = %v, %v; want nil, false", c, ok)
	}
	ctx := token.NewContext(t.Context(), &token.Claims{AppID: "wx"})
	if c, ok := token.FromContext(ctx); !ok || c.AppID != "wx" {
		t.Errorf("FromContext = %v, %v; want the claims put there", c, ok)
	}
}
