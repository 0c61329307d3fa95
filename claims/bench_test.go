package claims_test

import (
	"context"
	"testing"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/claims/claimstest"
)

// BenchmarkCall is one hook call over loopback to a hook that verifies
// the signature and answers a sub and roles: what a hook on the same
// host adds to a login, less the hook's own work.
func BenchmarkCall(b *testing.B) {
	hook := claimstest.NewServer()
	defer hook.Close()
	hook.Answer(claims.Answer{Sub: "10042", Claims: map[string]any{"roles": []string{"member"}}})
	c, err := claims.NewClient(claims.Config{URL: hook.URL, Key: hook.Key()})
	if err != nil {
		b.Fatal(err)
	}
	req := claims.Request{Event: claims.EventLogin, AppID: "wx1234567890abcdef", OpenID: "oK8xY5Lq2Wm9rTz3VbN7cHd1uE4g", UnionID: "uF6pJ0sA8eQ2wR5tY9iO3lK7mN1b"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Call(context.Background(), "bench", req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAnswer is the checks of one typical answer.
func BenchmarkParseAnswer(b *testing.B) {
	body := []byte(`{"sub":"10042","claims":{"roles":["member"],"https://hasura.io/jwt/claims":{"x-hasura-allowed-roles":["user","member"],"x-hasura-default-role":"member","x-hasura-user-id":"10042"}}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := claims.ParseAnswer(body); err != nil {
			b.Fatal(err)
		}
	}
}
