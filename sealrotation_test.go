package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// replica is one wxlogin server configured from env exactly as `wxlogin
// serve` reads it, in production mode, on its own address. Replicas of one
// deployment share WXLOGIN_ISSUER, so each verifies the others' tokens.
func replica(t *testing.T, env map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = appFromEnv(t, env, srv.Listener.Addr()).handler
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// appFromEnv builds the server from exactly env, as `wxlogin serve` reads
// it, for the address addr.
func appFromEnv(t *testing.T, env map[string]string, addr net.Addr) *app {
	t.Helper()
	clearEnv(t, env)
	cfg, err := configure(false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.DiscardHandler), addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// call posts body (JSON of v, or none) with tok as bearer and returns the
// status and the decoded answer.
func call(t *testing.T, srv *httptest.Server, path, tok string, v any) (int, map[string]any) {
	t.Helper()
	var body io.Reader = http.NoBody
	if v != nil {
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// sealV1 seals sessionKey in sk's first format (AES-256-GCM, random
// 96-bit nonce, no version prefix), as releases before the versioned
// format did, so the test can hold a token from such a release.
func sealV1(t *testing.T, secretB64, appid, openid, sessionKey string) string {
	t.Helper()
	secret, err := base64.StdEncoding.DecodeString(secretB64)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(secret)
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	out := gcm.Seal(nonce, nonce, []byte(sessionKey), []byte("wxlogin-sk-v1\x00"+appid+"\x00"+openid))
	return base64.RawURLEncoding.EncodeToString(out)
}

// TestSessionKeySecretRotation follows the documented rotation of
// WXLOGIN_SESSION_KEY_SECRET through the HTTP API, with replicas of each
// step running side by side as in a rolling update: no live token's
// session key stops opening, tokens of the release before the versioned
// sk format included; and a server that no longer holds the old secret
// answers decrypt_failed with relogin, and {"valid": false}.
func TestSessionKeySecretRotation(t *testing.T) {
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	km := newKeyMaterial(t)
	s1, s2 := km.sessionSecret, newKeyMaterial(t).sessionSecret
	env := func(current, old string) map[string]string {
		e := map[string]string{
			"WXLOGIN_APPID": testAppID, "WXLOGIN_SECRET": testSecret, "WXLOGIN_WECHAT_BASE_URL": wx.URL,
			"WXLOGIN_ISSUER": "https://login.example.com", "WXLOGIN_SIGNING_KEY": km.signingKey,
			"WXLOGIN_SESSION_KEY_SECRET": current,
		}
		if old != "" {
			e["WXLOGIN_OLD_SESSION_KEY_SECRETS"] = old
		}
		return e
	}
	login := func(srv *httptest.Server, user string) (tok, openid string) {
		t.Helper()
		status, body := postLogin(t, srv.URL, wx.Code(user))
		tok, _ = body["token"].(string)
		openid, _ = body["openid"].(string)
		if status != http.StatusOK || tok == "" {
			t.Fatalf("login of %s: %d %v", user, status, body)
		}
		return tok, openid
	}
	type held struct{ tok, openid string }
	// decrypts checks that srv opens the token's session key: the user's
	// open data decrypts, and WeChat confirms the key as current.
	decrypts := func(step string, srv *httptest.Server, name string, h held) {
		t.Helper()
		if status, body := call(t, srv, "/v1/decrypt", h.tok, wx.UserInfo(h.openid)); status != http.StatusOK || body["openId"] != h.openid {
			t.Errorf("%s: /v1/decrypt with %s: %d %v; want the user's data", step, name, status, body)
		}
		if status, body := call(t, srv, "/v1/session/check", h.tok, nil); status != http.StatusOK || body["valid"] != true {
			t.Errorf("%s: /v1/session/check with %s: %d %v; want valid", step, name, status, body)
		}
	}

	// Before: S1 seals.
	before := replica(t, env(s1, ""))
	var alice, legacy held
	alice.tok, alice.openid = login(before, "alice")
	// A token of the release before the versioned format, for bob.
	_, bobOpenID := login(before, "bob")
	claims := km.signer(t, "https://login.example.com", testAppID).Claims(bobOpenID)
	claims["sk"] = sealV1(t, s1, testAppID, bobOpenID, wx.SessionKey(bobOpenID))
	legacy = held{km.signer(t, "https://login.example.com", testAppID).Sign(claims, nil), bobOpenID}
	if sk := claimsOf(t, alice.tok)["sk"].(string); !strings.HasPrefix(sk, "v2.") {
		t.Errorf("sk = %.12s…; want the versioned format", sk)
	}
	decrypts("before", before, "a current token", alice)
	decrypts("before", before, "a token of the previous format", legacy)

	// Step 1: S2 is published (opens, does not seal) while S1 still seals.
	publish := replica(t, env(s1, s2))
	// Step 2: S2 seals, S1 is kept to open what it sealed.
	switched := replica(t, env(s2, s1))
	var carol held
	carol.tok, carol.openid = login(switched, "carol")
	if a, c := claimsOf(t, alice.tok)["sk"].(string), claimsOf(t, carol.tok)["sk"].(string); a[:12] == c[:12] {
		t.Errorf("after the switch, sk names the key id %s of the old secret", a[3:11])
	}
	for _, srv := range []struct {
		name string
		s    *httptest.Server
	}{{"step 1 replica", publish}, {"step 2 replica", switched}} {
		decrypts(srv.name, srv.s, "a token sealed under S1", alice)
		decrypts(srv.name, srv.s, "a token of the previous format", legacy)
		decrypts(srv.name, srv.s, "a token sealed under S2", carol)
	}

	// Without S1 (once every token it sealed has expired), its tokens no
	// longer open: the answer tells the mini program to log in again.
	dropped := replica(t, env(s2, ""))
	for name, h := range map[string]held{"a token sealed under S1": alice, "a token of the previous format": legacy} {
		status, body := call(t, dropped, "/v1/decrypt", h.tok, wx.UserInfo(h.openid))
		if status != http.StatusBadRequest || body["code"] != "decrypt_failed" || body["relogin"] != true {
			t.Errorf("S1 dropped: /v1/decrypt with %s: %d %v; want 400 decrypt_failed, relogin true", name, status, body)
		}
		if status, body := call(t, dropped, "/v1/session/check", h.tok, nil); status != http.StatusOK || body["valid"] != false {
			t.Errorf("S1 dropped: /v1/session/check with %s: %d %v; want valid false", name, status, body)
		}
	}
	decrypts("S1 dropped", dropped, "a token sealed under S2", carol)
}

// claimsOf decodes a token's claims without verifying it.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
