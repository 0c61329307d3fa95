// Command downstream is a small API behind wxlogin. It trusts the tokens
// wxlogin issues without calling wxlogin: it verifies them offline with
// the public keys wxlogin publishes, and greets the user by openid and
// app.
//
// Against a wxlogin in development mode (`wxlogin -dev`, on :8080):
//
//	go run ./examples/downstream
//	TOKEN=$(curl -s localhost:8080/v1/login -d '{"code":"any"}' -H 'Content-Type: application/json' | jq -r .token)
//	curl -s localhost:8081/hello -H "Authorization: Bearer $TOKEN"
//
// Configuration: WXLOGIN_ISSUER (default http://localhost:8080),
// WXLOGIN_AUDIENCE (the audiences trusted, comma-separated: a backend of
// several mini programs served by one wxlogin lists each app's; default
// wxdevfake000000000, dev mode's AppID) and ADDR (default :8081).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wxlogin/wxlogin/token"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "downstream: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	issuer := env("WXLOGIN_ISSUER", "http://localhost:8080")

	// The whole of the trust set-up: where the keys are, and what iss and
	// aud a token must carry (one of the audiences).
	v, err := token.NewVerifier(token.VerifierConfig{
		JWKSURL:   token.JWKSURL(issuer),
		Issuer:    issuer,
		Audiences: strings.Split(env("WXLOGIN_AUDIENCE", "wxdevfake000000000"), ","),
	})
	if err != nil {
		return err
	}
	defer v.Close()

	srv := &http.Server{
		Addr:              env("ADDR", ":8081"),
		Handler:           routes(v),
		ReadHeaderTimeout: 5 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Fprintf(stdout, "downstream listening on %s, trusting tokens of %s\n", srv.Addr, issuer)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// routes is every route of the API: /hello needs a wxlogin token,
// /healthz does not.
func routes(v *token.Verifier) http.Handler {
	mux := http.NewServeMux()
	loggedIn := token.Middleware(v)
	mux.Handle("GET /hello", loggedIn(http.HandlerFunc(hello)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	return mux
}

type helloResponse struct {
	Message string `json:"message"`
	OpenID  string `json:"openid"`
	AppID   string `json:"appid"` // which mini program the user is in
}

// hello greets the user the token belongs to. The middleware let the
// request through, so the claims are there.
func hello(w http.ResponseWriter, r *http.Request) {
	claims, _ := token.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(helloResponse{
		Message: "hello, " + claims.OpenID(),
		OpenID:  claims.OpenID(),
		AppID:   claims.AppID,
	})
}
