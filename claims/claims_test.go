package claims_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wxlogin/wxlogin/claims"
)

// claimsOfSize returns a compact claims object of exactly n bytes.
func claimsOfSize(n int) string {
	const frame = `{"pad":""}`
	return `{"pad":"` + strings.Repeat("x", n-len(frame)) + `"}`
}

func TestParseAnswerAccepts(t *testing.T) {
	tests := []struct {
		name, body string
		want       claims.Answer
	}{
		{"empty object", `{}`, claims.Answer{}},
		{"nulls", `{"sub":null,"claims":null}`, claims.Answer{}},
		{"sub only", `{"sub":"user-42"}`, claims.Answer{Sub: "user-42"}},
		{"sub of 255 bytes", `{"sub":"` + strings.Repeat("é", 127) + `x"}`, claims.Answer{Sub: strings.Repeat("é", 127) + "x"}},
		{"claims", `{"sub":"42","claims":{"roles":["admin","user"],"https://hasura.io/jwt/claims":{"x-hasura-user-id":"42"}}}`,
			claims.Answer{Sub: "42", Claims: map[string]any{
				"roles":                        []any{"admin", "user"},
				"https://hasura.io/jwt/claims": map[string]any{"x-hasura-user-id": "42"},
			}}},
		{"claims of exactly 4 KiB", `{"claims":` + claimsOfSize(4096) + `}`, claims.Answer{Claims: map[string]any{"pad": strings.Repeat("x", 4096-10)}}},
		{"white space does not count toward the limit", "{\"claims\" : {\n  \"pad\": \"" + strings.Repeat("x", 4096-10) + "\"\n}\n}\n",
			claims.Answer{Claims: map[string]any{"pad": strings.Repeat("x", 4096-10)}}},
		// Names that differ in case only are distinct claims, as JWT names
		// are case-sensitive, unless one of them is reserved (below).
		{"names differing in case only", `{"claims":{"role":"x","ROLE":"y"}}`, claims.Answer{Claims: map[string]any{"role": "x", "ROLE": "y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := claims.ParseAnswer([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseAnswer: %v", err)
			}
			if g, w := mustJSON(t, got), mustJSON(t, tt.want); g != w {
				t.Errorf("got %s, want %s", g, w)
			}
		})
	}
}

// Numbers reach the token with the digits the hook sent, not as float64.
func TestParseAnswerKeepsNumbersExact(t *testing.T) {
	a, err := claims.ParseAnswer([]byte(`{"claims":{"id":9007199254740993,"ratio":0.1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, a.Claims); got != `{"id":9007199254740993,"ratio":0.1}` {
		t.Errorf("claims re-encode as %s", got)
	}
}

func TestParseAnswerRefuses(t *testing.T) {
	tests := []struct {
		name, body string
		rule       claims.Rule
		ruleName   string
	}{
		{"not JSON", `<html>oops</html>`, claims.RuleJSON, ""},
		{"empty body", ``, claims.RuleJSON, ""},
		{"null", `null`, claims.RuleJSON, ""},
		{"an array", `[{"sub":"x"}]`, claims.RuleJSON, ""},
		{"a string", `"x"`, claims.RuleJSON, ""},
		{"trailing data", `{"sub":"x"}{"sub":"y"}`, claims.RuleJSON, ""},
		{"trailing bracket", `{"sub":"x"}]`, claims.RuleJSON, ""},
		{"cut short", `{"sub":"x"`, claims.RuleJSON, ""},
		{"unknown member", `{"sub":"x","claim":{}}`, claims.RuleMember, "claim"},
		{"empty sub", `{"sub":""}`, claims.RuleSub, ""},
		{"sub of 256 bytes", `{"sub":"` + strings.Repeat("x", 256) + `"}`, claims.RuleSub, ""},
		{"sub a number", `{"sub":42}`, claims.RuleSub, ""},
		{"claims an array", `{"claims":["admin"]}`, claims.RuleClaimsType, ""},
		{"claims a string", `{"claims":"admin"}`, claims.RuleClaimsType, ""},
		{"claims of 4 KiB + 1", `{"claims":` + claimsOfSize(4097) + `}`, claims.RuleClaimsSize, ""},
		{"answer over 64 KiB", `{"sub":"x","claims":{"pad":"` + strings.Repeat(" ", 64<<10) + `"}}`, claims.RuleSize, ""},
	}
	for _, name := range claims.Reserved() {
		tests = append(tests, struct {
			name, body string
			rule       claims.Rule
			ruleName   string
		}{"reserved " + name, `{"sub":"42","claims":{"roles":["a"],"` + name + `":"forged"}}`, claims.RuleReserved, name})
	}
	// A reserved name in another case, or another spelling under Unicode
	// case folding (a long s, a Kelvin sign), would be read as the
	// reserved claim by Go's encoding/json, which matches struct fields
	// case-insensitively.
	for _, tc := range []struct{ name, reserved string }{
		{"SUB", "sub"}, {"Sub", "sub"}, {"appId", "appid"}, {"openId", "openid"}, {"Exp", "exp"},
		{"\u017fub", "sub"}, {"s\u212a", "sk"}, {"PHONE_NUMBER_verified", "phone_number_verified"},
	} {
		tests = append(tests, struct {
			name, body string
			rule       claims.Rule
			ruleName   string
		}{"reserved in another case " + tc.name, `{"claims":{"roles":["a"],"` + tc.name + `":"forged"}}`, claims.RuleReserved, tc.reserved})
	}
	// The first reserved name in the contract's order is the one named.
	tests = append(tests, struct {
		name, body string
		rule       claims.Rule
		ruleName   string
	}{"several reserved in another case", `{"claims":{"appId":"wxOTHER","openId":"victim","Exp":4102444800,"SUB":"admin"}}`, claims.RuleReserved, "sub"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := claims.ParseAnswer([]byte(tt.body))
			var ae *claims.AnswerError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *AnswerError", err)
			}
			if ae.Rule != tt.rule || ae.Name != tt.ruleName {
				t.Errorf("rule %q name %q, want %q %q (%v)", ae.Rule, ae.Name, tt.rule, tt.ruleName, err)
			}
			if !errors.Is(err, claims.ErrBadAnswer) || !errors.Is(err, claims.ErrUpstream) {
				t.Errorf("%v is not both ErrBadAnswer and ErrUpstream", err)
			}
			// The message names the rule, never the answer's values.
			for _, v := range []string{"forged", "admin", "victim", "wxOTHER", "oops", "xxxxxxxx"} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error %q holds the answer's value %q", err, v)
				}
			}
		})
	}
}

func TestReservedMatchesTheContract(t *testing.T) {
	want := "iss sub aud exp nbf iat jti appid openid unionid sk phone_number phone_number_verified"
	if got := strings.Join(claims.Reserved(), " "); got != want {
		t.Errorf("Reserved() = %s, want %s", got, want)
	}
	// The list returned is a copy: changing it changes nothing.
	r := claims.Reserved()
	r[0] = "roles"
	if claims.IsReserved("roles") || !claims.IsReserved("iss") {
		t.Error("Reserved() hands out the package's own list")
	}
	for _, name := range []string{"ISS", "appId", "\u017fub", "s\u212a", "Phone_Number"} {
		if !claims.IsReserved(name) {
			t.Errorf("IsReserved(%q) = false, want true: it folds to a reserved name", name)
		}
	}
	for _, name := range []string{"subs", "s", "app_id", "open-id", "roles"} {
		if claims.IsReserved(name) {
			t.Errorf("IsReserved(%q) = true, want false", name)
		}
	}
}

func TestAnswerCheck(t *testing.T) {
	if err := (claims.Answer{Sub: "42", Claims: map[string]any{"role": "web_user"}}).Check(); err != nil {
		t.Errorf("a good answer: %v", err)
	}
	err := claims.Answer{Claims: map[string]any{"exp": 1}}.Check()
	var ae *claims.AnswerError
	if !errors.As(err, &ae) || ae.Rule != claims.RuleReserved || ae.Name != "exp" {
		t.Errorf("an answer with exp: %v, want reserved_name exp", err)
	}
	// The size is measured as sent, without HTML escaping: 4 KiB of "<"
	// is 4 KiB, not 24.
	big := claims.Answer{Claims: map[string]any{"pad": strings.Repeat("<", 4096-10)}}
	if err := big.Check(); err != nil {
		t.Errorf("4 KiB of claims with HTML characters: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
