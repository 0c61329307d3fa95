package claims_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wxlogin/wxlogin/claims"
)

// FuzzParseAnswer: whatever a hook answers, ParseAnswer does not panic;
// it either refuses with an *AnswerError, or returns an answer that keeps
// every rule, and that encodes and parses again to itself.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"sub":"42"}`, `{"sub":null,"claims":null}`,
		`{"sub":"42","claims":{"roles":["a"],"n":12345678901234567890}}`,
		`{"claims":{"https://hasura.io/jwt/claims":{"x-hasura-default-role":"user"}}}`,
		`{"claims":{"sub":"x"}}`, `{"claims":[]}`, `{"sub":""}`, `{"x":1}`,
		`{"sub":"a"} `, `{"sub":"a"}]`, `[]`, `null`, ``, `"\ud800"`,
		`{"sub":"\u0000","claims":{"":{"":[1e400]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := claims.ParseAnswer(body)
		if err != nil {
			var ae *claims.AnswerError
			if !errors.As(err, &ae) || ae.Rule == "" {
				t.Fatalf("err %v is not an *AnswerError with a rule", err)
			}
			return
		}
		if a.Sub != "" && len(a.Sub) > claims.MaxSubjectLen {
			t.Fatalf("sub of %d bytes accepted", len(a.Sub))
		}
		if !utf8.ValidString(a.Sub) {
			t.Fatalf("sub %q is not UTF-8", a.Sub)
		}
		for name := range a.Claims {
			if claims.IsReserved(name) {
				t.Fatalf("reserved claim %q accepted", name)
			}
		}
		if a.Claims != nil {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(a.Claims); err != nil {
				t.Fatalf("accepted claims do not encode: %v", err)
			}
			if n := buf.Len() - 1; n > claims.MaxClaimsSize {
				t.Fatalf("claims of %d bytes accepted", n)
			}
		}
		if err := a.Check(); err != nil {
			t.Fatalf("an accepted answer fails Check: %v", err)
		}
		again, err := claims.ParseAnswer(mustEncode(t, a))
		if err != nil {
			t.Fatalf("an accepted answer, encoded, does not parse: %v", err)
		}
		if g, w := mustEncode(t, again), mustEncode(t, a); !bytes.Equal(g, w) {
			t.Fatalf("round trip: %s, then %s", w, g)
		}
	})
}

// FuzzVerify: no header makes Verify panic, and none verifies a body
// without the key.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"event":"login","appid":"wx1","openid":"o1"}`)
	f.Add(claims.Sign(testKey, body, t0))
	f.Add("t=1700000000,v1=00")
	f.Add("t=,v1=")
	f.Add(",,,=,")
	f.Fuzz(func(t *testing.T, header string) {
		v := claims.Verifier{Keys: [][]byte{bytes.Repeat([]byte("z"), 32)}, Now: func() time.Time { return t0 }}
		if err := v.Verify(body, header); err == nil {
			t.Fatalf("header %q verifies without the key", header)
		}
	})
}

func mustEncode(t *testing.T, a claims.Answer) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
