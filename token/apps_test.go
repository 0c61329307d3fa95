package token_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

const appsIssuer = "https://login.example.com"

// appIssuers returns one Issuer per app, sharing a key and a sealer as a
// server of several apps does, with audiences as given (appid → aud).
func appIssuers(t *testing.T, subject string, audiences map[string]string) (map[string]*token.Issuer, *tokentest.Signer) {
	t.Helper()
	signer := tokentest.New(token.ES256, appsIssuer, "")
	secret := make([]byte, token.SecretSize)
	rand.Read(secret)
	sealer, err := token.NewSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	issuers := map[string]*token.Issuer{}
	for appid, aud := range audiences {
		iss, err := token.NewIssuer(token.IssuerConfig{
			Key: signer.Key, Issuer: appsIssuer, Audience: aud, AppID: appid, Subject: subject,
			TTL: time.Hour, Sealer: sealer,
		})
		if err != nil {
			t.Fatal(err)
		}
		issuers[appid] = iss
	}
	return issuers, signer
}

// payload decodes a token's claims as JSON, independently of Claims.
func payload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
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

func TestIssuePerApp(t *testing.T) {
	issuers, _ := appIssuers(t, "", map[string]string{"wxshop": "wxshop", "wxgame": "api.example.com"})
	shop, err := issuers["wxshop"].Issue("oShop", "uAlice", "c2Vzc2lvbmtleTEyMzQ1Ng==")
	if err != nil {
		t.Fatal(err)
	}
	game, err := issuers["wxgame"].Issue("oGame", "uAlice", "c2Vzc2lvbmtleTEyMzQ1Ng==")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tok, appid, aud, sub string
	}{{shop.Token, "wxshop", "wxshop", "oShop"}, {game.Token, "wxgame", "api.example.com", "oGame"}} {
		m := payload(t, tc.tok)
		if m["appid"] != tc.appid || fmt.Sprint(m["aud"]) != "["+tc.aud+"]" || m["sub"] != tc.sub || m["unionid"] != "uAlice" {
			t.Errorf("claims %v, want appid %s, aud %s, sub %s", m, tc.appid, tc.aud, tc.sub)
		}
		if _, ok := m["openid"]; ok {
			t.Errorf("an openid claim beside sub = openid: %v", m)
		}
	}

	// Each app's issuer opens its own sk only.
	if sk, err := issuers["wxshop"].OpenSessionKey(shop.Claims); err != nil || sk != "c2Vzc2lvbmtleTEyMzQ1Ng==" {
		t.Errorf("own sk: %q, %v", sk, err)
	}
	if _, err := issuers["wxgame"].OpenSessionKey(shop.Claims); !errors.Is(err, token.ErrSealed) {
		t.Errorf("another app's token opened: %v, want ErrSealed", err)
	}
	// A token whose appid was changed to the other app's (signed with the
	// server's own key, so only the sk binding stands in the way) does not
	// open either.
	moved := *shop.Claims
	moved.AppID = "wxgame"
	if _, err := issuers["wxgame"].OpenSessionKey(&moved); !errors.Is(err, token.ErrSealed) {
		t.Errorf("sk moved to another app opened: %v, want ErrSealed", err)
	}
}

func TestIssueUnionIDSubject(t *testing.T) {
	issuers, signer := appIssuers(t, token.SubjectUnionID, map[string]string{"wxshop": "wxshop", "wxgame": "wxgame"})
	shop, err := issuers["wxshop"].Issue("oShop", "uAlice", "c2hvcHNlc3Npb25rZXkxMg==")
	if err != nil {
		t.Fatal(err)
	}
	game, err := issuers["wxgame"].Issue("oGame", "uAlice", "Z2FtZXNlc3Npb25rZXkxMg==")
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier(token.VerifierConfig{Keys: []token.Key{signer.PublicKey()}, Issuer: appsIssuer, Audiences: []string{"wxshop", "wxgame"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		issued        token.Issued
		openid, appid string
	}{{shop, "oShop", "wxshop"}, {game, "oGame", "wxgame"}} {
		m := payload(t, tc.issued.Token)
		if m["sub"] != "uAlice" || m["openid"] != tc.openid || m["unionid"] != "uAlice" {
			t.Errorf("claims %v, want sub uAlice, openid %s", m, tc.openid)
		}
		c, err := v.Verify(tc.issued.Token)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject != "uAlice" || c.OpenID() != tc.openid || c.AppID != tc.appid {
			t.Errorf("verified claims sub %q openid %q appid %q", c.Subject, c.OpenID(), c.AppID)
		}
		// sk is bound to the openid, not the subject: it still opens.
		if _, err := issuers[tc.appid].OpenSessionKey(c); err != nil {
			t.Errorf("OpenSessionKey with sub = unionid: %v", err)
		}
		// And to that openid: another user's openid in the claim does not open it.
		other := *c
		other.OpenIDClaim = "oMallory"
		if _, err := issuers[tc.appid].OpenSessionKey(&other); !errors.Is(err, token.ErrSealed) {
			t.Errorf("sk opened for another openid: %v", err)
		}
	}

	if _, err := issuers["wxshop"].Issue("oShop", "", "c2hvcHNlc3Npb25rZXkxMg=="); !errors.Is(err, token.ErrNoUnionID) {
		t.Errorf("unionid subject without a unionid: %v, want ErrNoUnionID", err)
	}
	if _, err := token.NewIssuer(token.IssuerConfig{Key: signer.Key, Issuer: appsIssuer, Audience: "a", AppID: "a",
		Subject: "email", TTL: time.Hour, Sealer: mustSealer(t)}); err == nil {
		t.Error("NewIssuer took subject \"email\"")
	}
}

func mustSealer(t *testing.T) *token.Sealer {
	t.Helper()
	secret := make([]byte, token.SecretSize)
	rand.Read(secret)
	s, err := token.NewSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifierAudiences: a backend for every app accepts each app's
// audience, one for a single app refuses the others, and a shared
// audience is accepted for all the apps that carry it.
func TestVerifierAudiences(t *testing.T) {
	issuers, signer := appIssuers(t, "", map[string]string{"wxshop": "wxshop", "wxgame": "wxgame", "wxcard": "api.example.com"})
	tokens := map[string]string{}
	for appid, iss := range issuers {
		is, err := iss.Issue("o"+appid, "", "c2Vzc2lvbmtleTEyMzQ1Ng==")
		if err != nil {
			t.Fatal(err)
		}
		tokens[appid] = is.Token
	}
	for _, tc := range []struct {
		name     string
		audience string
		more     []string
		accepts  []string
	}{
		{"every app", "", []string{"wxshop", "wxgame", "api.example.com"}, []string{"wxshop", "wxgame", "wxcard"}},
		{"Audience and Audiences together", "wxshop", []string{"wxgame"}, []string{"wxshop", "wxgame"}},
		{"only the shop", "wxshop", nil, []string{"wxshop"}},
		{"only the shared audience", "", []string{"api.example.com"}, []string{"wxcard"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := token.NewVerifier(token.VerifierConfig{Keys: []token.Key{signer.PublicKey()}, Issuer: appsIssuer, Audience: tc.audience, Audiences: tc.more})
			if err != nil {
				t.Fatal(err)
			}
			h := token.Middleware(v)(greet)
			for appid, tok := range tokens {
				want := strings.Contains(strings.Join(tc.accepts, ","), appid)
				c, err := v.Verify(tok)
				switch {
				case want && (err != nil || c.AppID != appid):
					t.Errorf("%s's token refused: %v", appid, err)
				case !want && !errors.Is(err, token.ErrAudience):
					t.Errorf("%s's token: err %v, want ErrAudience", appid, err)
				}
				rec := get(h, "Bearer "+tok)
				if got := rec.Code == http.StatusOK; got != want {
					t.Errorf("middleware, %s's token: status %d, want accepted %v", appid, rec.Code, want)
				}
				if want && rec.Body.String() != "hello, o"+appid {
					t.Errorf("middleware, %s's token: body %q", appid, rec.Body)
				}
			}
		})
	}
	if _, err := token.NewVerifier(token.VerifierConfig{Keys: []token.Key{signer.PublicKey()}, Issuer: appsIssuer, Audiences: []string{""}}); err == nil {
		t.Error("a verifier without a non-empty audience was made")
	}
	// A token with several audiences passes when any one is accepted.
	c := signer.Claims("oMulti")
	c["aud"] = jwt.ClaimStrings{"other", "wxgame"}
	v, _ := token.NewVerifier(token.VerifierConfig{Keys: []token.Key{signer.PublicKey()}, Issuer: appsIssuer, Audiences: []string{"wxshop", "wxgame"}})
	if _, err := v.Verify(signer.Sign(c, nil)); err != nil {
		t.Errorf("aud [other wxgame] with wxgame accepted: %v", err)
	}
}
