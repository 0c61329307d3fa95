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

// One wxlogin serves a shop and a game. The shop's backend trusts both
// apps' tokens and tells them apart by AppID; the game's backend trusts
// only the game's audience.
func ExampleVerifierConfig_audiences() {
	shop := tokentest.New(token.ES256, "https://login.example.com", "wxshop0000000000")
	game := &tokentest.Signer{Key: shop.Key, Issuer: shop.Issuer, Audience: "wxgame0000000000", AppID: "wxgame0000000000"}

	both, _ := token.NewVerifier(token.VerifierConfig{
		Keys:      []token.Key{shop.PublicKey()},
		Issuer:    "https://login.example.com",
		Audiences: []string{"wxshop0000000000", "wxgame0000000000"},
	})
	gameOnly, _ := token.NewVerifier(token.VerifierConfig{
		Keys:     []token.Key{shop.PublicKey()},
		Issuer:   "https://login.example.com",
		Audience: "wxgame0000000000",
	})
	for _, tok := range []string{shop.Token("oShopUser"), game.Token("oGameUser")} {
		c, err := both.Verify(tok)
		fmt.Println("both:", c.AppID, c.OpenID(), err)
		if _, err := gameOnly.Verify(tok); err != nil {
			fmt.Println("game only: refused,", token.Reason(err))
		} else {
			fmt.Println("game only: accepted")
		}
	}
	// Output:
	// both: wxshop0000000000 oShopUser <nil>
	// game only: refused, audience
	// both: wxgame0000000000 oGameUser <nil>
	// game only: accepted
}
