package token_test

import (
	"errors"
	"testing"

	"github.com/wxlogin/wxlogin/token"
)

// FuzzOpenSealed feeds Open any sk value (a validly signed token could
// still carry garbage if a signing key leaked): it must never panic, must
// refuse with ErrSealed, and must open only what it sealed, for the same
// user; a value it seals must open again.
func FuzzOpenSealed(f *testing.F) {
	s := newTestSealer(f, testSecret("wxlogin seal test secret 1"), testSecret("fuzz old"))
	// The fuzz workers are other processes: only fixed values can be
	// recognised in them.
	f.Add("wxapp", "openid-1", goldenV2, testSessionKey)
	f.Add("wxapp", "openid-1", goldenV1, testSessionKey)
	f.Add("wxapp", "openid-1", "v2."+s.KeyID()+".", "")
	f.Add("wx", "o", "v2..x", "k")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, appid, openid, value, sessionKey string) {
		got, err := s.Open(appid, openid, value)
		switch {
		case err != nil && (!errors.Is(err, token.ErrSealed) || got != ""):
			t.Fatalf("Open(%q) = %q, %v; want \"\", ErrSealed", value, got, err)
		case err == nil && (!(value == goldenV2 || value == goldenV1) || appid != "wxapp" || openid != "openid-1" || got != testSessionKey):
			// Nothing but the golden values may open, and only for their user.
			t.Fatalf("Open(%q) opened a value no one sealed: %q", value, got)
		}
		again, err := s.Seal(appid, openid, sessionKey)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Open(appid, openid, again); err != nil || got != sessionKey {
			t.Fatalf("round trip: Open(Seal(%q)) = %q, %v", sessionKey, got, err)
		}
	})
}
