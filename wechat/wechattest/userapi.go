package wechattest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// WeChat's documented limits that the fake enforces.
const (
	defaultTokenTTL = 7200 * time.Second // stable_token's expires_in
	handoverWindow  = 5 * time.Minute    // a normal call this close to expiry gets the next token
	forceInterval   = 30 * time.Second   // force_refresh closer together does not rotate
	phoneCodeTTL    = 5 * time.Minute    // a getPhoneNumber code's lifetime
)

func (f *Fake) now() time.Time {
	if f.opts.Now != nil {
		return f.opts.Now()
	}
	return time.Now()
}

func (f *Fake) tokenTTL() time.Duration {
	if f.opts.AccessTokenTTL > 0 {
		return f.opts.AccessTokenTTL
	}
	return defaultTokenTTL
}

// mintToken makes a new current access token of a; f.mu must be held.
func (f *Fake) mintToken(a *App, now time.Time) {
	a.current = "fake_at_" + randomString(32)
	f.tokens[a.current] = tokenGrant{app: a.cfg.AppID, expires: now.Add(f.tokenTTL())}
}

// stableToken serves /cgi-bin/stable_token as WeChat does: in normal mode
// the same token until it is within 5 minutes of expiry (then the next
// one, while the old one lives out its time); force_refresh invalidates
// the current token at once, unless the last one was under 30s ago. Each
// app has its own token.
func (f *Fake) stableToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.errcode(w, 43002, "require POST method")
		return
	}
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil {
		f.errcode(w, 47001, "data format error")
		return
	}
	if req.GrantType != "client_credential" {
		f.errcode(w, 40002, "invalid grant_type")
		return
	}
	a, errcode, msg := f.checkSecret(req.AppID, req.Secret)
	if errcode != 0 {
		f.errcode(w, errcode, msg)
		return
	}

	f.mu.Lock()
	now := f.now()
	g, ok := f.tokens[a.current]
	switch {
	case req.ForceRefresh && (!ok || now.Sub(a.lastForce) >= forceInterval):
		delete(f.tokens, a.current)
		f.mintToken(a, now)
		a.lastForce = now
	case !ok || !now.Before(g.expires.Add(-min(handoverWindow, f.tokenTTL()/2))):
		f.mintToken(a, now)
	}
	tok, left := a.current, f.tokens[a.current].expires.Sub(now)
	f.mu.Unlock()

	f.ok(w, map[string]any{"access_token": tok, "expires_in": int64((left + time.Second - 1) / time.Second)})
}

// InvalidateAccessToken invalidates the first app's access token (see
// App.InvalidateAccessToken).
func (f *Fake) InvalidateAccessToken() { f.first.InvalidateAccessToken() }

// InvalidateAccessToken makes the app's current access token invalid and
// rotates to a new one, as when another party calls stable_token with
// force_refresh. It is not counted as a call.
func (a *App) InvalidateAccessToken() {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	delete(a.f.tokens, a.current)
	a.f.mintToken(a, a.f.now())
}

// checkAccessToken answers WeChat's errcode for the request's
// access_token, or 0 and the token's app when it is valid.
func (f *Fake) checkAccessToken(q url.Values) (*App, int, string) {
	at := q.Get("access_token")
	if at == "" {
		return nil, 41001, "access_token missing"
	}
	f.mu.Lock()
	g, ok := f.tokens[at]
	now := f.now()
	f.mu.Unlock()
	switch {
	case !ok:
		return nil, 40001, "invalid credential, access_token is invalid or not latest"
	case !now.Before(g.expires):
		return nil, 42001, "access_token expired"
	}
	return f.apps[g.app], 0, ""
}

// phoneGrant is what a getPhoneNumber code stands for.
type phoneGrant struct {
	app               string
	countryCode, pure string
	minted            time.Time
}

// PhoneCode mints a getPhoneNumber code of the first app (see
// App.PhoneCode).
func (f *Fake) PhoneCode(countryCode, purePhoneNumber string) string {
	return f.first.PhoneCode(countryCode, purePhoneNumber)
}

// PhoneCode mints a getPhoneNumber code of this app for the number
// purePhoneNumber in countryCode (such as "86"), as the phone-number
// button would. It is valid for 5 minutes, single-use, and refused
// (40029) with another app's access token. phoneNumber in the answer is
// the pure number for "86" and "+"+countryCode+purePhoneNumber otherwise.
func (a *App) PhoneCode(countryCode, purePhoneNumber string) string {
	code := hex.EncodeToString(randomBytes(32)) // 64 hex characters, like WeChat's
	a.f.mu.Lock()
	a.f.phoneCodes[code] = phoneGrant{app: a.cfg.AppID, countryCode: countryCode, pure: purePhoneNumber, minted: a.f.now()}
	a.f.mu.Unlock()
	return code
}

// getUserPhoneNumber serves /wxa/business/getuserphonenumber. It checks
// the access token before the code (so a refused token spends no code)
// and answers errcode 0 on success, as WeChat does. With AllowReuse, any
// code is some number's, the same code the same number.
func (f *Fake) getUserPhoneNumber(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.errcode(w, 43002, "require POST method")
		return
	}
	a, code, msg := f.checkAccessToken(r.URL.Query())
	if code != 0 {
		f.errcode(w, code, msg)
		return
	}
	var req struct {
		Code string `json:"code"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil {
		f.errcode(w, 47001, "data format error")
		return
	}
	if req.Code == "" {
		f.errcode(w, 41008, "missing code")
		return
	}

	f.mu.Lock()
	now := f.now()
	g, ok := f.phoneCodes[req.Code]
	switch {
	case f.opts.AllowReuse && !ok:
		sum := sha256.Sum256([]byte(req.Code))
		n := strconv.FormatUint(uint64(sum[0])<<24|uint64(sum[1])<<16|uint64(sum[2])<<8|uint64(sum[3]), 10)
		g, ok = phoneGrant{app: a.cfg.AppID, countryCode: "86", pure: "139" + (n + "00000000")[:8], minted: now}, true
	case f.usedPhone[req.Code] && !f.opts.AllowReuse, !ok, g.app != a.cfg.AppID, now.Sub(g.minted) > phoneCodeTTL:
		f.mu.Unlock()
		f.errcode(w, 40029, "invalid code")
		return
	}
	f.usedPhone[req.Code] = true
	f.mu.Unlock()

	number := g.pure
	if g.countryCode != "86" {
		number = "+" + g.countryCode + g.pure
	}
	f.write(w, map[string]any{
		"errcode": 0,
		"errmsg":  "ok",
		"phone_info": map[string]any{
			"phoneNumber":     number,
			"purePhoneNumber": g.pure,
			"countryCode":     g.countryCode,
			"watermark":       map[string]any{"timestamp": now.Unix(), "appid": a.cfg.AppID},
		},
	})
}

// checkSession serves /wxa/checksession: the openid must be a user of
// the access token's app (else 40003), and the signature
// hex(HMAC-SHA256(key = the user's current session_key, message = ""))
// (else 87009).
func (f *Fake) checkSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		f.errcode(w, 43001, "require GET method")
		return
	}
	q := r.URL.Query()
	a, code, msg := f.checkAccessToken(q)
	if code != 0 {
		f.errcode(w, code, msg)
		return
	}
	if q.Get("sig_method") != "hmac_sha256" {
		f.errcode(w, 40097, "invalid args")
		return
	}
	sk := a.SessionKey(q.Get("openid"))
	if sk == "" {
		f.errcode(w, 40003, "invalid openid")
		return
	}
	m := hmac.New(sha256.New, []byte(sk))
	got, err := hex.DecodeString(q.Get("signature"))
	if err != nil || !hmac.Equal(got, m.Sum(nil)) {
		f.errcode(w, 87009, "invalid signature")
		return
	}
	f.write(w, map[string]any{"errcode": 0, "errmsg": "ok"})
}

// EncryptOpenData encrypts open data of the first app (see
// App.EncryptOpenData).
func (f *Fake) EncryptOpenData(openid string, payload map[string]any) (encryptedData, iv string) {
	return f.first.EncryptOpenData(openid, payload)
}

// EncryptOpenData encrypts payload for the user openid of this app
// exactly as WeChat does for open data: it adds watermark {appid,
// timestamp}, and encrypts the JSON with AES-128-CBC, PKCS#7 padding, the
// user's current session_key as key and a random iv; both results are
// base64. It panics when openid never logged in to this app: the user has
// no session_key.
func (a *App) EncryptOpenData(openid string, payload map[string]any) (encryptedData, iv string) {
	sk := a.SessionKey(openid)
	if sk == "" {
		panic("wechattest: EncryptOpenData: user " + openid + " never logged in to " + a.cfg.AppID)
	}
	doc := make(map[string]any, len(payload)+1)
	for k, v := range payload {
		doc[k] = v
	}
	doc["watermark"] = map[string]any{"appid": a.cfg.AppID, "timestamp": a.f.now().Unix()}
	pt, err := json.Marshal(doc)
	if err != nil {
		panic("wechattest: EncryptOpenData: " + err.Error())
	}
	return encrypt(sk, pt)
}

// encrypt is WeChat's open-data cipher.
func encrypt(sessionKey string, pt []byte) (encryptedData, iv string) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil {
		panic("wechattest: bad session_key")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("wechattest: bad session_key")
	}
	n := aes.BlockSize - len(pt)%aes.BlockSize
	pt = append(pt, bytes.Repeat([]byte{byte(n)}, n)...)
	ivb := randomBytes(aes.BlockSize)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, ivb).CryptBlocks(ct, pt)
	return base64.StdEncoding.EncodeToString(ct), base64.StdEncoding.EncodeToString(ivb)
}

// Detail is the e.detail of an open-data callback as the mini program
// receives it, and forwards it to wxlogin unchanged.
type Detail struct {
	ErrMsg        string         `json:"errMsg"`
	RawData       string         `json:"rawData,omitempty"`
	Signature     string         `json:"signature,omitempty"`
	EncryptedData string         `json:"encryptedData"`
	IV            string         `json:"iv"`
	CloudID       string         `json:"cloudID,omitempty"`
	UserInfo      map[string]any `json:"userInfo,omitempty"`
}

// userInfo is the plaintext user info, in WeChat's field order.
type userInfo struct {
	NickName  string `json:"nickName"`
	Gender    int    `json:"gender"`
	Language  string `json:"language"`
	City      string `json:"city"`
	Province  string `json:"province"`
	Country   string `json:"country"`
	AvatarURL string `json:"avatarUrl"`
}

// UserInfo returns the first app's user info (see App.UserInfo).
func (f *Fake) UserInfo(openid string) Detail { return f.first.UserInfo(openid) }

// UserInfo returns what wx.getUserInfo hands this mini program of user
// openid: rawData, signature = sha1(rawData + session_key), userInfo, and
// encryptedData/iv holding the same fields plus openId and the watermark.
// It panics when openid never logged in to this app.
func (a *App) UserInfo(openid string) Detail {
	sk := a.SessionKey(openid)
	if sk == "" {
		panic("wechattest: UserInfo: user " + openid + " never logged in to " + a.cfg.AppID)
	}
	ui := userInfo{NickName: "微信用户", Language: "zh_CN", AvatarURL: "https://thirdwx.qlogo.cn/mmopen/vi_32/fake/132"}
	raw, _ := json.Marshal(ui)
	var fields map[string]any
	json.Unmarshal(raw, &fields)
	sum := sha1.Sum(append(append([]byte{}, raw...), sk...))

	enc := map[string]any{"openId": openid}
	for k, v := range fields {
		enc[k] = v
	}
	data, iv := a.EncryptOpenData(openid, enc)
	return Detail{
		ErrMsg:        "getUserInfo:ok",
		RawData:       string(raw),
		Signature:     hex.EncodeToString(sum[:]),
		EncryptedData: data,
		IV:            iv,
		CloudID:       randomString(24),
		UserInfo:      fields,
	}
}

// ShareInfo returns the first app's share info (see App.ShareInfo).
func (f *Fake) ShareInfo(openid, openGID string) Detail { return f.first.ShareInfo(openid, openGID) }

// ShareInfo returns what wx.getShareInfo hands this mini program of user
// openid for a share into the group openGID: encryptedData and iv of
// {"openGId": openGID} with the watermark. It panics when openid never
// logged in to this app.
func (a *App) ShareInfo(openid, openGID string) Detail {
	data, iv := a.EncryptOpenData(openid, map[string]any{"openGId": openGID})
	return Detail{ErrMsg: "getShareInfo:ok", EncryptedData: data, IV: iv, CloudID: randomString(24)}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randomString(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}
