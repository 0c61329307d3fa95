package wechattest_test

import (
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
