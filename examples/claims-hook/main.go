// Command claims-hook is an example of wxlogin's claims hook: a small
// service that keeps the team's users in PostgreSQL, so that wxlogin's
// tokens carry the team's own user id (sub) and roles.
//
// On the first login of a WeChat user it creates a user (found again by
// the unionid when WeChat gives one, else by the appid and openid); on a
// phone event it links the phone number to the account, or merges the
// account into the one that already has that number. A blocked user is
// refused, and wxlogin answers login_denied with the hook's detail.
//
// Configuration (environment):
//
//	CLAIMS_SECRET  the same value as wxlogin's WXLOGIN_CLAIMS_SECRET (required)
//	DATABASE_URL   PostgreSQL connection URL; libpq's PG* variables when empty
//	ADDR           listen address, 127.0.0.1:8091 by default
//
// See README.md beside this file for wiring it to wxlogin.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxlogin/wxlogin/claims"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "claims-hook:", err)
		os.Exit(1)
	}
}

// run serves the hook until ctx ends.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if getenv("CLAIMS_SECRET") == "" {
		return errors.New("CLAIMS_SECRET is required: the same value as wxlogin's WXLOGIN_CLAIMS_SECRET")
	}
	key, err := claims.DecodeKey(getenv("CLAIMS_SECRET"))
	if err != nil {
		return fmt.Errorf("CLAIMS_SECRET: %w", err)
	}
	addr := getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8091"
	}

	pool, err := pgxpool.New(ctx, getenv("DATABASE_URL"))
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()
	store := &Store{pool: pool}
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("create the tables: %w", err)
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newMux(store, key, log), ReadHeaderTimeout: 5 * time.Second}
	log.Info("claims hook listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// newMux routes the hook (POST /claims) and a health check that asks the
// database (GET /healthz).
func newMux(store *Store, key []byte, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /claims", &claims.Handler{
		Verifier: claims.Verifier{Keys: [][]byte{key}},
		Func:     hook(store),
		Log:      log,
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := store.pool.Ping(r.Context()); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

// hook answers wxlogin: the user's id as sub, and the roles.
func hook(store *Store) claims.HandlerFunc {
	return func(ctx context.Context, r claims.Request) (claims.Answer, error) {
		id := Identity{AppID: r.AppID, OpenID: r.OpenID, UnionID: r.UnionID}
		var u User
		var err error
		switch r.Event {
		case claims.EventLogin:
			u, err = store.Login(ctx, id)
		case claims.EventPhone:
			if r.PhoneNumber == "" {
				return claims.Answer{}, errors.New("a phone event without a phone number")
			}
			u, err = store.BindPhone(ctx, id, r.PhoneNumber)
		default:
			return claims.Answer{}, fmt.Errorf("unknown event %q", r.Event)
		}
		if err != nil {
			return claims.Answer{}, err
		}
		if u.Blocked {
			return claims.Answer{}, claims.Deny("this account is blocked; write to support@example.com")
		}
		return claims.Answer{
			Sub:    strconv.FormatInt(u.ID, 10),
			Claims: map[string]any{"roles": u.Roles},
		}, nil
	}
}
