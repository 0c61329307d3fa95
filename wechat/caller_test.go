package wechat_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/wechat"
)

// A code is answered from memory, and shares a call in flight, only for
// the caller that exchanged it; another caller's call goes to WeChat.
func TestDedupIsPerCaller(t *testing.T) {
	wx := &countingWeChat{}
	d := wechat.NewCodeDedup(wx, wechat.CodeDedupConfig{Window: time.Minute})
	a := wechat.WithCaller(context.Background(), "198.51.100.7")
	b := wechat.WithCaller(context.Background(), "198.51.100.8")
	// Caller names run together with the code must not collide either.
	ab := wechat.WithCaller(context.Background(), "198.51.100.7c")

	var wg sync.WaitGroup
	for _, ctx := range []context.Context{a, a, a, b} {
		wg.Go(func() { d.Code2Session(ctx, "code") })
	}
	wg.Wait()
	if n := wx.calls.Load(); n != 2 {
		t.Fatalf("two callers sent one code, one of them three times: %d calls to WeChat, want 2", n)
	}
	before := wx.calls.Load()
	d.Code2Session(a, "code")
	d.Code2Session(b, "code")
	if n := wx.calls.Load() - before; n != 0 {
		t.Errorf("each caller's resend made %d calls, want 0", n)
	}
	d.Code2Session(ab, "ode")
	d.Code2Session(context.Background(), "code")
	if n := wx.calls.Load() - before; n != 2 {
		t.Errorf("other callers made %d calls, want 2", n)
	}
}
