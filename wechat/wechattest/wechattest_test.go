package wechattest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

func get(t *testing.T, base string, q url.Values) (http.Header, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + "/sns/jscode2session?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer %q is not JSON", b)
	}
	return resp.Header, m
}

func query(code string) url.Values {
	return url.Values{"appid": {"wxA"}, "secret": {"sec"}, "js_code": {code}, "grant_type": {"authorization_code"}}
}

// TestBehavesLikeWeChat pins the quirks that clients must cope with.
func TestBehavesLikeWeChat(t *testing.T) {
	srv := wechattest.NewServer(wechattest.Options{AppID: "wxA", Secret: "sec"})
	defer srv.Close()

	hdr, m := get(t, srv.URL, query(srv.Code("u1")))
	if _, ok := m["errcode"]; ok {
		t.Errorf("success carries errcode: %v (the real jscode2session omits it)", m)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain like WeChat", ct)
	}
	if m["openid"] != srv.OpenID("u1") || m["session_key"] == "" {
		t.Errorf("answer = %v", m)
	}

	code := srv.Code("u2")
	get(t, srv.URL, query(code))
	if _, m := get(t, srv.URL, query(code)); m["errcode"] != float64(40163) {
		t.Errorf("reused code: %v, want errcode 40163", m)
	}
	bad := query("x")
	bad.Set("secret", "wrong")
	if _, m := get(t, srv.URL, bad); m["errcode"] != float64(40125) {
		t.Errorf("wrong secret: %v, want 40125", m)
	}
	bad = query("x")
	bad.Set("appid", "wxB")
	if _, m := get(t, srv.URL, bad); m["errcode"] != float64(40013) {
		t.Errorf("wrong appid: %v, want 40013", m)
	}
	if _, m := get(t, srv.URL, query("")); m["errcode"] != float64(41008) {
		t.Errorf("missing code: %v, want 41008", m)
	}
	if n := srv.Calls("/sns/jscode2session"); n != 6 {
		t.Errorf("Calls = %d, want 6", n)
	}
}

func TestStringErrcodeAndNewSessionKeys(t *testing.T) {
	srv := wechattest.NewServer(wechattest.Options{AppID: "wxA", StringErrcode: true})
	defer srv.Close()
	_, first := get(t, srv.URL, query(srv.Code("u")))
	_, second := get(t, srv.URL, query(srv.Code("u")))
	if first["openid"] != second["openid"] || first["session_key"] == second["session_key"] {
		t.Errorf("a new wx.login must keep the openid and replace the session_key: %v, %v", first, second)
	}
	if srv.SessionKey(srv.OpenID("u")) != second["session_key"] {
		t.Error("SessionKey is not the latest one")
	}
	srv.Inject(wechattest.ErrcodeFault(40029))
	if _, m := get(t, srv.URL, query("x")); m["errcode"] != "40029" && m["errcode"] != float64(40029) {
		t.Errorf("injected errcode: %v", m)
	}
}

func ExampleServer() {
	wx := wechattest.NewServer(wechattest.Options{AppID: "wx0123456789abcdef", Secret: "s3cret"})
	defer wx.Close()

	// Point the code under test at wx.URL, then log in as a user:
	code := wx.Code("alice")
	resp, err := http.Get(wx.URL + "/sns/jscode2session?" + url.Values{
		"appid": {"wx0123456789abcdef"}, "secret": {"s3cret"}, "js_code": {code}, "grant_type": {"authorization_code"},
	}.Encode())
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var ans struct {
		OpenID string `json:"openid"`
	}
	json.NewDecoder(resp.Body).Decode(&ans)
	fmt.Println(ans.OpenID == wx.OpenID("alice"), wx.Calls("/sns/jscode2session"))
	// Output: true 1
}

// TestSeveralApps pins what a fake serving several mini programs does, as
// WeChat does for apps bound to one Open Platform account: each app its
// own secret, openids and codes, the same unionid in every bound app.
func TestSeveralApps(t *testing.T) {
	srv := wechattest.NewServer(wechattest.Options{AppID: "wxA", Secret: "sec", UnionID: true, Apps: []wechattest.AppConfig{
		{AppID: "wxB", Secret: "secB", UnionID: true},
		{AppID: "wxC", Secret: "secC"}, // not bound to the Open Platform account
	}})
	defer srv.Close()
	login := func(appid, secret, code string) map[string]any {
		t.Helper()
		_, m := get(t, srv.URL, url.Values{"appid": {appid}, "secret": {secret}, "js_code": {code}, "grant_type": {"authorization_code"}})
		return m
	}
	b, c := srv.App("wxB"), srv.App("wxC")

	a1 := login("wxA", "sec", srv.Code("alice"))
	b1 := login("wxB", "secB", b.Code("alice"))
	c1 := login("wxC", "secC", c.Code("alice"))
	if a1["openid"] != srv.OpenID("alice") || b1["openid"] != b.OpenID("alice") || c1["openid"] != c.OpenID("alice") {
		t.Errorf("openids %v %v %v, want each app's own", a1["openid"], b1["openid"], c1["openid"])
	}
	if a1["openid"] == b1["openid"] || b1["openid"] == c1["openid"] {
		t.Errorf("two apps gave alice the same openid: %v %v %v", a1["openid"], b1["openid"], c1["openid"])
	}
	if a1["unionid"] != srv.UnionID("alice") || b1["unionid"] != srv.UnionID("alice") || b.UnionID("alice") != srv.UnionID("alice") {
		t.Errorf("unionids %v %v, want %s in both bound apps", a1["unionid"], b1["unionid"], srv.UnionID("alice"))
	}
	if _, ok := c1["unionid"]; ok || c.UnionID("alice") != "" {
		t.Errorf("an app without UnionID answered unionid: %v", c1)
	}
	if bob := login("wxB", "secB", b.Code("bob")); bob["unionid"] == b1["unionid"] {
		t.Errorf("bob and alice share a unionid: %v", bob)
	}
	if b.SessionKey(b.OpenID("alice")) != b1["session_key"] || srv.SessionKey(b.OpenID("alice")) != "" {
		t.Error("session keys are not kept per app")
	}

	// Each app's credentials and codes are its own.
	if m := login("wxB", "sec", b.Code("alice")); m["errcode"] != float64(40125) {
		t.Errorf("app B with app A's secret: %v, want 40125", m)
	}
	if m := login("wxB", "secB", srv.Code("alice")); m["errcode"] != float64(40029) {
		t.Errorf("app A's code at app B: %v, want 40029", m)
	}
	// A code nobody minted is some user's in every app: the same user.
	x, y := login("wxA", "sec", "some-code"), login("wxB", "secB", "some-code")
	if x["openid"] == y["openid"] || x["unionid"] != y["unionid"] || x["unionid"] == nil {
		t.Errorf("the same unminted code in two apps: %v, %v; want two openids, one unionid", x, y)
	}
}

// TestSeveralAppsAccessTokens checks that an access token acts for its
// own app only: its users, its phone codes, its watermark.
func TestSeveralAppsAccessTokens(t *testing.T) {
	srv := wechattest.NewServer(wechattest.Options{AppID: "wxA", Secret: "sec", Apps: []wechattest.AppConfig{{AppID: "wxB", Secret: "secB"}}})
	defer srv.Close()
	accessToken := func(appid, secret string) string {
		t.Helper()
		resp, err := http.Post(srv.URL+"/cgi-bin/stable_token", "application/json",
			strings.NewReader(`{"grant_type":"client_credential","appid":"`+appid+`","secret":"`+secret+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&m)
		if m.AccessToken == "" {
			t.Fatalf("no access token for %s", appid)
		}
		return m.AccessToken
	}
	atA, atB := accessToken("wxA", "sec"), accessToken("wxB", "secB")
	if atA == atB {
		t.Fatal("two apps share an access token")
	}
	phone := func(at, code string) map[string]any {
		t.Helper()
		resp, err := http.Post(srv.URL+"/wxa/business/getuserphonenumber?access_token="+at, "application/json", strings.NewReader(`{"code":"`+code+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	if m := phone(atA, srv.App("wxB").PhoneCode("86", "13800000000")); m["errcode"] != float64(40029) {
		t.Errorf("app B's phone code with app A's token: %v, want 40029", m)
	}
	m := phone(atB, srv.App("wxB").PhoneCode("86", "13800000000"))
	if info, _ := m["phone_info"].(map[string]any); info == nil || info["watermark"].(map[string]any)["appid"] != "wxB" {
		t.Errorf("app B's phone code with app B's token: %v, want app B's watermark", m)
	}

	// checksession knows only the token's app's users.
	_, ans := get(t, srv.URL, url.Values{"appid": {"wxB"}, "secret": {"secB"}, "js_code": {srv.App("wxB").Code("u")}, "grant_type": {"authorization_code"}})
	openid := ans["openid"].(string)
	check := func(at string) map[string]any {
		t.Helper()
		sig := hmac.New(sha256.New, []byte(srv.App("wxB").SessionKey(openid)))
		resp, err := http.Get(srv.URL + "/wxa/checksession?" + url.Values{"access_token": {at}, "openid": {openid},
			"signature": {hex.EncodeToString(sig.Sum(nil))}, "sig_method": {"hmac_sha256"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	if m := check(atA); m["errcode"] != float64(40003) {
		t.Errorf("checksession of app B's user with app A's token: %v, want 40003", m)
	}
	if m := check(atB); m["errcode"] != float64(0) {
		t.Errorf("checksession with the app's own token: %v, want errcode 0", m)
	}
}

// One fake serves a shop and a game bound to one Open Platform account:
// alice has an openid in each, and one unionid.
func ExampleFake_App() {
	wx := wechattest.NewServer(wechattest.Options{AppID: "wxshop0000000001", Secret: "shop-secret", UnionID: true,
		Apps: []wechattest.AppConfig{{AppID: "wxgame0000000002", Secret: "game-secret", UnionID: true}}})
	defer wx.Close()

	shop, game := wx.App("wxshop0000000001"), wx.App("wxgame0000000002")
	resp, err := http.Get(wx.URL + "/sns/jscode2session?" + url.Values{
		"appid": {game.AppID()}, "secret": {"game-secret"}, "js_code": {game.Code("alice")}, "grant_type": {"authorization_code"},
	}.Encode())
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var ans struct {
		OpenID  string `json:"openid"`
		UnionID string `json:"unionid"`
	}
	json.NewDecoder(resp.Body).Decode(&ans)
	fmt.Println(ans.OpenID == game.OpenID("alice"), ans.OpenID == shop.OpenID("alice"), ans.UnionID == shop.UnionID("alice"))
	// Output: true false true
}
