package handlers_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/handlers"
)

// However many logins go through the cache, no goroutine is left behind.
func TestDedupLeavesNoGoroutines(t *testing.T) {
	wx := &countingWeChat{}
	d := handlers.NewCodeDedup(wx, handlers.CodeDedupConfig{Window: time.Minute})
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				code := fmt.Sprintf("code-%d-%d", w, i)
				s, err := d.Code2Session(context.Background(), code)
				if err != nil || s.OpenID != "o-"+code {
					t.Errorf("%s: %+v, %v", code, s, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := wx.calls.Load(); n != 2000 {
		t.Errorf("%d WeChat calls for 2000 codes", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after 2000 logins, %d before", after, before)
	}
}
