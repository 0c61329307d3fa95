package claims_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/claims"
)

// A hook served by Handler and called by Client: the two sides of the
// protocol agree.
func TestHandlerWithClient(t *testing.T) {
	var got []claims.Request
	var logs bytes.Buffer
	h := &claims.Handler{
		Verifier: claims.Verifier{Keys: [][]byte{testKey}},
		Log:      slog.New(slog.NewTextHandler(&logs, nil)),
		Func: func(ctx context.Context, r claims.Request) (claims.Answer, error) {
			got = append(got, r)
			switch r.OpenID {
			case "o-banned":
				return claims.Answer{}, claims.Deny("this account is suspended")
			case "o-broken":
				return claims.Answer{}, errors.New("database down")
			case "o-forger":
				return claims.Answer{Claims: map[string]any{"iss": "me"}}, nil
			}
			return claims.Answer{Sub: "42", Claims: map[string]any{"role": "web_user"}}, nil
		},
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, err := claims.NewClient(claims.Config{URL: srv.URL, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}

	a, err := c.Call(context.Background(), "rid-1", loginReq)
	if err != nil || a.Sub != "42" || a.Claims["role"] != "web_user" {
		t.Errorf("answer %+v, %v", a, err)
	}
	if len(got) != 1 || got[0].OpenID != loginReq.OpenID || got[0].UnionID != loginReq.UnionID {
		t.Errorf("the handler got %+v", got)
	}

	_, err = c.Call(context.Background(), "", claims.Request{Event: "login", AppID: "wx1", OpenID: "o-banned"})
	var de *claims.DeniedError
	if !errors.As(err, &de) || de.Detail != "this account is suspended" {
		t.Errorf("banned: %v", err)
	}
	if _, err := c.Call(context.Background(), "rid-broken", claims.Request{Event: "login", AppID: "wx1", OpenID: "o-broken"}); !errors.Is(err, claims.ErrUpstream) || errors.Is(err, claims.ErrBadAnswer) {
		t.Errorf("broken: %v, want ErrUpstream (a 500)", err)
	}
	if !strings.Contains(logs.String(), "database down") || !strings.Contains(logs.String(), "request_id=rid-broken") {
		t.Errorf("the hook's log does not say why it failed:\n%s", logs.String())
	}
	// An answer wxlogin would refuse is caught on the hook's side, and
	// logged there with the rule.
	if _, err := c.Call(context.Background(), "", claims.Request{Event: "login", AppID: "wx1", OpenID: "o-forger"}); !errors.Is(err, claims.ErrUpstream) {
		t.Errorf("forger: %v", err)
	}
	if !strings.Contains(logs.String(), "reserved_name") {
		t.Errorf("the hook's log does not name the rule broken:\n%s", logs.String())
	}
}

// Requests that do not verify never reach Func.
func TestHandlerRefuses(t *testing.T) {
	reached := false
	h := &claims.Handler{
		Verifier: claims.Verifier{Keys: [][]byte{testKey}},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Func: func(context.Context, claims.Request) (claims.Answer, error) {
			reached = true
			return claims.Answer{}, nil
		},
	}
	body := `{"event":"login","appid":"wx1","openid":"o1"}`
	now := time.Now()
	tests := []struct {
		name, method, body, sig string
		status                  int
	}{
		{"unsigned", "POST", body, "", 401},
		{"wrong key", "POST", body, claims.Sign(make([]byte, 32), []byte(body), now), 401},
		{"replayed after 6 minutes", "POST", body, claims.Sign(testKey, []byte(body), now.Add(-6*time.Minute)), 401},
		{"GET", "GET", "", claims.Sign(testKey, nil, now), 405},
		{"over 64 KiB", "POST", strings.Repeat(" ", 65<<10), "", 413},
		{"signed but not JSON", "POST", "nope", claims.Sign(testKey, []byte("nope"), now), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/claims", strings.NewReader(tt.body))
			if tt.sig != "" {
				r.Header.Set(claims.SignatureHeader, tt.sig)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if reached {
				t.Error("Func was called")
			}
		})
	}
	// A Verifier without a key is a configuration error, not a bad
	// request: 500, so that wxlogin's operators see upstream errors.
	h.Verifier.Keys = nil
	r := httptest.NewRequest("POST", "/claims", strings.NewReader(body))
	r.Header.Set(claims.SignatureHeader, claims.Sign(testKey, []byte(body), now))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError || reached {
		t.Errorf("no key: status %d, reached %v", w.Code, reached)
	}
}

// The X-Request-Id is not signed: the hook logs it only for a request
// that verifies, and only in the form wxlogin gives its ids.
func TestHandlerLogsOnlyVerifiedRequestIDs(t *testing.T) {
	var logs strings.Builder
	h := &claims.Handler{
		Verifier: claims.Verifier{Keys: [][]byte{testKey}},
		Log:      slog.New(slog.NewTextHandler(&logs, nil)),
		Func: func(context.Context, claims.Request) (claims.Answer, error) {
			return claims.Answer{}, errors.New("database down")
		},
	}
	body := `{"event":"login","appid":"wx1","openid":"o1"}`
	send := func(sig, id string) {
		r := httptest.NewRequest("POST", "/claims", strings.NewReader(body))
		r.Header.Set(claims.SignatureHeader, sig)
		r.Header.Set(claims.RequestIDHeader, id)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	send("t=1,v1=00", "FORGED-by-anyone")
	send(claims.Sign(testKey, []byte(body), time.Now()), "FORGED\nlevel=ERROR msg=injected")
	send(claims.Sign(testKey, []byte(body), time.Now()), "FORGED"+strings.Repeat("x", 300))
	if strings.Contains(logs.String(), "FORGED") {
		t.Errorf("the hook logs a request id it should not:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "request refused"); n != 1 {
		t.Errorf("%d lines of refused requests, want 1:\n%s", n, logs.String())
	}
	send(claims.Sign(testKey, []byte(body), time.Now()), "host/0123456789-000042")
	if !strings.Contains(logs.String(), "request_id=host/0123456789-000042") {
		t.Errorf("a verified request's id is not logged:\n%s", logs.String())
	}
}
