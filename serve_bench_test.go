package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// BenchmarkServeLogin is a whole login through the real server as `run`
// wires it in production (JSON logs, metrics, duplicate-code cache, rate
// limit off), over loopback HTTP, against the fake WeChat on loopback:
// what bench/wxload measures, in one process so that a CPU profile shows
// where wxlogin's time goes:
//
//	go test -run '^$' -bench ServeLogin -cpuprofile cpu.out .
//	go tool pprof -top -cum cpu.out
//
// The profile holds the load and the fake too; look under
// net/http.(*conn).serve for the server's share.
//
// "code-reuse-off" sets WXLOGIN_CODE_REUSE_WINDOW=0, to show what the
// duplicate-code cache costs. "two-apps" serves a second app
// (WXLOGIN_APPS) and alternates the logins between the two, naming the
// app in each, against "one-app", which names its one app too.
func BenchmarkServeLogin(b *testing.B) {
	b.Run("default", func(b *testing.B) { benchServeLogin(b, nil, nil) })
	b.Run("code-reuse-off", func(b *testing.B) {
		benchServeLogin(b, map[string]string{"WXLOGIN_CODE_REUSE_WINDOW": "0"}, nil)
	})
	b.Run("one-app", func(b *testing.B) { benchServeLogin(b, nil, []string{"wxbench00000000000"}) })
	b.Run("two-apps", func(b *testing.B) {
		benchServeLogin(b, map[string]string{"WXLOGIN_APPS": "wxbench00000000001:bench-secret-2"},
			[]string{"wxbench00000000000", "wxbench00000000001"})
	})
}

// benchServeLogin logs in, naming the apps of appids in turn (none: the
// code alone).
func benchServeLogin(b *testing.B, extra map[string]string, appids []string) {
	fake := wechattest.NewServer(wechattest.Options{AppID: "wxbench00000000000", Secret: "bench-secret", UnionID: true,
		Apps: []wechattest.AppConfig{{AppID: "wxbench00000000001", Secret: "bench-secret-2", UnionID: true}}})
	defer fake.Close()

	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, envPrefix+"_") {
			b.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	var keys bytes.Buffer
	if err := run(context.Background(), []string{"wxlogin", "keygen"}, &keys, io.Discard); err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(keys.String(), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "WXLOGIN_") {
			b.Setenv(k, v)
		}
	}
	for k, v := range map[string]string{
		"WXLOGIN_APPID": "wxbench00000000000", "WXLOGIN_SECRET": "bench-secret",
		"WXLOGIN_ISSUER": "https://login.example.com", "WXLOGIN_WECHAT_BASE_URL": fake.URL,
		"WXLOGIN_ADDR": "127.0.0.1:0", "WXLOGIN_RATE_LIMIT": "0",
	} {
		b.Setenv(k, v)
	}
	for k, v := range extra {
		b.Setenv(k, v)
	}

	ctx, cancel := context.WithCancel(context.Background())
	stdout := &benchAddr{found: make(chan string, 1)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"wxlogin", "serve"}, stdout, io.Discard) }()
	var base string
	select {
	case base = <-stdout.found:
	case err := <-done:
		b.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		b.Fatal("the server did not start in 10s")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("run: %v", err)
		}
	}()

	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var user atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := user.Add(1)
			app, named := fake.App("wxbench00000000000"), ""
			if len(appids) > 0 {
				app = fake.App(appids[int(n)%len(appids)])
				named = `,"appid":"` + app.AppID() + `"`
			}
			code := app.Code("user-" + strconv.FormatInt(n%1000, 10))
			resp, err := client.Post(base+"/v1/login", "application/json", strings.NewReader(`{"code":"`+code+`"`+named+`}`))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("login: HTTP %d", resp.StatusCode)
				return
			}
		}
	})
}

// benchAddr finds the listening address in run's first line of output.
type benchAddr struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	found chan string
}

var listeningRE = regexp.MustCompile(`listening on (http://[^\s]+)`)

func (w *benchAddr) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := listeningRE.FindSubmatch(w.buf.Bytes()); m != nil && w.found != nil {
		w.found <- string(m[1])
		w.found = nil
	}
	return len(p), nil
}
