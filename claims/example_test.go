package claims_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wxlogin/wxlogin/claims"
)

// A hook verifies and decodes each request with ConstructEvent, and
// answers the team's user id and roles.
func ExampleConstructEvent() {
	// The decoded WXLOGIN_CLAIMS_SECRET; in a real hook, from
	// claims.DecodeKey(os.Getenv("CLAIMS_SECRET")).
	key := []byte("an example key of at least 32 bytes!")

	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		req, err := claims.ConstructEvent(body, r.Header.Get(claims.SignatureHeader), key)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Println("event:", req.Event, "openid:", req.OpenID)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"sub":"user-42","claims":{"roles":["editor"]}}`)
	})

	// What wxlogin sends, signed as it signs.
	body := `{"event":"login","appid":"wx1234567890abcdef","openid":"oABC"}`
	r := httptest.NewRequest(http.MethodPost, "/claims", strings.NewReader(body))
	r.Header.Set(claims.SignatureHeader, claims.Sign(key, []byte(body), time.Now()))
	w := httptest.NewRecorder()
	hook.ServeHTTP(w, r)
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	// Output:
	// event: login openid: oABC
	// 200 {"sub":"user-42","claims":{"roles":["editor"]}}
}

// Handler does the verifying, the answer's checks and the HTTP; the hook
// writes only its decision.
func ExampleHandler() {
	key := []byte("an example key of at least 32 bytes!")
	hook := &claims.Handler{
		Verifier: claims.Verifier{Keys: [][]byte{key}},
		Func: func(ctx context.Context, r claims.Request) (claims.Answer, error) {
			if r.OpenID == "oBanned" {
				return claims.Answer{}, claims.Deny("this account is suspended")
			}
			return claims.Answer{Sub: "user-42", Claims: map[string]any{"role": "web_user"}}, nil
		},
	}
	srv := httptest.NewServer(hook)
	defer srv.Close()

	// wxlogin's side.
	c, _ := claims.NewClient(claims.Config{URL: srv.URL, Key: key})
	a, err := c.Call(context.Background(), "req-1", claims.Request{Event: claims.EventLogin, AppID: "wx1", OpenID: "oABC"})
	fmt.Println(a.Sub, a.Claims["role"], err)
	_, err = c.Call(context.Background(), "req-2", claims.Request{Event: claims.EventLogin, AppID: "wx1", OpenID: "oBanned"})
	fmt.Println(err)
	// Output:
	// user-42 web_user <nil>
	// claims: the hook denied the login: this account is suspended
}
