package handlers_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// trackedFake is the fake WeChat served on loopback, counting the
// connections the client under test holds open to it.
type trackedFake struct {
	*wechattest.Fake
	srv  *httptest.Server
	open atomic.Int64
}

func newTrackedFake(t *testing.T) *trackedFake {
	t.Helper()
	f := &trackedFake{Fake: wechattest.New(wechattest.Options{AppID: appID, Secret: secret})}
	f.srv = httptest.NewUnstartedServer(f.Fake)
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			f.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			f.open.Add(-1)
		}
	}
	f.srv.Start()
	return f
}

// settle polls cond for up to 5 seconds.
func settle(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// Each way WeChat can fail maps to its contract code, and once the
// requests are answered no goroutine and no connection to WeChat is left
// behind: bodies are read and closed, hung calls are cut at the deadline.
func TestUpstreamFaultsMapAndDoNotLeak(t *testing.T) {
	tests := []struct {
		name    string
		fault   func(stop <-chan struct{}) wechattest.Fault
		refused bool // point the client at a port nobody listens on
		status  int
		code    string
	}{
		{name: "busy -1", fault: func(<-chan struct{}) wechattest.Fault { return wechattest.ErrcodeFault(-1) }, status: 503, code: "upstream_unavailable"},
		{name: "timeout", fault: wechattest.HangFault, status: 504, code: "upstream_timeout"},
		{name: "connection refused", refused: true, status: 503, code: "upstream_unavailable"},
		{name: "garbage", fault: func(<-chan struct{}) wechattest.Fault { return wechattest.StatusFault(200, "<html>504 Gateway</html>") }, status: 502, code: "upstream_error"},
		{name: "HTTP 500", fault: func(<-chan struct{}) wechattest.Fault { return wechattest.StatusFault(500, "oops") }, status: 502, code: "upstream_error"},
		{name: "HTTP 502", fault: func(<-chan struct{}) wechattest.Fault { return wechattest.StatusFault(502, "") }, status: 503, code: "upstream_unavailable"},
		{name: "HTTP 503", fault: func(<-chan struct{}) wechattest.Fault { return wechattest.StatusFault(503, "busy") }, status: 503, code: "upstream_unavailable"},
		{name: "answer cut short", fault: func(<-chan struct{}) wechattest.Fault {
			return func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, `{"openid":"o`)
				return true
			}
		}, status: 502, code: "upstream_error"},
	}
	for _, tt := range tests {
		before := runtime.NumGoroutine()
		t.Run(tt.name, func(t *testing.T) {
			fake := newTrackedFake(t)
			defer fake.srv.Close()
			stop := make(chan struct{})
			defer close(stop)
			if tt.fault != nil {
				fake.Inject(tt.fault(stop))
			}
			baseURL := fake.srv.URL
			if tt.refused {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				baseURL = "http://" + ln.Addr().String()
				ln.Close()
			}
			hc := wechat.NewHTTPClient()
			ts := newTestServer(t, testOptions{deps: func(d *handlers.Deps) {
				d.Apps[0].WeChat = wechat.New(wechat.Config{BaseURL: baseURL, AppID: appID, Secret: secret, HTTPClient: hc, Timeout: 300 * time.Millisecond})
			}})

			const n = 8
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					status, hdr, body := ts.login(t, fake.Code("nina"))
					wantProblem(t, status, hdr, body, tt.status, tt.code)
				})
			}
			wg.Wait()

			hc.CloseIdleConnections()
			if !settle(func() bool { return fake.open.Load() == 0 }) {
				t.Errorf("%d connections to WeChat still open after every request was answered and idle ones closed", fake.open.Load())
			}
			ts.Close()
		})
		if !settle(func() bool { return runtime.NumGoroutine() <= before }) {
			buf := make([]byte, 1<<16)
			t.Errorf("%s: %d goroutines after, %d before:\n%s", tt.name, runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
	}
}

// A WeChat call that hangs holds only its own request: logins with other
// codes are answered meanwhile, and the hung one ends at its deadline.
func TestHangingWeChatDoesNotBlockOthers(t *testing.T) {
	ts := newTestServer(t, testOptions{timeout: 3 * time.Second})
	stop := make(chan struct{})
	defer close(stop)
	hang := wechattest.HangFault(stop)
	stuck := ts.wx.Code("stuck")
	ts.wx.Inject(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("js_code") == stuck {
			return hang(w, r)
		}
		return false
	})

	hung := make(chan int, 1)
	go func() {
		status, _, _ := ts.login(t, stuck)
		hung <- status
	}()
	if !settle(func() bool { return ts.wx.Calls("/sns/jscode2session") == 1 }) {
		t.Fatal("the hanging login never reached WeChat")
	}

	const n = 20
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range n {
		wg.Go(func() {
			if status, _, body := ts.login(t, ts.wx.Code("user"+string(rune('a'+i)))); status == 200 {
				ok.Add(1)
			} else {
				t.Errorf("fast login: %d %s", status, body)
			}
		})
	}
	wg.Wait()
	select {
	case status := <-hung:
		t.Fatalf("the hanging login ended (%d) before the fast ones were all answered: they waited for it", status)
	default:
	}
	if ok.Load() != n {
		t.Errorf("%d of %d fast logins succeeded while one hung", ok.Load(), n)
	}
	if status := <-hung; status != 504 {
		t.Errorf("the hanging login ended with %d, want 504", status)
	}
}
