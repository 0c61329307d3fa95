package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/token/tokentest"
)

// The ES256 twin (r, n−s) of a token is refused by default; with
// WXLOGIN_ACCEPT_HIGH_S_BEFORE after the token's iat (the transition for
// tokens signed before low-s signing) it is accepted.
func TestAcceptHighSBefore(t *testing.T) {
	km := newKeyMaterial(t)
	d := newDeployment(t)
	env := map[string]string{"WXLOGIN_SIGNING_KEY": km.signingKey, "WXLOGIN_SESSION_KEY_SECRET": km.sessionSecret}
	d.deploy(t, env)
	tok, _ := d.login(t, "code-of-a-user")
	twin := tokentest.Twin(tok)
	if resp, body := d.session(t, tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("the token: %d %s", resp.StatusCode, body)
	}
	if resp, body := d.session(t, twin); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("its twin, no transition: %d %s; want 401", resp.StatusCode, body)
	}

	for _, tc := range []struct {
		cutover time.Time
		want    int
	}{
		{time.Now().Add(time.Hour), http.StatusOK},            // issued before the cut-over
		{time.Now().Add(-time.Hour), http.StatusUnauthorized}, // issued after it
	} {
		env["WXLOGIN_ACCEPT_HIGH_S_BEFORE"] = tc.cutover.UTC().Format(time.RFC3339)
		d.deploy(t, env)
		if resp, body := d.session(t, twin); resp.StatusCode != tc.want {
			t.Errorf("cut-over %s: the twin: %d %s; want %d", env["WXLOGIN_ACCEPT_HIGH_S_BEFORE"], resp.StatusCode, body, tc.want)
		}
	}
}
