package handlers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wxlogin/wxlogin/handlers"
	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// benchIssuer is an ES256 issuer and its verifier, and the signing key.
func benchIssuer(b *testing.B) (*token.Issuer, *token.Verifier, *ecdsa.PrivateKey) {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	secret := make([]byte, token.SecretSize)
	rand.Read(secret)
	sealer, _ := token.NewSealer(secret)
	iss, err := token.NewIssuer(token.IssuerConfig{Key: key, Issuer: issuer, Audience: appID, AppID: appID, TTL: 2 * time.Hour, Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	ver, err := token.NewVerifier(token.VerifierConfig{Keys: []token.Key{iss.Key()}, Issuer: issuer, Audience: appID})
	if err != nil {
		b.Fatal(err)
	}
	return iss, ver, key
}

// benchHandler is the login handler as serve.go wires it (JSON request
// log included, to io.Discard), in front of wx: the real client talking
// to the fake WeChat in process, or a stub.
func benchHandler(b *testing.B, wx handlers.WeChat) http.Handler {
	b.Helper()
	iss, ver, _ := benchIssuer(b)
	h, err := handlers.New(handlers.Deps{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Issuer: issuer, Verifier: ver, Keys: []token.Key{iss.Key()},
		Apps: []handlers.App{{AppID: appID, WeChat: wx, Tokens: iss}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// benchFakeWeChat is the real WeChat client over the fake's in-process
// transport. The fake lets one code be reused, so that its memory stays
// flat however long the benchmark runs.
func benchFakeWeChat() (handlers.WeChat, string) {
	fake := wechattest.New(wechattest.Options{AppID: appID, Secret: secret, AllowReuse: true, UnionID: true})
	wx := wechat.New(wechat.Config{
		BaseURL: "http://wechat.fake", AppID: appID, Secret: secret,
		HTTPClient: &http.Client{Transport: fake.Transport()}, Timeout: 5 * time.Second,
	})
	return wx, fake.Code("bench-user")
}

// benchStub answers at once, so that a benchmark measures wxlogin alone.
type benchStub struct{}

func (benchStub) Code2Session(context.Context, string) (wechat.Session, error) {
	return wechat.Session{OpenID: "oBench0000000000000000000000", SessionKey: "c2Vzc2lvbmtleTEyMzQ1Ng==", UnionID: "uBench000000000000000000000"}, nil
}

func benchLogin(b *testing.B, h http.Handler, code string) {
	body := `{"code":"` + code + `"}`
	req := httptest.NewRequest(http.MethodPost, "/v1/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
}

// BenchmarkLogin is one POST /v1/login through the whole handler stack
// (router, request id, request log, strict decoding, token signing,
// JSON answer): "fake" with the real WeChat client and the fake WeChat
// in process, "stub" with WeChat answering at once, which is wxlogin's
// own cost.
func BenchmarkLogin(b *testing.B) {
	b.Run("fake", func(b *testing.B) {
		wx, code := benchFakeWeChat()
		h := benchHandler(b, wx)
		b.ReportAllocs()
		for b.Loop() {
			benchLogin(b, h, code)
		}
	})
	b.Run("stub", func(b *testing.B) {
		h := benchHandler(b, benchStub{})
		b.ReportAllocs()
		for b.Loop() {
			benchLogin(b, h, "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d")
		}
	})
}

// BenchmarkLoginParallel is BenchmarkLogin from GOMAXPROCS goroutines at
// once, to show contention (the fake's lock counts against "fake").
func BenchmarkLoginParallel(b *testing.B) {
	b.Run("fake", func(b *testing.B) {
		wx, code := benchFakeWeChat()
		h := benchHandler(b, wx)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				benchLogin(b, h, code)
			}
		})
	})
	b.Run("stub", func(b *testing.B) {
		h := benchHandler(b, benchStub{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				benchLogin(b, h, "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d")
			}
		})
	})
}

// BenchmarkES256Sign is the yardstick of the CPU target: one ES256
// signature of a wxlogin token's signing input, as golang-jwt makes it.
func BenchmarkES256Sign(b *testing.B) {
	iss, _, key := benchIssuer(b)
	is, err := iss.Issue("oBench0000000000000000000000", "uBench000000000000000000000", "c2Vzc2lvbmtleTEyMzQ1Ng==")
	if err != nil {
		b.Fatal(err)
	}
	input := is.Token[:strings.LastIndexByte(is.Token, '.')]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jwt.SigningMethodES256.Sign(input, key); err != nil {
			b.Fatal(err)
		}
	}
}
