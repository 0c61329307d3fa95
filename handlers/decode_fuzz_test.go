package handlers_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat"
)

// fzRequest has a field of every JSON kind, so that type errors of each
// kind are reachable.
type fzRequest struct {
	Code string    `json:"code"`
	IV   string    `json:"iv,omitempty"`
	N    int       `json:"n,omitempty"`
	On   bool      `json:"on,omitempty"`
	Tags []string  `json:"tags,omitempty"`
	Meta *struct { // nested, for error paths like meta.a
		A bool `json:"a"`
	} `json:"meta,omitempty"`
}

// fzDetail is every detail DecodeStrict may answer with. Field names come
// from fzRequest's tags, never from the body, so no detail can echo it.
var fzDetail = regexp.MustCompile(`^(the body is empty; want a JSON object` +
	`|the body is not valid JSON` +
	`|the body must be a JSON object` +
	`|the body has a field this endpoint does not take` +
	`|the body must hold exactly one JSON object, with nothing after it` +
	`|field "(code|iv|n|on|tags|meta|meta\.a)" must be an? (string|object|array|boolean|number))$`)

// FuzzDecodeStrict feeds any body to the strict decoder every handler
// uses. It must not panic; a refusal is an *Error with code
// invalid_request and a detail from a fixed set; an acceptance is one
// JSON object (or null), which decodes to the same value with
// encoding/json and survives a round trip.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{"code":"0a1b2c3d4e5f"}`, `{"code":"x","iv":"y","n":1,"on":true,"tags":["a"],"meta":{"a":false}}`,
		``, ` `, `null`, `[]`, `"code"`, `{"code":1}`, `{"code":"a"}{"code":"b"}`, `{"code":"a"} x`,
		`{"code":"a","extra":1}`, `{"CODE":"a"}`, `{"meta":{"a":"yes"}}`, `{"tags":[1]}`, `{"n":1e400}`,
		`{"code":"\ud800"}`, "{\"code\":\"a\xff\"}", `{"code":"a"`, `{"code":"a"}` + "\n",
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"code":"a","extra":1}`), true)
	f.Fuzz(func(t *testing.T, body []byte, allowUnknown bool) {
		var got fzRequest
		err := handlers.DecodeStrict(bytes.NewReader(body), &got, allowUnknown)
		if err != nil {
			var e *handlers.Error
			if !errors.As(err, &e) {
				t.Fatalf("DecodeStrict(%q) = %T %v, want *handlers.Error", body, err, err)
			}
			if e.Code != handlers.CodeInvalidRequest {
				t.Fatalf("DecodeStrict(%q) code = %q, want %q", body, e.Code, handlers.CodeInvalidRequest)
			}
			if !fzDetail.MatchString(e.Detail) {
				t.Fatalf("DecodeStrict(%q) detail = %q, not one of the fixed details", body, e.Detail)
			}
			return
		}
		trimmed := bytes.TrimSpace(body)
		if !json.Valid(body) || !(bytes.Equal(trimmed, []byte("null")) || trimmed[0] == '{') {
			t.Fatalf("DecodeStrict accepted %q, which is not one JSON object", body)
		}
		var want fzRequest
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("DecodeStrict accepted %q, which encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeStrict(%q) = %+v, encoding/json says %+v", body, got, want)
		}
		// Round trip, compared as JSON: omitempty turns an empty slice into
		// an absent one, which is the same request.
		again, _ := json.Marshal(got)
		var back fzRequest
		if err := handlers.DecodeStrict(bytes.NewReader(again), &back, false); err != nil {
			t.Fatalf("round trip of %q: %s does not decode: %v", body, again, err)
		}
		if twice, _ := json.Marshal(back); !bytes.Equal(twice, again) {
			t.Fatalf("round trip of %q: %s decodes and encodes to %s", body, again, twice)
		}
	})
}

// fzWeChat stands in for WeChat: any code is some user's, and it counts
// the calls, which bad input must never reach.
type fzWeChat struct {
	calls atomic.Int64
	last  atomic.Value // string: the last code it was asked about
}

func (w *fzWeChat) Code2Session(_ context.Context, code string) (wechat.Session, error) {
	w.calls.Add(1)
	w.last.Store(code)
	return wechat.Session{OpenID: fzOpenID(code), SessionKey: "c2Vzc2lvbmtleTEyMzQ1Ng=="}, nil
}

func fzOpenID(code string) string {
	sum := sha256.Sum256([]byte(code))
	return "o" + base64.RawURLEncoding.EncodeToString(sum[:])[:27]
}

// fzLogs collects the server's log lines.
type fzLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *fzLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *fzLogs) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

// FuzzLogin sends any body with any Content-Type to the real login
// handler in front of a stub WeChat. It must not panic; it answers 200
// with a token that verifies for the stub's user, or a 400, 413 or 415
// problem with the matching code; input it refuses never reaches WeChat;
// and neither the answer nor the log echoes any string from the body
// that could be a code.
func FuzzLogin(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	sealer, _ := token.NewSealer(make([]byte, token.SecretSize))
	iss, err := token.NewIssuer(token.IssuerConfig{Key: key, Issuer: issuer, Audience: appID, AppID: appID, TTL: 2 * time.Hour, Sealer: sealer})
	if err != nil {
		f.Fatal(err)
	}
	ver, err := token.NewVerifier(token.VerifierConfig{Keys: []token.Key{iss.Key()}, Issuer: issuer, Audience: appID})
	if err != nil {
		f.Fatal(err)
	}
	wx := &fzWeChat{}
	logs := &fzLogs{}
	h, err := handlers.New(handlers.Deps{
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Issuer: issuer, Verifier: ver, Keys: []token.Key{iss.Key()},
		Apps: []handlers.App{{AppID: appID, WeChat: wx, Tokens: iss}},
	})
	if err != nil {
		f.Fatal(err)
	}

	for _, s := range []struct{ ct, body string }{
		{"application/json", `{"code":"0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"}`},
		{"application/json; charset=utf-8", `{"code":"0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"}`},
		{"application/json; charset=latin1", `{"code":"0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"}`},
		{"text/plain", `{"code":"0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"}`},
		{"", `{"code":"x"}`},
		{"application/json", `{"code":""}`},
		{"application/json", `{"code":"has space 12345"}`},
		{"application/json", `{"code":"ctrl\u0001char12345"}`},
		{"application/json", `{"code":"` + strings.Repeat("a", 257) + `"}`},
		{"application/json", `{"code":"a1b2c3d4e5f6g7h8","extra":"a1b2c3d4e5f6g7h9"}`},
		{"application/json", `{"code":"a1b2c3d4e5f6g7h8"} {"code":"a1b2c3d4e5f6g7h8"}`},
		{"application/json", `{"code":["a1b2c3d4e5f6g7h8"]}`},
		{"application/json", `["a1b2c3d4e5f6g7h8"]`},
		{"application/json", `null`},
		{"application/json", "{\"code\":\"a1b2\xffc3d4e5f6g7h8\"}"},
		{"application/json", `{"code":"` + strings.Repeat("a", handlers.MaxBodyBytes) + `"}`},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		before := wx.calls.Load()
		req := httptest.NewRequest(http.MethodPost, "/v1/login", bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		calls := wx.calls.Load() - before
		answer, logged := rec.Body.String(), logs.take()

		switch rec.Code {
		case http.StatusOK:
			var got struct {
				Token     string `json:"token"`
				TokenType string `json:"token_type"`
				OpenID    string `json:"openid"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("200 answer %q is not JSON: %v", answer, err)
			}
			code, _ := wx.last.Load().(string)
			if calls != 1 || got.OpenID != fzOpenID(code) || got.TokenType != "Bearer" {
				t.Fatalf("200 after %d WeChat calls: %s", calls, answer)
			}
			c, err := ver.Verify(got.Token)
			if err != nil || c.Subject != got.OpenID {
				t.Fatalf("the token of a 200 does not verify for its openid: %v", err)
			}
			if !fzPlausibleCode(code) {
				t.Fatalf("code %q reached WeChat; it should have been refused", code)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			want := map[int]string{
				http.StatusBadRequest:            handlers.CodeInvalidRequest,
				http.StatusRequestEntityTooLarge: handlers.CodePayloadTooLarge,
				http.StatusUnsupportedMediaType:  handlers.CodeUnsupportedMediaType,
			}[rec.Code]
			var p handlers.Problem
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%d answered as %q", rec.Code, ct)
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != want || p.Status != rec.Code || p.Detail == "" {
				t.Fatalf("%d answer %q is not a %s problem (%v)", rec.Code, answer, want, err)
			}
			if calls != 0 {
				t.Fatalf("a %d (%s) spent %d WeChat calls", rec.Code, p.Detail, calls)
			}
		default:
			t.Fatalf("status %d for Content-Type %q body %q: %s", rec.Code, contentType, body, answer)
		}

		for _, s := range fzStrings(body) {
			esc, _ := json.Marshal(s)
			for _, form := range []string{s, string(esc[1 : len(esc)-1])} {
				if strings.Contains(answer, form) {
					t.Fatalf("the answer echoes %q from the body: %s", s, answer)
				}
				if strings.Contains(logged, form) {
					t.Fatalf("the log echoes %q from the body: %s", s, logged)
				}
			}
		}
	})
}

// fzPlausibleCode is the rule the handler applies before calling WeChat.
func fzPlausibleCode(code string) bool {
	if code == "" || len(code) > 256 || !utf8.ValidString(code) {
		return false
	}
	for _, c := range code {
		if c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}

// fzStrings returns the strings in a JSON body that could be a login
// code: 12 characters or more, with a letter and a digit (which no fixed
// text of the answer or log is made of by chance).
func fzStrings(body []byte) []string {
	var out []string
	dec := json.NewDecoder(bytes.NewReader(body))
	for range 10_000 {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		s, ok := tok.(string)
		if !ok || utf8.RuneCountInString(s) < 12 {
			continue
		}
		letter := strings.IndexFunc(s, unicode.IsLetter) >= 0
		digit := strings.IndexFunc(s, unicode.IsDigit) >= 0
		if letter && digit {
			out = append(out, s)
		}
	}
	return out
}
