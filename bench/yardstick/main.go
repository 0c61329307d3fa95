// Command yardstick is the honest baseline that wxlogin's performance is
// measured against: the least program that does the same exchange, with
// net/http and golang-jwt and nothing else. POST /v1/login decodes
// {"code"}, calls WeChat's jscode2session, seals the session_key with
// AES-256-GCM, signs an ES256 JWT with the same claims wxlogin issues, and
// answers JSON. No router, no logging, no request ids, no metrics, no
// problem documents: whatever wxlogin costs beyond this is the price of
// those.
//
// It reads the same variables as wxlogin, so that bench/wxload can start
// both with one environment: WXLOGIN_ADDR, WXLOGIN_APPID, WXLOGIN_SECRET,
// WXLOGIN_WECHAT_BASE_URL, WXLOGIN_ISSUER, WXLOGIN_SIGNING_KEY (an EC
// P-256 PEM, one line with \n escapes allowed) and
// WXLOGIN_SESSION_KEY_SECRET. It is a benchmark fixture, not a server to
// deploy: it checks little and answers errors as bare status codes.
package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const ttl = 2 * time.Hour

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "yardstick: %v\n", err)
		os.Exit(1)
	}
}

type server struct {
	base, appID, secret, issuer string
	kid                         string
	key                         *ecdsa.PrivateKey
	aead                        cipher.AEAD
	http                        *http.Client
}

func run(ctx context.Context) error {
	s := &server{
		base:   strings.TrimRight(os.Getenv("WXLOGIN_WECHAT_BASE_URL"), "/"),
		appID:  os.Getenv("WXLOGIN_APPID"),
		secret: os.Getenv("WXLOGIN_SECRET"),
		issuer: os.Getenv("WXLOGIN_ISSUER"),
	}
	if s.base == "" || s.appID == "" || s.secret == "" || s.issuer == "" {
		return errors.New("set WXLOGIN_WECHAT_BASE_URL, WXLOGIN_APPID, WXLOGIN_SECRET and WXLOGIN_ISSUER")
	}
	block, _ := pem.Decode([]byte(strings.ReplaceAll(os.Getenv("WXLOGIN_SIGNING_KEY"), `\n`, "\n")))
	if block == nil {
		return errors.New("WXLOGIN_SIGNING_KEY: not a PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return errors.New("WXLOGIN_SIGNING_KEY: not a PKCS#8 private key")
	}
	var ok bool
	if s.key, ok = k.(*ecdsa.PrivateKey); !ok {
		return errors.New("WXLOGIN_SIGNING_KEY: not an EC key")
	}
	pub, _ := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	sum := sha256.Sum256(pub)
	s.kid = base64.RawURLEncoding.EncodeToString(sum[:])
	secret, err := base64.StdEncoding.DecodeString(os.Getenv("WXLOGIN_SESSION_KEY_SECRET"))
	if err != nil || len(secret) != 32 {
		return errors.New("WXLOGIN_SESSION_KEY_SECRET: want base64 of 32 bytes")
	}
	block2, _ := aes.NewCipher(secret)
	s.aead, _ = cipher.NewGCM(block2)

	// The same connection pool wxlogin's WeChat client uses: without it
	// net/http keeps two idle connections per host and every other call
	// opens a new one, which would make this baseline look slow.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 128
	s.http = &http.Client{Transport: t}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/login", s.login)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })

	addr := os.Getenv("WXLOGIN_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8081"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("yardstick listening on http://%s\n", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

type claims struct {
	jwt.RegisteredClaims
	AppID   string `json:"appid"`
	UnionID string `json:"unionid,omitempty"`
	SK      string `json:"sk,omitempty"`
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code string `json:"code"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.Code == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	q := url.Values{"appid": {s.appID}, "secret": {s.secret}, "js_code": {req.Code}, "grant_type": {"authorization_code"}}
	wreq, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/sns/jscode2session?"+q.Encode(), nil)
	resp, err := s.http.Do(wreq)
	if err != nil {
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		return
	}
	defer resp.Body.Close()
	var ans struct {
		ErrCode    int    `json:"errcode"`
		OpenID     string `json:"openid"`
		SessionKey string `json:"session_key"`
		UnionID    string `json:"unionid"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans); err != nil || ans.ErrCode != 0 || ans.OpenID == "" {
		http.Error(w, "upstream error", http.StatusBadGateway)
		return
	}

	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(ans.SessionKey)+s.aead.Overhead())
	rand.Read(nonce)
	sealed := s.aead.Seal(nonce, nonce, []byte(ans.SessionKey), []byte(s.appID+"\x00"+ans.OpenID))
	jti := make([]byte, 16)
	rand.Read(jti)
	now := time.Now().Truncate(time.Second)
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.issuer, Subject: ans.OpenID, Audience: jwt.ClaimStrings{s.appID},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), ID: base64.RawURLEncoding.EncodeToString(jti),
		},
		AppID: s.appID, UnionID: ans.UnionID, SK: base64.RawURLEncoding.EncodeToString(sealed),
	})
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(loginResponse{
		Token: signed, TokenType: "Bearer", ExpiresIn: int64(ttl.Seconds()),
		OpenID: ans.OpenID, UnionID: ans.UnionID,
	})
}

type loginResponse struct {
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresIn int64  `json:"expires_in"`
	OpenID    string `json:"openid"`
	UnionID   string `json:"unionid,omitempty"`
}
