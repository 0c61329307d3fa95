package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/token/tokentest"
)

// payload decodes a token's claims as any JWT library sees them.
func tokenPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
	return m
}

func TestIssueWithHookSubjectClaimsAndPhone(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	iss, v := coreIssuer(t, token.ES256, now)
	hasura := map[string]any{"x-hasura-default-role": "member", "x-hasura-allowed-roles": []any{"member"}}
	got, err := iss.IssueWith("openid-1", "unionid-1", "c2Vzc2lvbmtleTEyMzQ1Ng==", token.Extra{
		Subject: "10042",
		Claims: map[string]any{
			"roles": []any{"member", "admin"}, "https://hasura.io/jwt/claims": hasura,
			"level": json.Number("12345678901234567890"), "<html>": "a<b&c",
		},
		PhoneNumber: "+8613800138000",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := tokenPayload(t, got.Token)
	for name, want := range map[string]any{
		"sub": "10042", "openid": "openid-1", "unionid": "unionid-1",
		"phone_number": "+8613800138000", "phone_number_verified": true,
		"level": json.Number("12345678901234567890"), "<html>": "a<b&c",
	} {
		if !reflect.DeepEqual(p[name], want) {
			t.Errorf("payload %s = %#v, want %#v", name, p[name], want)
		}
	}
	if raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(got.Token, ".")[1]); strings.Contains(string(raw), `\u003c`) {
		t.Error("the hook's claims were HTML-escaped, taking six bytes a character")
	}

	c, err := v.Verify(got.Token)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "10042" || c.OpenID() != "openid-1" || c.PhoneNumber != "+8613800138000" || !c.PhoneNumberVerified {
		t.Errorf("verified claims %+v", c)
	}
	wantExtra := map[string]any{
		"roles": []any{"member", "admin"}, "https://hasura.io/jwt/claims": hasura,
		"level": json.Number("12345678901234567890"), "<html>": "a<b&c",
	}
	if !reflect.DeepEqual(c.Extra, wantExtra) {
		t.Errorf("Extra = %#v, want %#v", c.Extra, wantExtra)
	}
	if r, ok := c.Get("roles"); !ok || !reflect.DeepEqual(r, []any{"member", "admin"}) {
		t.Errorf("Get(roles) = %v, %v", r, ok)
	}
	if _, ok := c.Get("sk"); ok {
		t.Error("Get finds a named claim in Extra")
	}
}

func TestIssueWithoutExtraHasNone(t *testing.T) {
	iss, v := coreIssuer(t, token.EdDSA, time.Now())
	got, err := iss.IssueWith("openid-1", "", "c2Vzc2lvbmtleTEyMzQ1Ng==", token.Extra{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(got.Token)
	if err != nil {
		t.Fatal(err)
	}
	p := tokenPayload(t, got.Token)
	if c.Extra != nil || c.Subject != "openid-1" || p["openid"] != nil || p["phone_number"] != nil || p["phone_number_verified"] != nil {
		t.Errorf("plain token: payload %v, Extra %v", p, c.Extra)
	}
	// A hook's sub equal to the openid needs no openid claim.
	got, _ = iss.IssueWith("openid-1", "", "c2Vzc2lvbmtleTEyMzQ1Ng==", token.Extra{Subject: "openid-1"})
	if p := tokenPayload(t, got.Token); p["openid"] != nil || p["sub"] != "openid-1" {
		t.Errorf("payload %v", p)
	}
}

func TestIssueWithRefusesReservedNames(t *testing.T) {
	iss, _ := coreIssuer(t, token.ES256, time.Now())
	for _, name := range claims.Reserved() {
		_, err := iss.IssueWith("openid-1", "", "c2Vzc2lvbmtleTEyMzQ1Ng==", token.Extra{Claims: map[string]any{name: "x"}})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("extra claim %q: err = %v, want a refusal naming it", name, err)
		}
	}
}

// The claims package's reserved names are exactly the claims the token
// sets itself: the rule is written there once, and cannot drift from
// the fields here.
func TestReservedNamesAreTheNamedClaims(t *testing.T) {
	full := token.Claims{AppID: "a", OpenIDClaim: "o", UnionID: "u", SK: "s", PhoneNumber: "+1", PhoneNumberVerified: true}
	full.Issuer, full.Subject, full.Audience, full.ID = "i", "s", []string{"a"}, "j"
	full.ExpiresAt = &jwtDate
	full.NotBefore = &jwtDate
	full.IssuedAt = &jwtDate
	var m map[string]any
	json.Unmarshal(mustJSON(t, full), &m)
	var names []string
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	reserved := claims.Reserved()
	slices.Sort(reserved)
	if !slices.Equal(names, reserved) {
		t.Errorf("the token's named claims %v, claims.Reserved() %v", names, reserved)
	}
}

// The biggest claims a hook may give (claims.MaxClaimsSize) make a
// token that verifies; more than a token can hold is refused at issue.
func TestIssueWithLargeClaims(t *testing.T) {
	iss, v := coreIssuer(t, token.ES256, time.Now())
	a, err := claims.ParseAnswer(fmt.Appendf(nil, `{"sub":%q,"claims":{"pad":"%s"}}`,
		strings.Repeat("s", claims.MaxSubjectLen), strings.Repeat("x", claims.MaxClaimsSize-len(`{"pad":""}`))))
	if err != nil {
		t.Fatal(err)
	}
	got, err := iss.IssueWith("openid-1", "unionid-1", "c2Vzc2lvbmtleTEyMzQ1Ng==", token.Extra{Subject: a.Sub, Claims: a.Claims, PhoneNumber: "+8613800138000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(got.Token); err != nil {
		t.Errorf("a token with %d bytes of claims: %v (%d bytes long)", claims.MaxClaimsSize, err, len(got.Token))
	}
	_, err = iss.IssueWith("openid-1", "", "c2Vzc2lvbmtleTEyMzQ1Ng==", token.Extra{Claims: map[string]any{"pad": strings.Repeat("x", token.MaxTokenSize)}})
	if !errors.Is(err, token.ErrTooLarge) {
		t.Errorf("claims bigger than a token: err = %v, want ErrTooLarge", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A downstream API reads the claims the team's claims hook put into the
// token (here: roles) from the verified claims, with Get or Extra.
func ExampleClaims_Get() {
	wxlogin := tokentest.New(token.ES256, "https://login.example.com", "wx1234567890abcdef")
	v, err := token.NewVerifier(token.VerifierConfig{
		Keys:     []token.Key{wxlogin.PublicKey()},
		Issuer:   "https://login.example.com",
		Audience: "wx1234567890abcdef",
	})
	if err != nil {
		panic(err)
	}
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := token.FromContext(r.Context())
		roles, _ := c.Get("roles") // JSON as decoded into an any: []any of strings here
		if r, ok := roles.([]any); !ok || !slices.Contains(r, any("admin")) {
			http.Error(w, "admins only", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "hello, admin %s", c.Subject)
	})
	api := token.Middleware(v)(admin)

	// What a wxlogin with a claims hook issues: the hook's sub and roles.
	for _, roles := range [][]string{{"member", "admin"}, {"member"}} {
		c := wxlogin.Claims("oUser123")
		c["sub"], c["openid"], c["roles"] = "10042", "oUser123", roles
		req := httptest.NewRequest(http.MethodGet, "/admin", nil)
		req.Header.Set("Authorization", "Bearer "+wxlogin.Sign(c, nil))
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 200 hello, admin 10042
	// 403 admins only
}

var jwtDate = *jwt.NewNumericDate(time.Unix(1_800_000_000, 0))
