package token_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

// A downstream API protects its routes with the middleware, fetching
// wxlogin's public keys from its JWKS. Here a test signer and an
// httptest server stand in for the wxlogin server.
func Example() {
	wxlogin := tokentest.New(token.ES256, "https://login.example.com", "wx1234567890abcdef")
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(wxlogin.JWKS())
	}))
	defer jwks.Close()

	v, err := token.NewVerifier(token.VerifierConfig{
		JWKSURL:  jwks.URL, // in production: token.JWKSURL("https://login.example.com")
		Issuer:   "https://login.example.com",
		Audience: "wx1234567890abcdef",
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	api := http.NewServeMux()
	api.Handle("GET /hello", token.Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := token.FromContext(r.Context())
		fmt.Fprintf(w, "hello, %s", claims.OpenID())
	})))

	for _, auth := range []string{"Bearer " + wxlogin.Token("oUser123"), "Bearer forged.token.here", ""} {
		req := httptest.NewRequest(http.MethodGet, "/hello", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			fmt.Println(rec.Code, rec.Body.String())
		} else {
			fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
	// Output:
	// 200 hello, oUser123
	// 401 Bearer error="invalid_token", error_description="the token is not valid"
	// 401 Bearer
}

// A service that holds wxlogin's public keys (the PEM of
// WXLOGIN_VERIFY_KEYS, say) verifies tokens without any network.
func ExampleVerifier_Verify() {
	wxlogin := tokentest.New(token.EdDSA, "https://login.example.com", "wx1234567890abcdef")
	v, err := token.NewVerifier(token.VerifierConfig{
		Keys:     []token.Key{wxlogin.PublicKey()}, // or token.ParsePublicKeys(pemBytes)
		Issuer:   "https://login.example.com",
		Audience: "wx1234567890abcdef",
	})
	if err != nil {
		panic(err)
	}
	claims, err := v.Verify(wxlogin.Token("oUser123"))
	fmt.Println(claims.OpenID(), err)

	_, err = v.Verify("not.a.token")
	fmt.Println(token.Reason(err), err)
	// Output:
	// oUser123 <nil>
	// malformed token: invalid: token: malformed
}
