package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// TestMainProcess is not a test: TestSIGTERM runs the test binary again
// with WXLOGIN_TEST_MAIN=1, and then this is the real main, signals and
// exit status included.
func TestMainProcess(t *testing.T) {
	if os.Getenv("WXLOGIN_TEST_MAIN") != "1" {
		t.Skip("the real main, for TestSIGTERM")
	}
	os.Args = []string{"wxlogin", "serve"}
	main()
	os.Exit(0)
}

// slowOnce delays the first jscode2session answer by d after telling
// arrived, and leaves every later call alone.
func slowOnce(d time.Duration, arrived chan<- struct{}) wechattest.Fault {
	var once sync.Once
	return func(w http.ResponseWriter, r *http.Request) bool {
		first := false
		once.Do(func() { first = true })
		if first {
			close(arrived)
			time.Sleep(d)
		}
		return false
	}
}

// On SIGTERM the process fails /readyz at once while it keeps serving
// for WXLOGIN_SHUTDOWN_DELAY, lets the login in flight finish with its
// token, and exits 0.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	arrived := make(chan struct{})
	wx.Inject(slowOnce(1500*time.Millisecond, arrived))

	clearEnv(t, prodEnv(t, wx.URL))
	t.Setenv("WXLOGIN_SHUTDOWN_DELAY", "500ms")
	t.Setenv("WXLOGIN_TEST_MAIN", "1")
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainProcess$")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		t.Fatalf("the server did not start; stderr:\n%s", &stderr)
	}
	go func() {
		for sc.Scan() {
		}
	}()

	type result struct {
		status int
		ans    map[string]any
	}
	inflight := make(chan result, 1)
	aliceCode, bobCode := wx.Code("alice"), wx.Code("bob")
	go func() {
		status, ans := postLoginErr(base, aliceCode)
		inflight <- result{status, ans}
	}()
	<-arrived // the login is at WeChat
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// Within the delay: not ready, still alive and serving.
	deadline := time.Now().Add(400 * time.Millisecond)
	for {
		if status := getStatus(base + "/readyz"); status == http.StatusServiceUnavailable {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("/readyz answered %d after SIGTERM, want 503", status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if since := time.Since(signalled); since < 500*time.Millisecond {
		if status := getStatus(base + "/healthz"); status != http.StatusOK {
			t.Errorf("/healthz during the shutdown delay: %d, want 200", status)
		}
		if status, ans := postLoginErr(base, bobCode); status != http.StatusOK {
			t.Errorf("a login during the shutdown delay: %d %v", status, ans["code"])
		}
	}

	r := <-inflight
	tok, _ := r.ans["token"].(string)
	if r.status != http.StatusOK || r.ans["openid"] != wx.OpenID("alice") {
		t.Errorf("the login in flight at SIGTERM: %d %v", r.status, r.ans["code"])
	} else if strings.Count(tok, ".") != 2 {
		t.Errorf("the login in flight got no token")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, &stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the process did not exit within 10s of SIGTERM")
	}
	if took := time.Since(signalled); took < 1400*time.Millisecond {
		t.Errorf("exited %v after SIGTERM, before its login in flight could finish", took)
	}
	for _, line := range []string{"shutting down: /readyz fails", "shutting down: draining", "stopped"} {
		if !strings.Contains(stderr.String(), line) {
			t.Errorf("logs lack %q:\n%s", line, &stderr)
		}
	}
	for _, secret := range []string{testSecret, aliceCode, bobCode, tok, wx.SessionKey(wx.OpenID("alice"))} {
		if secret != "" && strings.Contains(stderr.String(), secret) {
			t.Errorf("the logs hold a secret (%.6s…)", secret)
		}
	}
	// After exit, the port is closed.
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after it exited")
	}
}

// A request that outlives WXLOGIN_SHUTDOWN_TIMEOUT does not hold the
// process: run returns an error that says so, within the bound.
func TestShutdownTimeoutBounds(t *testing.T) {
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	wx.Hang()
	env := prodEnv(t, wx.URL)
	env["WXLOGIN_WECHAT_TIMEOUT"] = "30s"
	env["WXLOGIN_SHUTDOWN_TIMEOUT"] = "300ms"
	clearEnv(t, env)
	base, _, stop := startRun(t)

	inflight := make(chan error, 1)
	go func() {
		_, err := http.Post(base+"/v1/login", "application/json", strings.NewReader(`{"code":"`+wx.Code("alice")+`"}`))
		inflight <- err
	}()
	for wx.Calls("/sns/jscode2session") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	err := stop()
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "300ms") {
		t.Errorf("run = %v, want an error naming the 300ms shutdown timeout", err)
	}
	if took > 3*time.Second {
		t.Errorf("run took %v to return with a 300ms shutdown timeout", took)
	}
	select {
	case <-inflight:
	case <-time.After(5 * time.Second):
		t.Error("the request in flight was neither answered nor cut off")
	}
}

func postLoginErr(base, code string) (int, map[string]any) {
	resp, err := http.Post(base+"/v1/login", "application/json", strings.NewReader(`{"code":"`+code+`"}`))
	if err != nil {
		return 0, map[string]any{"code": err.Error()}
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func getStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return -int(errno)
		}
		return -1
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Slow or silent clients cannot hold a connection: the server drops one
// that dribbles its headers, one that never finishes its body, and an
// idle keep-alive connection, each after its timeout, and keeps serving.
func TestSlowClientsAreCutOff(t *testing.T) {
	saved := connTimeouts
	connTimeouts.readHeader, connTimeouts.read, connTimeouts.idle = 200*time.Millisecond, 400*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { connTimeouts = saved })
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	clearEnv(t, prodEnv(t, wx.URL))
	base, _, stop := startRun(t)
	defer stop()
	addr := strings.TrimPrefix(base, "http://")

	for _, tt := range []struct {
		name, send string
		within     time.Duration
	}{
		{"headers never finished", "POST /v1/login HTTP/1.1\r\nHost: x\r\n", 2 * time.Second},
		{"body never finished", "POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"co", 2 * time.Second},
		{"idle keep-alive", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 2 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(tt.send)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, conn) // until the server closes
			if took := time.Since(start); err != nil || took > tt.within {
				t.Errorf("the server held the connection %v (err %v), want it closed within %v", took, err, tt.within)
			}
		})
	}
	if status := getStatus(base + "/healthz"); status != http.StatusOK {
		t.Errorf("/healthz after the slow clients: %d", status)
	}
}
