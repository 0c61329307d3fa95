package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/internal/pgtest"
)

var testKey = bytes.Repeat([]byte("k"), 32)

// hookEnv is the hook in front of a fresh PostgreSQL, and a client that
// calls it as wxlogin does.
type hookEnv struct {
	pool   *pgxpool.Pool
	url    string // the hook's URL
	client *claims.Client
}

func newHookEnv(t *testing.T) *hookEnv {
	t.Helper()
	dsn := pgtest.Start(t)
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := &Store{pool: pool}
	if err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newMux(store, testKey, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	c, err := claims.NewClient(claims.Config{URL: srv.URL + "/claims", Key: testKey, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &hookEnv{pool: pool, url: srv.URL + "/claims", client: c}
}

func (e *hookEnv) call(t *testing.T, r claims.Request) claims.Answer {
	t.Helper()
	a, err := e.client.Call(t.Context(), "", r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Event, r.OpenID, err)
	}
	return a
}

func login(appid, openid, unionid string) claims.Request {
	return claims.Request{Event: claims.EventLogin, AppID: appid, OpenID: openid, UnionID: unionid}
}

func phone(appid, openid, unionid, number string) claims.Request {
	return claims.Request{Event: claims.EventPhone, AppID: appid, OpenID: openid, UnionID: unionid, PhoneNumber: number}
}

func roles(a claims.Answer) string {
	r, _ := a.Claims["roles"].([]any)
	var s []string
	for _, v := range r {
		s = append(s, v.(string))
	}
	return strings.Join(s, ",")
}

// The hook against a real PostgreSQL, called as wxlogin calls it: users
// are created once and found again, by unionid across apps or by appid
// and openid, phones are linked or merge accounts, and blocked users are
// refused.
func TestHookWithPostgres(t *testing.T) {
	e := newHookEnv(t)

	var alice string
	t.Run("first login creates a visitor, the second finds them", func(t *testing.T) {
		first := e.call(t, login("wxA", "oA-alice", "u-alice"))
		if first.Sub == "" || roles(first) != "visitor" {
			t.Fatalf("first login: %+v", first)
		}
		again := e.call(t, login("wxA", "oA-alice", "u-alice"))
		if again.Sub != first.Sub {
			t.Errorf("second login: sub %q, want %q", again.Sub, first.Sub)
		}
		alice = first.Sub
	})
	t.Run("the unionid finds the user in another app", func(t *testing.T) {
		if got := e.call(t, login("wxB", "oB-alice", "u-alice")).Sub; got != alice {
			t.Errorf("sub %q in app B, want %q", got, alice)
		}
	})
	t.Run("without a unionid, each app has its own user", func(t *testing.T) {
		a := e.call(t, login("wxA", "oA-bob", "")).Sub
		b := e.call(t, login("wxB", "oB-bob", "")).Sub
		if a == b || a == alice {
			t.Errorf("bob in A %q, in B %q, alice %q: want three users", a, b, alice)
		}
		if again := e.call(t, login("wxA", "oA-bob", "")).Sub; again != a {
			t.Errorf("bob's second login in A: %q, want %q", again, a)
		}
	})
	t.Run("a phone binding links the number and makes a member", func(t *testing.T) {
		a := e.call(t, phone("wxA", "oA-alice", "u-alice", "+8613800138000"))
		if a.Sub != alice || roles(a) != "member" {
			t.Errorf("after binding: %+v, want sub %s and roles member", a, alice)
		}
		if again := e.call(t, login("wxB", "oB-alice", "u-alice")); again.Sub != alice || roles(again) != "member" {
			t.Errorf("next login: %+v", again)
		}
		var n int
		if err := e.pool.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE phone_number = '+8613800138000' AND id = $1`, alice).Scan(&n); err != nil || n != 1 {
			t.Errorf("the phone is not on alice's row: %d, %v", n, err)
		}
	})
	t.Run("binding a phone another account has merges into that account", func(t *testing.T) {
		// Carol used another phone's WeChat: a new account, no unionid.
		carol := e.call(t, login("wxA", "oA-carol-2nd", "")).Sub
		if carol == alice {
			t.Fatal("carol's second WeChat is alice")
		}
		merged := e.call(t, phone("wxA", "oA-carol-2nd", "", "+8613800138000"))
		if merged.Sub != alice {
			t.Errorf("after merging: sub %q, want the phone's account %q", merged.Sub, alice)
		}
		if got := e.call(t, login("wxA", "oA-carol-2nd", "")).Sub; got != alice {
			t.Errorf("the merged WeChat logs in as %q, want %q", got, alice)
		}
		var n int
		if err := e.pool.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE id = $1`, carol).Scan(&n); err != nil || n != 0 {
			t.Errorf("the merged account %s is still there: %d, %v", carol, n, err)
		}
	})
	t.Run("a blocked user is denied with a detail", func(t *testing.T) {
		dave := e.call(t, login("wxA", "oA-dave", "")).Sub
		if _, err := e.pool.Exec(t.Context(), `UPDATE users SET blocked = true WHERE id = $1`, dave); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.Call(t.Context(), "", login("wxA", "oA-dave", ""))
		var de *claims.DeniedError
		if !errors.As(err, &de) || !strings.Contains(de.Detail, "blocked") {
			t.Errorf("err = %v, want a denial saying the account is blocked", err)
		}
		// Nor can a blocked account be merged into by binding its phone.
		if _, err := e.pool.Exec(t.Context(), `UPDATE users SET phone_number = '+8613900139000' WHERE id = $1`, dave); err != nil {
			t.Fatal(err)
		}
		erin := e.call(t, login("wxA", "oA-erin", "")).Sub
		if _, err := e.client.Call(t.Context(), "", phone("wxA", "oA-erin", "", "+8613900139000")); !errors.Is(err, claims.ErrDenied) {
			t.Errorf("binding a blocked account's phone: %v, want denied", err)
		}
		if got := e.call(t, login("wxA", "oA-erin", "")).Sub; got != erin {
			t.Errorf("erin was merged into the blocked account: %q, want %q", got, erin)
		}
	})
	t.Run("a request that does not verify changes nothing", func(t *testing.T) {
		var before int
		e.pool.QueryRow(t.Context(), `SELECT count(*) FROM users`).Scan(&before)
		forger, _ := claims.NewClient(claims.Config{URL: e.url, Key: bytes.Repeat([]byte("f"), 32)})
		if _, err := forger.Call(t.Context(), "", login("wxA", "oA-mallory", "")); !errors.Is(err, claims.ErrUpstream) {
			t.Errorf("forged request: %v, want ErrUpstream (401)", err)
		}
		var after int
		e.pool.QueryRow(t.Context(), `SELECT count(*) FROM users`).Scan(&after)
		if after != before {
			t.Errorf("%d users after a forged login, %d before", after, before)
		}
	})
}

// Two first logins of one user at once (two apps, or a resent code)
// create one account.
func TestConcurrentFirstLogins(t *testing.T) {
	e := newHookEnv(t)
	const n = 8
	subs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			app := "wxA"
			if i%2 == 1 {
				app = "wxB"
			}
			a, err := e.client.Call(context.Background(), "", login(app, "o-"+app+"-frank", "u-frank"))
			if err != nil {
				t.Error(err)
			}
			subs[i] = a.Sub
		})
	}
	wg.Wait()
	for i, s := range subs {
		if s != subs[0] {
			t.Errorf("login %d: sub %q, login 0: %q", i, s, subs[0])
		}
	}
	var users int
	if err := e.pool.QueryRow(t.Context(), `SELECT count(*) FROM users`).Scan(&users); err != nil || users != 1 {
		t.Errorf("%d users after %d first logins of one user (%v)", users, n, err)
	}
}

// run serves the hook from its environment, and refuses to start
// without a usable secret.
func TestRun(t *testing.T) {
	for _, tt := range []struct{ secret, want string }{
		{"", "CLAIMS_SECRET is required"},
		{"c2hvcnQ=", "CLAIMS_SECRET: claims: the secret decodes to 5 bytes"},
	} {
		env := map[string]string{"CLAIMS_SECRET": tt.secret}
		if err := run(t.Context(), func(k string) string { return env[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("secret %q: %v, want %q", tt.secret, err, tt.want)
		}
	}

	dsn := pgtest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := map[string]string{
		"CLAIMS_SECRET": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=", // testKey
		"DATABASE_URL":  dsn,
		"ADDR":          addr,
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	if !healthy("http://" + addr + "/healthz") {
		t.Fatal("the hook never became healthy")
	}
	c, err := claims.NewClient(claims.Config{URL: "http://" + addr + "/claims", Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := c.Call(t.Context(), "", login("wxA", "o-gina", "")); err != nil || a.Sub == "" {
		t.Errorf("login through run: %+v, %v", a, err)
	}
}

func healthy(url string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return true
			}
		}
	}
	return false
}
