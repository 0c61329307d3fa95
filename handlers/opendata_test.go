package handlers_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
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

// The tests of /v1/decrypt, /v1/phone and /v1/session/check run the real
// handler, the real WeChat client and token cache, and the fake WeChat.

const (
	odAppID  = "wx7777777777777777"
	odSecret = "od-secret-od-secret-od-secret-01"
	odIssuer = "https://login.example.org"
)

type odOptions struct {
	appID   string // odAppID when empty
	fake    wechattest.Options
	timeout time.Duration        // of one WeChat call; 2s when zero
	deps    func(*handlers.Deps) // changes the dependencies before handlers.New
}

// odEnv is the API under test and what it is wired to.
type odEnv struct {
	*httptest.Server
	wx     *wechattest.Server
	appID  string
	iss    *token.Issuer
	ver    *token.Verifier
	signer crypto.Signer
	logs   *logBuffer
}

func newODEnv(t *testing.T, o odOptions) *odEnv {
	t.Helper()
	if o.appID == "" {
		o.appID = odAppID
	}
	if o.timeout == 0 {
		o.timeout = 2 * time.Second
	}
	o.fake.AppID, o.fake.Secret = o.appID, odSecret
	wx := wechattest.NewServer(o.fake)
	t.Cleanup(wx.Close)

	pemKey, err := token.GenerateKey(token.ES256)
	if err != nil {
		t.Fatal(err)
	}
	recordPEM("signing key", pemKey)
	signer, _, err := token.ParsePrivateKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	iss := newODIssuer(t, signer, o.appID)
	ver, err := token.NewVerifier(token.VerifierConfig{Keys: []token.Key{iss.Key()}, Issuer: odIssuer, Audience: o.appID})
	if err != nil {
		t.Fatal(err)
	}
	client := wechat.New(wechat.Config{BaseURL: wx.URL, AppID: o.appID, Secret: odSecret, Timeout: o.timeout, HTTPClient: recordingClient()})
	cache := wechat.NewTokenCache(wechat.TokenCacheConfig{
		Fetch: func(ctx context.Context) (wechat.AccessToken, error) { return client.StableAccessToken(ctx, false) },
	})
	logs := &logBuffer{}
	deps := handlers.Deps{
		Logger: slog.New(slog.NewJSONHandler(captureLogs(logs), nil)),
		Issuer: odIssuer, Verifier: ver, Keys: []token.Key{iss.Key()},
		Apps: []handlers.App{{AppID: o.appID, WeChat: client, Tokens: iss, UserAPI: &wechat.UserAPI{Client: client, Tokens: cache}}},
	}
	if o.deps != nil {
		o.deps(&deps)
	}
	h, err := handlers.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(recordTraffic(h))
	t.Cleanup(srv.Close)
	return &odEnv{Server: srv, wx: wx, appID: o.appID, iss: iss, ver: ver, signer: signer, logs: logs}
}

// newODIssuer returns an issuer with signer and a fresh session-key secret.
func newODIssuer(t *testing.T, signer crypto.Signer, appID string) *token.Issuer {
	t.Helper()
	secret := make([]byte, token.SecretSize)
	rand.Read(secret)
	recordBytes("session-key secret", secret)
	sealer, err := token.NewSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := token.NewIssuer(token.IssuerConfig{Key: signer, Issuer: odIssuer, Audience: appID, AppID: appID, TTL: time.Hour, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// call sends body (a string as is, anything else as JSON) with the bearer
// token, when given, and returns the answer.
func (e *odEnv) call(t *testing.T, method, path, bearer string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		s, ok := body.(string)
		if !ok {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			s = string(b)
		}
		rd = strings.NewReader(s)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	c := *e.Client()
	c.Timeout = 20 * time.Second // a hang fails the test instead of stalling it
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// loginAs logs user in through POST /v1/login and returns the token and openid.
func (e *odEnv) loginAs(t *testing.T, user string) (string, string) {
	t.Helper()
	status, _, body := e.call(t, "POST", "/v1/login", "", map[string]string{"code": e.wx.Code(user)})
	var out struct {
		Token  string `json:"token"`
		OpenID string `json:"openid"`
	}
	if status != 200 || json.Unmarshal(body, &out) != nil || out.Token == "" {
		t.Fatalf("login: %d %s", status, body)
	}
	return out.Token, out.OpenID
}

// sign signs c with the server's own key: a token only the server could make.
func (e *odEnv) sign(t *testing.T, c *token.Claims) string {
	t.Helper()
	tk := jwt.NewWithClaims(token.SigningMethodES256, c)
	tk.Header["kid"] = e.iss.Key().KID
	s, err := tk.SignedString(e.signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// odProblem checks a problem answer and returns it.
func odProblem(t *testing.T, status int, hdr http.Header, body []byte, wantStatus int, wantCode string) handlers.Problem {
	t.Helper()
	var p handlers.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("status %d, body %q is not JSON", status, body)
	}
	if status != wantStatus || p.Code != wantCode || hdr.Get("Content-Type") != "application/problem+json" || p.Detail == "" {
		t.Errorf("got %d %s %s, want %d %s with a detail", status, hdr.Get("Content-Type"), body, wantStatus, wantCode)
	}
	return p
}

// encryptAs encrypts pt with sessionKey as WeChat does, but with whatever
// padding pt already has, so the test controls padding and watermark.
func encryptAs(t *testing.T, sessionKey string, pt []byte) (data, iv string) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ivb := make([]byte, aes.BlockSize)
	rand.Read(ivb)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, ivb).CryptBlocks(ct, pt)
	return base64.StdEncoding.EncodeToString(ct), base64.StdEncoding.EncodeToString(ivb)
}

func pad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

func TestDecrypt(t *testing.T) {
	e := newODEnv(t, odOptions{})
	tok, openid := e.loginAs(t, "alice")
	sk := e.wx.SessionKey(openid)

	otherApp := func() any {
		pt, _ := json.Marshal(map[string]any{"openGId": "G", "watermark": map[string]any{"appid": "wx2222222222222222", "timestamp": 1}})
		data, iv := encryptAs(t, sk, pad(pt))
		return map[string]string{"encryptedData": data, "iv": iv}
	}
	badPadding := func() any {
		pt := pad([]byte(`{"openGId":"G","watermark":{"appid":"` + odAppID + `","timestamp":1}}`))
		pt[len(pt)-1] = 0 // a zero pad length: never valid PKCS#7
		data, iv := encryptAs(t, sk, pt)
		return map[string]string{"encryptedData": data, "iv": iv}
	}
	tampered := func(field, value string) func() any {
		return func() any {
			d := e.wx.UserInfo(openid)
			m := map[string]any{}
			b, _ := json.Marshal(d)
			json.Unmarshal(b, &m)
			m[field] = value
			return m
		}
	}
	userInfo := e.wx.UserInfo(openid)

	tests := []struct {
		name       string
		body       func() any
		wantStatus int
		wantCode   string
		check      func(t *testing.T, out map[string]any)
		hint       string // the problem detail must say this
	}{
		{"user info, good signature", func() any { return e.wx.UserInfo(openid) }, 200, "", func(t *testing.T, out map[string]any) {
			if out["openId"] != openid || out["nickName"] != "微信用户" {
				t.Errorf("user info = %v", out)
			}
		}, ""},
		{"share info", func() any { return e.wx.ShareInfo(openid, "tGroup-123") }, 200, "", func(t *testing.T, out map[string]any) {
			if out["openGId"] != "tGroup-123" {
				t.Errorf("share info = %v", out)
			}
		}, ""},
		{"WeRun data, extra e.detail fields", func() any {
			data, iv := e.wx.EncryptOpenData(openid, map[string]any{"stepInfoList": []any{map[string]any{"timestamp": 1700000000, "step": 8000}}})
			return map[string]any{"errMsg": "getWeRunData:ok", "encryptedData": data, "iv": iv, "cloudID": "c1", "future": map[string]any{"x": 1}}
		}, 200, "", func(t *testing.T, out map[string]any) {
			if _, ok := out["stepInfoList"].([]any); !ok {
				t.Errorf("WeRun data = %v", out)
			}
		}, ""},
		{"user info, bad signature", tampered("signature", strings.Repeat("0", 40)), 400, handlers.CodeDecryptFailed, nil, "log in again"},
		{"user info, altered rawData", tampered("rawData", strings.Replace(userInfo.RawData, "微信用户", "admin", 1)), 400, handlers.CodeDecryptFailed, nil, "rawData was altered"},
		{"user info, signature not hex", tampered("signature", "not-hex"), 400, handlers.CodeDecryptFailed, nil, "not validly encoded"},
		{"watermark from another AppID", otherApp, 400, handlers.CodeDecryptFailed, nil, "another mini program"},
		{"bad base64", tampered("encryptedData", "@@not base64@@"), 400, handlers.CodeDecryptFailed, nil, "not validly encoded"},
		{"wrong iv length", tampered("iv", base64.StdEncoding.EncodeToString(make([]byte, 12))), 400, handlers.CodeDecryptFailed, nil, "16 bytes"},
		{"bad padding", badPadding, 400, handlers.CodeDecryptFailed, nil, "log in again"},
		{"data not whole blocks", tampered("encryptedData", base64.StdEncoding.EncodeToString(make([]byte, 33))), 400, handlers.CodeDecryptFailed, nil, "AES blocks"},
		{"missing encryptedData", func() any { return map[string]string{"iv": userInfo.IV} }, 400, handlers.CodeInvalidRequest, nil, "encryptedData"},
		{"missing iv", func() any { return map[string]string{"encryptedData": userInfo.EncryptedData} }, 400, handlers.CodeInvalidRequest, nil, "iv"},
		{"declined callback", func() any { return map[string]string{"errMsg": "getUserInfo:fail auth deny"} }, 400, handlers.CodeInvalidRequest, nil, "encryptedData"},
		{"rawData without signature", tampered("signature", ""), 400, handlers.CodeInvalidRequest, nil, "together"},
		{"iv not a string", func() any { return map[string]any{"encryptedData": userInfo.EncryptedData, "iv": 12} }, 400, handlers.CodeInvalidRequest, nil, "iv"},
		{"not JSON", func() any { return "encryptedData=x&iv=y" }, 400, handlers.CodeInvalidRequest, nil, "JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := e.call(t, "POST", "/v1/decrypt", tok, tt.body())
			if tt.wantStatus == 200 {
				var out map[string]any
				if status != 200 || json.Unmarshal(body, &out) != nil {
					t.Fatalf("got %d %s, want 200 with a JSON object", status, body)
				}
				if wm, _ := out["watermark"].(map[string]any); wm["appid"] != odAppID {
					t.Errorf("watermark = %v, want appid %s", out["watermark"], odAppID)
				}
				tt.check(t, out)
				return
			}
			p := odProblem(t, status, hdr, body, tt.wantStatus, tt.wantCode)
			if !strings.Contains(p.Detail, tt.hint) {
				t.Errorf("detail %q does not say %q", p.Detail, tt.hint)
			}
			// "relogin" is set exactly where the session_key may be the
			// cause: the kit logs in again only then.
			if want := strings.Contains(p.Detail, "log in again"); p.Relogin != want {
				t.Errorf("relogin = %v, want %v for detail %q", p.Relogin, want, p.Detail)
			}
		})
	}
	for _, secret := range []string{sk, userInfo.EncryptedData, userInfo.Signature} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("the logs hold a session_key, encrypted data or signature")
		}
	}
}

// The most common real failure: the mini program called wx.login again
// (WeChat replaced the session_key) but kept sending the older token.
func TestDecryptWithReplacedSessionKey(t *testing.T) {
	e := newODEnv(t, odOptions{})
	oldTok, openid := e.loginAs(t, "bob")
	newTok, _ := e.loginAs(t, "bob") // a later wx.login: new session_key
	for _, tc := range []struct {
		name string
		body any
	}{
		{"encrypted data", e.wx.ShareInfo(openid, "G")},
		{"user info", e.wx.UserInfo(openid)},
	} {
		status, hdr, body := e.call(t, "POST", "/v1/decrypt", oldTok, tc.body)
		p := odProblem(t, status, hdr, body, 400, handlers.CodeDecryptFailed)
		if !strings.Contains(p.Detail, "wx.login") || !strings.Contains(p.Detail, "log in again") || !p.Relogin {
			t.Errorf("%s with the older token: detail %q, relogin %v: does not tell the mini program to log in again", tc.name, p.Detail, p.Relogin)
		}
		if status, _, body := e.call(t, "POST", "/v1/decrypt", newTok, tc.body); status != 200 {
			t.Errorf("%s with the new token: %d %s", tc.name, status, body)
		}
	}
}

// WeChat's own published sample, through the whole API: a token for the
// sample's user, holding the sample's session_key, on a server whose
// AppID is the sample's.
func TestDecryptWeChatSample(t *testing.T) {
	const appID = "wx4f4bc4dec97d474b"
	e := newODEnv(t, odOptions{appID: appID})
	issued, err := e.iss.Issue("oGZUI0egBJY1zhBYw2KhdUfwVJJE", "", "tiihtNczf5v6AKRyjwEUhQ==")
	if err != nil {
		t.Fatal(err)
	}
	detail := map[string]string{
		"errMsg":        "getUserInfo:ok",
		"iv":            "r7BXXKkLb8qrSNn05n0qiA==",
		"encryptedData": "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==",
	}
	status, _, body := e.call(t, "POST", "/v1/decrypt", issued.Token, detail)
	var out struct {
		OpenID    string `json:"openId"`
		NickName  string `json:"nickName"`
		UnionID   string `json:"unionId"`
		Watermark struct {
			AppID     string `json:"appid"`
			Timestamp int64  `json:"timestamp"`
		} `json:"watermark"`
	}
	if status != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("sample: %d %s", status, body)
	}
	if out.OpenID != "oGZUI0egBJY1zhBYw2KhdUfwVJJE" || out.NickName != "Band" || out.UnionID != "ocMvos6NjeKLIBqg5Mr9QjxrP1FA" ||
		out.Watermark.AppID != appID || out.Watermark.Timestamp != 1477314187 {
		t.Errorf("sample decrypts to %s", body)
	}
}

// The sk claim is sealed and the token signed: what reaches
// OpenSessionKey is a token this server signed around an sk it cannot
// open. Altering sk in a token breaks the signature first.
func TestDecryptTamperedSessionKey(t *testing.T) {
	e := newODEnv(t, odOptions{})
	_, alice := e.loginAs(t, "alice")
	_, mallory := e.loginAs(t, "mallory")
	aliceData := e.wx.ShareInfo(alice, "G-alice")

	// mallory's token carrying the sealed session_key of alice: validly
	// signed (only the server's key could do that), sealed for another openid.
	m, err := e.iss.Issue(mallory, "", e.wx.SessionKey(mallory))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.iss.Issue(alice, "", e.wx.SessionKey(alice))
	if err != nil {
		t.Fatal(err)
	}
	swapped := *m.Claims
	swapped.SK = a.Claims.SK

	// A token sealed under another session-key secret with the same
	// signing key: what a rotated WXLOGIN_SESSION_KEY_SECRET leaves behind.
	rotated, err := newODIssuer(t, e.signer, odAppID).Issue(alice, "", e.wx.SessionKey(alice))
	if err != nil {
		t.Fatal(err)
	}

	// alice's sk altered inside her token, signature kept.
	parts := strings.Split(a.Token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	sk := claims["sk"].(string)
	dot := strings.LastIndexByte(sk, '.') // v2.<key id>.<payload>
	skb, _ := base64.RawURLEncoding.DecodeString(sk[dot+1:])
	skb[len(skb)-1] ^= 1
	claims["sk"] = sk[:dot+1] + base64.RawURLEncoding.EncodeToString(skb)
	payload, _ = json.Marshal(claims)
	altered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantCode   string
	}{
		{"sk sealed for another user", e.sign(t, &swapped), 400, handlers.CodeDecryptFailed},
		{"sk sealed under another secret", rotated.Token, 400, handlers.CodeDecryptFailed},
		{"sk altered, signature kept", altered, 401, handlers.CodeInvalidToken},
		{"no token", "", 401, handlers.CodeInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := e.call(t, "POST", "/v1/decrypt", tt.token, aliceData)
			p := odProblem(t, status, hdr, body, tt.wantStatus, tt.wantCode)
			if tt.wantCode == handlers.CodeDecryptFailed && (!strings.Contains(p.Detail, "log in again") || !p.Relogin) {
				t.Errorf("detail %q, relogin %v: does not say to log in again", p.Detail, p.Relogin)
			}
		})
	}
	// The control: alice's own token decrypts her data.
	if status, _, body := e.call(t, "POST", "/v1/decrypt", a.Token, aliceData); status != 200 {
		t.Errorf("alice's own token: %d %s", status, body)
	}
}
