package main

// Several mini programs served by one deployment, through `run` and the
// real HTTP surface, against a fake WeChat that serves three apps: a
// shop and a game bound to one Open Platform account (unionid), and a
// member card that is not.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

const (
	shopID     = testAppID // WXLOGIN_APPID
	gameID     = "wxgame0000000000b1"
	gameSecret = "game-secret-0123456789abcdef0123"
	cardID     = "wxcard0000000000c2"
	cardSecret = "card-secret-0123456789abcdef0123"
	hexSecret  = "0123456789abcdef0123456789abcdef" // the form of WeChat's AppSecrets
)

// newAppsFake is WeChat serving the shop, the game and the card.
func newAppsFake(t *testing.T) *wechattest.Server {
	t.Helper()
	wx := wechattest.NewServer(wechattest.Options{AppID: shopID, Secret: testSecret, UnionID: true, Apps: []wechattest.AppConfig{
		{AppID: gameID, Secret: gameSecret, UnionID: true},
		{AppID: cardID, Secret: cardSecret},
	}})
	t.Cleanup(wx.Close)
	return wx
}

// appsEnv is a production configuration serving the three apps: the shop
// in WXLOGIN_APPID, the game and the card in WXLOGIN_APPS; the game has
// an audience of its own, the shop and the card share WXLOGIN_AUDIENCE.
func appsEnv(t *testing.T, wx *wechattest.Server) map[string]string {
	t.Helper()
	env := prodEnv(t, wx.URL)
	env["WXLOGIN_APPS"] = gameID + ":" + gameSecret + "," + cardID + ":" + cardSecret
	env["WXLOGIN_AUDIENCES"] = gameID + ":https://game-api.example.com"
	env["WXLOGIN_AUDIENCE"] = "https://api.example.com"
	return env
}

// audienceOf is the aud appsEnv gives each app.
var audienceOf = map[string]string{
	shopID: "https://api.example.com",
	gameID: "https://game-api.example.com",
	cardID: "https://api.example.com",
}

// send makes a request to base+path with an optional bearer token and
// JSON body, and returns the status and the decoded answer.
func send(t *testing.T, method, url, tok string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, ok := body.(string) // a raw body, as is
		if !ok {
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			b = string(raw)
		}
		r = strings.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %d, body %q is not JSON", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

// loginTo logs in to appid with code and returns the token, failing the
// test on anything but 200.
func loginTo(t *testing.T, base, appid, code string) (string, map[string]any) {
	t.Helper()
	status, ans := send(t, "POST", base+"/v1/login", "", map[string]string{"code": code, "appid": appid})
	tok, _ := ans["token"].(string)
	if status != 200 || tok == "" {
		t.Fatalf("login to %s: %d %v", appid, status, ans)
	}
	return tok, ans
}

// servedVerifier verifies with the keys the server at base publishes,
// found through its discovery document, accepting audiences, as a
// downstream service would.
func servedVerifier(t *testing.T, base string, audiences ...string) *token.Verifier {
	t.Helper()
	var disc token.Discovery
	getJSON(t, base+token.DiscoveryPath, &disc)
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	getJSON(t, strings.Replace(disc.JWKSURI, disc.Issuer, base, 1), &set) // the issuer may name another host
	var keys []token.Key
	for _, raw := range set.Keys {
		k, err := keyFromJWK(raw)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	v, err := token.NewVerifier(token.VerifierConfig{Keys: keys, Issuer: disc.Issuer, Audiences: audiences})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantCode(t *testing.T, what string, status int, ans map[string]any, wantStatus int, want string) {
	t.Helper()
	if status != wantStatus || ans["code"] != want {
		t.Errorf("%s: %d %v, want %d %s", what, status, ans, wantStatus, want)
	}
}

// TestAppsLogin logs in to each of three apps and checks each token's
// claims: the app's appid, its audience (its own, or the shared one),
// its openid as sub, the unionid where the app is bound.
func TestAppsLogin(t *testing.T) {
	wx := newAppsFake(t)
	clearEnv(t, appsEnv(t, wx))
	base, _, stop := startRun(t)
	defer stop()

	every := servedVerifier(t, base, "https://api.example.com", "https://game-api.example.com")
	for _, appid := range []string{shopID, gameID, cardID} {
		app := wx.App(appid)
		tok, ans := loginTo(t, base, appid, app.Code("alice"))
		if ans["openid"] != app.OpenID("alice") || ans["token_type"] != "Bearer" {
			t.Errorf("%s: answer %v, want openid %s", appid, ans, app.OpenID("alice"))
		}
		if u, _ := ans["unionid"].(string); u != app.UnionID("alice") {
			t.Errorf("%s: answer unionid %q, want %q", appid, u, app.UnionID("alice"))
		}
		c, err := every.Verify(tok)
		if err != nil {
			t.Fatalf("%s: %v", appid, err)
		}
		if c.AppID != appid || len(c.Audience) != 1 || c.Audience[0] != audienceOf[appid] ||
			c.Subject != app.OpenID("alice") || c.OpenIDClaim != "" || c.UnionID != app.UnionID("alice") {
			t.Errorf("%s: claims appid %q aud %v sub %q openid %q unionid %q", appid, c.AppID, c.Audience, c.Subject, c.OpenIDClaim, c.UnionID)
		}
		// A backend that trusts only its own audience.
		if _, err := servedVerifier(t, base, audienceOf[appid]).Verify(tok); err != nil {
			t.Errorf("%s: refused by a verifier of its own audience: %v", appid, err)
		}
		status, sess := send(t, "GET", base+"/v1/session", tok, nil)
		if status != 200 || sess["sub"] != app.OpenID("alice") || sess["openid"] != app.OpenID("alice") || sess["appid"] != appid {
			t.Errorf("%s: GET /v1/session: %d %v", appid, status, sess)
		}
	}
	// The game's backend trusts only the game.
	shopTok, _ := loginTo(t, base, shopID, wx.Code("bob"))
	if _, err := servedVerifier(t, base, "https://game-api.example.com").Verify(shopTok); err == nil {
		t.Error("the game's backend accepted the shop's token")
	}
}

// TestAppsLoginAppIDField sends the appid field missing, empty, unknown
// and wrongly typed: each is refused before any call to WeChat.
func TestAppsLoginAppIDField(t *testing.T) {
	wx := newAppsFake(t)
	clearEnv(t, appsEnv(t, wx))
	base, logs, stop := startRun(t)
	defer stop()

	for _, tc := range []struct {
		name, body string
		want       string
	}{
		{"missing", `{"code":"CODE"}`, "invalid_request"},
		{"null", `{"code":"CODE","appid":null}`, "invalid_request"},
		{"empty", `{"code":"CODE","appid":""}`, "invalid_request"},
		{"number", `{"code":"CODE","appid":12345}`, "invalid_request"},
		{"array", `{"code":"CODE","appid":["` + gameID + `"]}`, "invalid_request"},
		{"unknown", `{"code":"CODE","appid":"wxnotserved000000"}`, "unknown_app"},
		{"another case", `{"code":"CODE","appid":"` + strings.ToUpper(gameID) + `"}`, "unknown_app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := wx.App(gameID).Code("alice")
			calls := wx.Calls("/sns/jscode2session")
			status, ans := send(t, "POST", base+"/v1/login", "", strings.Replace(tc.body, "CODE", code, 1))
			wantCode(t, tc.name+" appid", status, ans, 400, tc.want)
			if d, _ := ans["detail"].(string); !strings.Contains(d, "appid") {
				t.Errorf("detail %q does not name the appid field", d)
			}
			if n := wx.Calls("/sns/jscode2session") - calls; n != 0 {
				t.Errorf("%d WeChat calls, want none", n)
			}
			// The code is still good: nothing spent it.
			loginTo(t, base, gameID, code)
		})
	}
	if strings.Contains(logs.String(), "wxnotserved") {
		t.Error("an AppID that is not served reached the logs")
	}
}

// TestAppsTokenEndpointsActForTokensApp checks that /v1/decrypt,
// /v1/phone and /v1/session/check act for the token's own app, and that
// a token of one app never unlocks another app's data.
func TestAppsTokenEndpointsActForTokensApp(t *testing.T) {
	wx := newAppsFake(t)
	env := appsEnv(t, wx)
	clearEnv(t, env)
	base, _, stop := startRun(t)
	defer stop()
	shop, game := wx.App(shopID), wx.App(gameID)
	shopTok, _ := loginTo(t, base, shopID, shop.Code("alice"))
	gameTok, _ := loginTo(t, base, gameID, game.Code("alice"))
	gameUser := game.OpenID("alice")

	// A token whose appid claims the shop while its sk and openid are the
	// game's, signed with the server's own key: only the binding of sk to
	// appid and openid refuses it.
	signer := keyMaterial{signingKey: env["WXLOGIN_SIGNING_KEY"]}.signer(t, "https://login.example.com", audienceOf[shopID])
	c, err := servedVerifier(t, base, audienceOf[gameID]).Verify(gameTok)
	if err != nil {
		t.Fatal(err)
	}
	moved := signer.Claims(gameUser)
	moved["appid"], moved["sk"] = shopID, c.SK
	movedTok := signer.Sign(moved, nil)

	t.Run("decrypt", func(t *testing.T) {
		// The game's data with the game's token: decrypted, and the
		// watermark checked against the game (not the first app, the shop).
		status, ans := send(t, "POST", base+"/v1/decrypt", gameTok, game.ShareInfo(gameUser, "GroupG"))
		if status != 200 || ans["openGId"] != "GroupG" {
			t.Errorf("game's data, game's token: %d %v", status, ans)
		}
		status, ans = send(t, "POST", base+"/v1/decrypt", shopTok, game.ShareInfo(gameUser, "GroupG"))
		wantCode(t, "game's data, shop's token", status, ans, 400, "decrypt_failed")
		status, ans = send(t, "POST", base+"/v1/decrypt", movedTok, game.ShareInfo(gameUser, "GroupG"))
		wantCode(t, "game's sk moved into a shop token", status, ans, 400, "decrypt_failed")
	})
	t.Run("phone", func(t *testing.T) {
		status, ans := send(t, "POST", base+"/v1/phone", gameTok, map[string]string{"code": game.PhoneCode("86", "13800000001")})
		if status != 200 || ans["purePhoneNumber"] != "13800000001" {
			t.Errorf("game's phone code, game's token: %d %v", status, ans)
		}
		// The shop's access token is used for a shop token: WeChat refuses
		// the game's phone code with it.
		status, ans = send(t, "POST", base+"/v1/phone", shopTok, map[string]string{"code": game.PhoneCode("86", "13800000002")})
		wantCode(t, "game's phone code, shop's token", status, ans, 401, "invalid_code")
	})
	t.Run("session check", func(t *testing.T) {
		// WeChat knows the game's user only with the game's access token.
		for name, tok := range map[string]string{"shop": shopTok, "game": gameTok} {
			status, ans := send(t, "POST", base+"/v1/session/check", tok, nil)
			if status != 200 || ans["valid"] != true {
				t.Errorf("%s's token: %d %v", name, status, ans)
			}
		}
		status, ans := send(t, "POST", base+"/v1/session/check", movedTok, nil)
		if status != 200 || ans["valid"] != false {
			t.Errorf("game's sk moved into a shop token: %d %v, want valid false", status, ans)
		}
	})
}

// TestAppsTokenOfRemovedApp: the card is dropped from the configuration
// while its tokens live; they still verify (the shared audience), but
// where the card's credentials are needed the answer is unknown_app.
func TestAppsTokenOfRemovedApp(t *testing.T) {
	wx := newAppsFake(t)
	env := appsEnv(t, wx)
	clearEnv(t, env)
	base, _, stop := startRun(t)
	card := wx.App(cardID)
	cardTok, _ := loginTo(t, base, cardID, card.Code("alice"))
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	env["WXLOGIN_APPS"] = gameID + ":" + gameSecret
	clearEnv(t, env)
	base, _, stop = startRun(t)
	defer stop()
	status, ans := send(t, "GET", base+"/v1/session", cardTok, nil)
	if status != 200 || ans["appid"] != cardID {
		t.Errorf("GET /v1/session: %d %v, want the token's claims", status, ans)
	}
	calls := wx.Calls("/cgi-bin/stable_token") + wx.Calls("/wxa/checksession") + wx.Calls("/wxa/business/getuserphonenumber")
	status, ans = send(t, "POST", base+"/v1/session/check", cardTok, nil)
	wantCode(t, "session check", status, ans, 400, "unknown_app")
	status, ans = send(t, "POST", base+"/v1/phone", cardTok, map[string]string{"code": card.PhoneCode("86", "13800000003")})
	wantCode(t, "phone", status, ans, 400, "unknown_app")
	status, ans = send(t, "POST", base+"/v1/decrypt", cardTok, card.ShareInfo(card.OpenID("alice"), "G"))
	wantCode(t, "decrypt", status, ans, 400, "unknown_app")
	if n := wx.Calls("/cgi-bin/stable_token") + wx.Calls("/wxa/checksession") + wx.Calls("/wxa/business/getuserphonenumber") - calls; n != 0 {
		t.Errorf("%d WeChat calls for an app no longer served, want none", n)
	}
}

// TestAppsUnionIDSubject: with WXLOGIN_SUBJECT=unionid the same person
// has the same sub in the shop and the game; the card, not bound to the
// Open Platform account, cannot log in, and the detail and the log say
// what to fix.
func TestAppsUnionIDSubject(t *testing.T) {
	wx := newAppsFake(t)
	env := appsEnv(t, wx)
	env["WXLOGIN_SUBJECT"] = "unionid"
	clearEnv(t, env)
	base, logs, stop := startRun(t)

	every := servedVerifier(t, base, "https://api.example.com", "https://game-api.example.com")
	for _, appid := range []string{shopID, gameID} {
		app := wx.App(appid)
		tok, ans := loginTo(t, base, appid, app.Code("alice"))
		if ans["openid"] != app.OpenID("alice") || ans["unionid"] != wx.UnionID("alice") {
			t.Errorf("%s: answer %v", appid, ans)
		}
		c, err := every.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject != wx.UnionID("alice") || c.OpenIDClaim != app.OpenID("alice") || c.OpenID() != app.OpenID("alice") || c.AppID != appid {
			t.Errorf("%s: sub %q openid %q appid %q; want sub %s, openid %s", appid, c.Subject, c.OpenIDClaim, c.AppID, wx.UnionID("alice"), app.OpenID("alice"))
		}
		status, sess := send(t, "GET", base+"/v1/session", tok, nil)
		if status != 200 || sess["sub"] != wx.UnionID("alice") || sess["openid"] != app.OpenID("alice") || sess["unionid"] != wx.UnionID("alice") {
			t.Errorf("%s: GET /v1/session: %d %v", appid, status, sess)
		}
		// The session key is bound to the openid, not the subject.
		if status, ans := send(t, "POST", base+"/v1/session/check", tok, nil); status != 200 || ans["valid"] != true {
			t.Errorf("%s: session check with sub = unionid: %d %v", appid, status, ans)
		}
	}

	status, ans := send(t, "POST", base+"/v1/login", "", map[string]string{"code": wx.App(cardID).Code("alice"), "appid": cardID})
	wantCode(t, "card without unionid", status, ans, 502, "upstream_error")
	if _, ok := ans["token"]; ok {
		t.Error("a token was issued without a unionid")
	}
	if d, _ := ans["detail"].(string); !strings.Contains(d, "Open Platform") || !strings.Contains(d, "unionid") {
		t.Errorf("detail %q does not say the app must be bound to an Open Platform account", d)
	}
	if err := stop(); err != nil { // the warning is written by now
		t.Fatal(err)
	}
	var warned bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, "Open Platform") && strings.Contains(line, cardID) {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning naming the card and the Open Platform binding:\n%s", logs)
	}
}

// TestAppsSameCodeTwoApps: a code is an app's own, so the same code sent
// to two apps never shares an answer, neither from the resend cache nor
// from a call in flight.
func TestAppsSameCodeTwoApps(t *testing.T) {
	wx := newAppsFake(t)
	clearEnv(t, appsEnv(t, wx))
	base, _, stop := startRun(t)
	defer stop()

	// A code of the shop, resent to the game: the game's WeChat refuses it
	// rather than the shop's answer being replayed.
	code := wx.Code("alice")
	loginTo(t, base, shopID, code)
	status, ans := send(t, "POST", base+"/v1/login", "", map[string]string{"code": code, "appid": gameID})
	wantCode(t, "the shop's code at the game", status, ans, 401, "invalid_code")
	// The shop's resend is still answered from the cache.
	if _, ans := loginTo(t, base, shopID, code); ans["openid"] != wx.OpenID("alice") {
		t.Errorf("shop resend: %v", ans)
	}

	// One code nobody minted, sent to both apps at once: each app asks
	// WeChat and gets its own user.
	for round := range 5 {
		code := "same-code-" + string(rune('a'+round))
		calls := wx.Calls("/sns/jscode2session")
		var wg sync.WaitGroup
		answers := map[string]map[string]any{}
		var mu sync.Mutex
		for _, appid := range []string{shopID, gameID, shopID, gameID} {
			wg.Go(func() {
				// Not send: t.Fatal must not be called from this goroutine.
				resp, err := http.Post(base+"/v1/login", "application/json", strings.NewReader(`{"code":"`+code+`","appid":"`+appid+`"}`))
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var ans map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 {
					t.Errorf("%s: %d %v %v", appid, resp.StatusCode, ans, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if prev, ok := answers[appid]; ok && prev["openid"] != ans["openid"] {
					t.Errorf("%s: two openids for one code", appid)
				}
				answers[appid] = ans
			})
		}
		wg.Wait()
		if answers[shopID]["openid"] != wx.App(shopID).OpenID("code:"+code) || answers[gameID]["openid"] != wx.App(gameID).OpenID("code:"+code) {
			t.Errorf("round %d: shop %v, game %v; want each app's own openid", round, answers[shopID]["openid"], answers[gameID]["openid"])
		}
		if n := wx.Calls("/sns/jscode2session") - calls; n != 2 {
			t.Errorf("round %d: %d WeChat calls, want 2 (one per app)", round, n)
		}
	}
}

// TestAppsConfigErrors: each mistake in the apps' variables stops
// start-up with a message that names the variable and never prints a
// secret.
func TestAppsConfigErrors(t *testing.T) {
	wx := newAppsFake(t)
	dir := t.TempDir()
	appsFile := filepath.Join(dir, "apps")
	if err := os.WriteFile(appsFile, []byte(gameID+":"+gameSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"AppID twice in WXLOGIN_APPS", map[string]string{"WXLOGIN_APPS": gameID + ":" + gameSecret + "," + gameID + ":" + cardSecret}, "WXLOGIN_APPS: AppID " + gameID + " is given twice"},
		{"AppID in WXLOGIN_APPID and WXLOGIN_APPS", map[string]string{"WXLOGIN_APPS": shopID + ":" + gameSecret}, "WXLOGIN_APPS: AppID " + shopID + " is given twice"},
		{"empty secret", map[string]string{"WXLOGIN_APPS": gameID + ":"}, "WXLOGIN_APPS: the secret of " + gameID + " is empty"},
		{"no colon", map[string]string{"WXLOGIN_APPS": gameID + gameSecret}, "WXLOGIN_APPS: item 1 is not appid:secret"},
		{"no AppID", map[string]string{"WXLOGIN_APPS": gameID + ":" + gameSecret + ",:" + cardSecret}, "WXLOGIN_APPS: item 2 is not appid:secret"},
		{"AppID with a space", map[string]string{"WXLOGIN_APPS": "wx game:" + gameSecret}, "WXLOGIN_APPS: item 1 is not appid:secret"},
		{"blank WXLOGIN_APPS", map[string]string{"WXLOGIN_APPID": "", "WXLOGIN_SECRET": "", "WXLOGIN_APPS": " \n"}, "WXLOGIN_APPID: required, not set"},
		{"no pair at all", map[string]string{"WXLOGIN_APPID": "", "WXLOGIN_SECRET": "", "WXLOGIN_APPS": " , "}, "WXLOGIN_APPS: holds no appid:secret pair"},
		{"both forms", map[string]string{"WXLOGIN_APPS": gameID + ":" + gameSecret, "WXLOGIN_APPS_FILE": appsFile}, "WXLOGIN_APPS and WXLOGIN_APPS_FILE are both set"},
		{"unreadable file", map[string]string{"WXLOGIN_APPS_FILE": filepath.Join(dir, "nope")}, "WXLOGIN_APPS_FILE: cannot read"},
		{"audience of an app not served", map[string]string{"WXLOGIN_AUDIENCES": cardID + ":aud"}, "WXLOGIN_AUDIENCES: " + cardID + " is not an app served here"},
		{"audience twice", map[string]string{"WXLOGIN_APPS": gameID + ":" + gameSecret, "WXLOGIN_AUDIENCES": gameID + ":a," + gameID + ":b"}, "WXLOGIN_AUDIENCES: AppID " + gameID + " is given twice"},
		{"empty audience", map[string]string{"WXLOGIN_APPS": gameID + ":" + gameSecret, "WXLOGIN_AUDIENCES": gameID + ":"}, "WXLOGIN_AUDIENCES: the audience of " + gameID + " is empty"},
		{"audience pair malformed", map[string]string{"WXLOGIN_AUDIENCES": "aud-without-appid"}, "WXLOGIN_AUDIENCES: item 1 is not appid:audience"},
		{"subject", map[string]string{"WXLOGIN_SUBJECT": "email"}, "WXLOGIN_SUBJECT: must be openid or unionid"},
		// A swapped pair puts the AppSecret where the AppID goes; it is
		// refused by position, never printed.
		{"secret:appid in WXLOGIN_APPS", map[string]string{"WXLOGIN_APPS": gameID + ":" + gameSecret + "," + hexSecret + ":" + cardID}, "WXLOGIN_APPS: item 2: its AppID is 32 hex digits, the form of an AppSecret"},
		{"upper-case secret:appid in WXLOGIN_APPS", map[string]string{"WXLOGIN_APPS": strings.ToUpper(hexSecret) + ":" + cardID}, "WXLOGIN_APPS: item 1: its AppID is 32 hex digits"},
		{"WXLOGIN_APPID and WXLOGIN_SECRET swapped", map[string]string{"WXLOGIN_APPID": hexSecret, "WXLOGIN_SECRET": shopID}, "WXLOGIN_APPID: is 32 hex digits, the form of an AppSecret"},
		{"secret:appid in WXLOGIN_AUDIENCES", map[string]string{"WXLOGIN_AUDIENCES": hexSecret + ":aud"}, "WXLOGIN_AUDIENCES: item 1: its AppID is 32 hex digits"},
		// WXLOGIN_APPID is held to the rule of WXLOGIN_APPS's AppIDs.
		{"WXLOGIN_APPID with a space", map[string]string{"WXLOGIN_APPID": "wx shop"}, "WXLOGIN_APPID: is not an AppID"},
		{"WXLOGIN_APPID with a colon", map[string]string{"WXLOGIN_APPID": "wxshop:" + gameSecret}, "WXLOGIN_APPID: is not an AppID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := prodEnv(t, wx.URL)
			for k, v := range tc.env {
				env[k] = v
			}
			clearEnv(t, env)
			err := run(context.Background(), []string{"wxlogin"}, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			for _, secret := range []string{testSecret, gameSecret, cardSecret, hexSecret, strings.ToUpper(hexSecret)} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error prints a secret: %v", err)
				}
			}
		})
	}

	// The _FILE form alone, without WXLOGIN_APPID: the game is the only app.
	env := prodEnv(t, wx.URL)
	delete(env, "WXLOGIN_APPID")
	delete(env, "WXLOGIN_SECRET")
	env["WXLOGIN_APPS_FILE"] = appsFile
	clearEnv(t, env)
	base, _, stop := startRun(t)
	defer stop()
	// One app served: the appid may be left out.
	status, ans := send(t, "POST", base+"/v1/login", "", map[string]string{"code": wx.App(gameID).Code("alice")})
	if status != 200 || ans["openid"] != wx.App(gameID).OpenID("alice") {
		t.Errorf("login to the one app of WXLOGIN_APPS_FILE: %d %v", status, ans)
	}
}

// TestSingleAppNamesItsAppID: a single-app deployment takes logins with
// or without the appid, and refuses another app's.
func TestSingleAppNamesItsAppID(t *testing.T) {
	wx := wechattest.NewServer(wechattest.Options{AppID: testAppID, Secret: testSecret})
	defer wx.Close()
	clearEnv(t, prodEnv(t, wx.URL))
	base, _, stop := startRun(t)
	defer stop()
	if status, ans := postLogin(t, base, wx.Code("alice")); status != 200 {
		t.Errorf("without appid: %d %v", status, ans)
	}
	loginTo(t, base, testAppID, wx.Code("alice"))
	calls := wx.Calls("/sns/jscode2session")
	status, ans := send(t, "POST", base+"/v1/login", "", map[string]string{"code": wx.Code("alice"), "appid": gameID})
	wantCode(t, "another app", status, ans, 400, "unknown_app")
	status, ans = send(t, "POST", base+"/v1/login", "", `{"code":"c","appid":""}`)
	wantCode(t, "empty appid", status, ans, 400, "invalid_request")
	if n := wx.Calls("/sns/jscode2session") - calls; n != 0 {
		t.Errorf("%d WeChat calls, want none", n)
	}
}

// TestRunTwoApps runs the whole program serving two apps, logs in to
// each, and checks the tokens downstream, the metrics by app and the
// logs.
func TestRunTwoApps(t *testing.T) {
	wx := newAppsFake(t)
	env := prodEnv(t, wx.URL)
	env["WXLOGIN_APPS"] = gameID + ":" + gameSecret
	clearEnv(t, env)
	base, logs, stop := startRun(t)

	toks := map[string]string{}
	var secrets []string
	for _, appid := range []string{shopID, gameID} {
		code := wx.App(appid).Code("alice")
		toks[appid], _ = loginTo(t, base, appid, code)
		secrets = append(secrets, code, toks[appid], wx.App(appid).SessionKey(wx.App(appid).OpenID("alice")))
	}
	send(t, "POST", base+"/v1/login", "", map[string]string{"code": "x", "appid": "wxnotserved000000"})
	// Without WXLOGIN_AUDIENCE, each app's audience is its AppID.
	both := servedVerifier(t, base, shopID, gameID)
	for appid, tok := range toks {
		c, err := both.Verify(tok)
		if err != nil || c.AppID != appid || c.Audience[0] != appid {
			t.Errorf("%s: %v, %+v", appid, err, c)
		}
		if _, err := servedVerifier(t, base, appid).Verify(toks[other(appid)]); err == nil {
			t.Errorf("a backend of %s alone accepted the other app's token", appid)
		}
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wxlogin_app_logins_total{app="` + shopID + `",outcome="ok"} 1`,
		`wxlogin_app_logins_total{app="` + gameID + `",outcome="ok"} 1`,
		`wxlogin_app_logins_total{app="unknown",outcome="unknown_app"} 1`,
		`wxlogin_app_wechat_requests_total{api="/sns/jscode2session",app="` + gameID + `",result="ok"} 1`,
		`wxlogin_logins_total{outcome="ok"} 2`,
	} {
		if !bytes.Contains(metricsText, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if bytes.Contains(metricsText, []byte("wxnotserved")) {
		t.Error("an AppID that is not served became a label")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, appid := range []string{shopID, gameID} {
		if !regexp.MustCompile(`"route":"/v1/login".*"app":"` + appid + `"|"app":"` + appid + `".*"route":"/v1/login"`).MatchString(logs.String()) {
			t.Errorf("no login line carries app %s:\n%s", appid, logs)
		}
	}
	for _, s := range append(secrets, testSecret, gameSecret) {
		if strings.Contains(logs.String(), s) {
			t.Errorf("logs hold a secret %q…", s[:6])
		}
	}
}

func other(appid string) string {
	if appid == shopID {
		return gameID
	}
	return shopID
}

// TestRunDevModeBlankApps: a blank WXLOGIN_APPS is unset in dev mode
// too, which then serves its own AppID.
func TestRunDevModeBlankApps(t *testing.T) {
	clearEnv(t, map[string]string{"WXLOGIN_ADDR": "127.0.0.1:0", "WXLOGIN_APPS": " "})
	base, _, stop := startRun(t, "-dev")
	defer stop()
	if status, ans := postLogin(t, base, "any-code"); status != 200 {
		t.Fatalf("dev login with a blank WXLOGIN_APPS: %d %v", status, ans["code"])
	}
}

// TestRunDevModeTwoApps: dev mode serves every AppID of WXLOGIN_APPS from
// the in-process fake, the same person with the same unionid in each.
func TestRunDevModeTwoApps(t *testing.T) {
	clearEnv(t, map[string]string{
		"WXLOGIN_ADDR": "127.0.0.1:0", "WXLOGIN_APPS": "wxdevshop00000000a:dev,wxdevgame00000000b:dev",
		"WXLOGIN_SUBJECT": "unionid",
	})
	base, _, stop := startRun(t, "-dev")
	defer stop()
	status, ans := send(t, "POST", base+"/v1/login", "", map[string]string{"code": "any-code"})
	wantCode(t, "dev login without appid", status, ans, 400, "invalid_request")
	shopTok, shop := loginTo(t, base, "wxdevshop00000000a", "alice")
	gameTok, game := loginTo(t, base, "wxdevgame00000000b", "alice")
	if shop["openid"] == game["openid"] || shop["unionid"] != game["unionid"] || shop["unionid"] == nil {
		t.Errorf("shop %v, game %v: want two openids and one unionid", shop, game)
	}
	v := servedVerifier(t, base, "wxdevshop00000000a", "wxdevgame00000000b")
	for _, tok := range []string{shopTok, gameTok} {
		c, err := v.Verify(tok)
		if err != nil || c.Subject != shop["unionid"] {
			t.Errorf("sub %v, err %v; want the unionid %v", c, err, shop["unionid"])
		}
	}
}

// TestInteropNodeJoseTwoApps has the npm package jose verify the tokens
// of two apps served by one wxlogin: a backend for both apps (both
// audiences) and one for a single app.
func TestInteropNodeJoseTwoApps(t *testing.T) {
	requireNodeJose(t)
	d := newDeployment(t)
	d.deploy(t, map[string]string{"WXLOGIN_APPS": "wxnodeshop0000000a:s1,wxnodegame0000000b:s2"})
	servers, _ := json.Marshal([]map[string]any{{
		"issuer": d.URL, "alg": token.ES256,
		"apps": []map[string]string{{"appid": "wxnodeshop0000000a", "audience": "wxnodeshop0000000a"}, {"appid": "wxnodegame0000000b", "audience": "wxnodegame0000000b"}},
	}})
	runNodeTest(t, "apps.test.mjs", "WXLOGIN_INTEROP_APPS="+string(servers), 1)
}

// TestResolveAppsRefusesSecretLikeAppIDs: an AppID of 32 hex digits (an
// AppSecret in the AppID's place) is refused wherever an AppID is given,
// by variable and position, and no app is served with it; WXLOGIN_APPID
// is held to the rule of WXLOGIN_APPS's AppIDs.
func TestResolveAppsRefusesSecretLikeAppIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    appsVars
		want string
	}{
		{"WXLOGIN_APPS", appsVars{Apps: gameID + ":" + gameSecret + "," + hexSecret + ":" + cardID}, "APPS: item 2: its AppID is 32 hex digits"},
		{"WXLOGIN_APPID", appsVars{AppID: hexSecret, Secret: shopID}, "APPID: is 32 hex digits"},
		{"WXLOGIN_AUDIENCES", appsVars{AppID: shopID, Secret: testSecret, Audiences: strings.ToUpper(hexSecret) + ":aud"}, "AUDIENCES: item 1: its AppID is 32 hex digits"},
		{"WXLOGIN_APPID not an AppID", appsVars{AppID: "wx shop", Secret: testSecret}, "APPID: is not an AppID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var msgs []string
			apps := resolveApps(tc.v, func(name, format string, args ...any) {
				msgs = append(msgs, name+": "+fmt.Sprintf(format, args...))
			})
			all := strings.Join(msgs, "\n")
			if !strings.Contains(all, tc.want) {
				t.Errorf("problems %q, want one with %q", msgs, tc.want)
			}
			if strings.Contains(strings.ToLower(all), hexSecret) {
				t.Errorf("the problems print the secret: %q", msgs)
			}
			for _, id := range appIDs(apps) {
				if looksLikeSecret(id) || id == "wx shop" {
					t.Errorf("app %q served", id)
				}
			}
		})
	}
	// Other AppIDs stay allowed: WeChat's form is not required.
	var msgs []string
	resolveApps(appsVars{AppID: "test-app", Secret: "s", Apps: "wxdevfake000000000:s2,0123456789abcdef0123456789abcde:s3"}, func(name, format string, args ...any) {
		msgs = append(msgs, name+": "+fmt.Sprintf(format, args...))
	})
	if len(msgs) != 0 {
		t.Errorf("good AppIDs refused: %q", msgs)
	}
}
