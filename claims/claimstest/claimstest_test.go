package claimstest_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/claims/claimstest"
)

// The test hook checks signatures as a real hook must: with its key and
// its clock. A request it refuses is recorded with the reason.
func TestServerChecksSignatures(t *testing.T) {
	now := time.Unix(1800000000, 0)
	hook := claimstest.NewServerWith(claimstest.Options{Now: func() time.Time { return now }})
	defer hook.Close()
	hook.Answer(claims.Answer{Sub: "7"})
	body := `{"event":"login","appid":"wx1","openid":"o1"}`

	post := func(sig string) (int, string) {
		req, _ := http.NewRequest("POST", hook.URL, strings.NewReader(body))
		req.Header.Set(claims.SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, b := post(claims.Sign(hook.Key(), []byte(body), now)); status != 200 || strings.TrimSpace(b) != `{"sub":"7"}` {
		t.Errorf("signed: %d %s", status, b)
	}
	if status, _ := post(claims.Sign(hook.Key(), []byte(body), now.Add(-10*time.Minute))); status != 401 {
		t.Errorf("stale: %d, want 401", status)
	}
	if status, _ := post(""); status != 401 {
		t.Errorf("unsigned: %d, want 401", status)
	}
	calls := hook.Calls()
	if len(calls) != 3 || calls[0].Err != nil || calls[0].Request.OpenID != "o1" ||
		!errors.Is(calls[1].Err, claims.ErrTooOld) || !errors.Is(calls[2].Err, claims.ErrNotSigned) {
		t.Errorf("calls: %+v", calls)
	}
	if key, err := claims.DecodeKey(hook.Secret()); err != nil || string(key) != string(hook.Key()) {
		t.Errorf("Secret() does not decode to Key(): %v", err)
	}
}

// Close releases a request the hook holds.
func TestCloseReleasesHang(t *testing.T) {
	hook := claimstest.NewServer()
	hook.Hang()
	c, err := claims.NewClient(claims.Config{URL: hook.URL, Key: hook.Key(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Call(t.Context(), "", claims.Request{Event: "login", AppID: "wx1", OpenID: "o1"})
		done <- err
	}()
	for len(hook.Calls()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	hook.Close()
	if err := <-done; !errors.Is(err, claims.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable from a hook that hung up", err)
	}
}
