package token_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/wxlogin/wxlogin/token"
)

// testSecret derives a fixed secret from name, so that the golden values
// below stay valid.
func testSecret(name string) []byte {
	s := sha256.Sum256([]byte(name))
	return s[:]
}

func newTestSealer(t testing.TB, current []byte, old ...[]byte) *token.Sealer {
	t.Helper()
	s, err := token.NewSealer(current, old...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const testSessionKey = "c2Vzc2lvbmtleTEyMzQ1Ng=="

// goldenV1 was sealed by the first format's Sealer (AES-256-GCM, no
// prefix) under testSecret("wxlogin seal test secret 1") for appid
// "wxapp" and openid "openid-1". Tokens carrying such values are live
// when a server with the new format starts, and must keep opening.
const goldenV1 = "4pzO6QzHYxjgbaD-ga8yVIhNfO4bLsIqk_M2I5dnXzBW8HFn-0pX_wcv75yaeSpGGdkSkQ"

// goldenV2 is the same session_key sealed in the current format under the
// same secret, for the same user: the format must not change unnoticed.
const goldenV2 = "v2.BHtgCwdt.fvgHhsMwGBiTsT8FtRU4WfH13lWtIhTL3OkXduio82wdXT7xhAAmR1LrQiJuGGarnZ7OsXKx37tcJoJHkDIEmw"

func TestSealFormat(t *testing.T) {
	s := newTestSealer(t, testSecret("wxlogin seal test secret 1"))
	sealed, err := s.Seal("wxapp", "openid-1", testSessionKey)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(sealed, ".")
	if len(parts) != 3 || parts[0] != "v2" || parts[1] != s.KeyID() {
		t.Fatalf("sk = %q; want v2.<key id %s>.<payload>", sealed, s.KeyID())
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("payload is not base64url: %v", err)
	}
	// A 24-byte nonce, the ciphertext, a 16-byte tag.
	if want := 24 + len(testSessionKey) + 16; len(raw) != want {
		t.Errorf("payload is %d bytes; want %d (XChaCha20-Poly1305)", len(raw), want)
	}
	if got, err := s.Open("wxapp", "openid-1", sealed); err != nil || got != testSessionKey {
		t.Errorf("Open = %q, %v; want the session_key", got, err)
	}
	again, _ := s.Seal("wxapp", "openid-1", testSessionKey)
	rawAgain, _ := base64.RawURLEncoding.DecodeString(strings.Split(again, ".")[2])
	if len(rawAgain) < 24 || string(rawAgain[:24]) == string(raw[:24]) {
		t.Error("two seals share a nonce; each must be fresh")
	}
	other := newTestSealer(t, testSecret("another secret"))
	if other.KeyID() == s.KeyID() {
		t.Errorf("two secrets have the same key id %s", s.KeyID())
	}
}

func TestSealBinding(t *testing.T) {
	s1, s2 := testSecret("secret one"), testSecret("secret two")
	s := newTestSealer(t, s1, s2)
	sealed, err := s.Seal("wxapp", "openid-1", testSessionKey)
	if err != nil {
		t.Fatal(err)
	}
	// A value sealed under s2 (held by s as old) relabelled with s1's id,
	// and s1's value relabelled with s2's id: the key id is bound too.
	byS2, _ := newTestSealer(t, s2).Seal("wxapp", "openid-1", testSessionKey)
	s2ID := strings.Split(byS2, ".")[1]
	relabelled := "v2." + s2ID + "." + strings.Split(sealed, ".")[2]
	tampered := []byte(sealed)
	tampered[len(tampered)-5] ^= 1
	for name, value := range map[string]string{
		"relabelled key id": relabelled,
		"version v3":        "v3" + sealed[2:],
		"no version":        strings.TrimPrefix(sealed, "v2."),
		"unknown key id":    "v2.AAAAAAAA." + strings.Split(sealed, ".")[2],
		"tampered":          string(tampered),
		"truncated":         sealed[:40],
		"empty payload":     "v2." + s.KeyID() + ".",
		"payload not b64":   "v2." + s.KeyID() + ".!!!!",
		"short key id":      "v2.abc." + strings.Split(sealed, ".")[2],
		"not base64":        "!!!",
		"empty":             "",
	} {
		if got, err := s.Open("wxapp", "openid-1", value); !errors.Is(err, token.ErrSealed) || got != "" {
			t.Errorf("%s: Open = %q, %v; want ErrSealed", name, got, err)
		}
	}
	for name, open := range map[string]func() (string, error){
		"other appid":  func() (string, error) { return s.Open("wxother", "openid-1", sealed) },
		"other openid": func() (string, error) { return s.Open("wxapp", "openid-2", sealed) },
		// The separator is bound too: "wxapp"+"\x00"+"x" is not "wxapp\x00"+"x".
		"shifted split": func() (string, error) { return s.Open("wxap", "p\x00openid-1", sealed) },
		"other secret":  func() (string, error) { return newTestSealer(t, testSecret("x")).Open("wxapp", "openid-1", sealed) },
	} {
		if got, err := open(); !errors.Is(err, token.ErrSealed) || got != "" {
			t.Errorf("%s: Open = %q, %v; want ErrSealed", name, got, err)
		}
	}
}

// TestSealRotation follows the documented rotation: values sealed under
// the secret S1 open on a Sealer with S2 as current and S1 as old, and
// stop opening when S1 is dropped; the Sealer only ever seals under its
// current secret.
func TestSealRotation(t *testing.T) {
	s1, s2 := testSecret("rotation S1"), testSecret("rotation S2")
	before := newTestSealer(t, s1)
	sealedS1, _ := before.Seal("wxapp", "openid-1", testSessionKey)

	// Step 1: S2 is published (opens) but S1 still seals.
	publish := newTestSealer(t, s1, s2)
	if publish.KeyID() != before.KeyID() {
		t.Errorf("with S2 only in the old list, the key id is %s; want S1's %s", publish.KeyID(), before.KeyID())
	}
	// Step 2: S2 seals, S1 opens.
	after := newTestSealer(t, s2, s1)
	sealedS2, _ := after.Seal("wxapp", "openid-1", testSessionKey)
	if after.KeyID() == before.KeyID() || !strings.HasPrefix(sealedS2, "v2."+after.KeyID()+".") {
		t.Errorf("after the switch, sk %q does not name S2's key id %s", sealedS2, after.KeyID())
	}
	for name, c := range map[string]struct {
		s      *token.Sealer
		sealed string
	}{
		"S1 value on S2+old S1":        {after, sealedS1},
		"S2 value on S1+published S2":  {publish, sealedS2},
		"v1 value on S2+old S1":        {newTestSealer(t, s2, testSecret("wxlogin seal test secret 1")), goldenV1},
		"v1 value on its own secret":   {newTestSealer(t, testSecret("wxlogin seal test secret 1")), goldenV1},
		"golden v2 value":              {newTestSealer(t, s2, testSecret("wxlogin seal test secret 1")), goldenV2},
		"S2 value on S2 (old dropped)": {newTestSealer(t, s2), sealedS2},
	} {
		if got, err := c.s.Open("wxapp", "openid-1", c.sealed); err != nil || got != testSessionKey {
			t.Errorf("%s: Open = %q, %v; want the session_key", name, got, err)
		}
	}
	// Step 3: S1 dropped: its values no longer open, in either format.
	dropped := newTestSealer(t, s2)
	for name, sealed := range map[string]string{"v2 under S1": sealedS1, "v1 under another secret": goldenV1} {
		if _, err := dropped.Open("wxapp", "openid-1", sealed); !errors.Is(err, token.ErrSealed) {
			t.Errorf("%s on S2 alone: err = %v; want ErrSealed", name, err)
		}
	}
	if _, err := newTestSealer(t, testSecret("wxlogin seal test secret 1")).Open("wxapp", "openid-2", goldenV1); !errors.Is(err, token.ErrSealed) {
		t.Errorf("v1 value for another openid: err = %v; want ErrSealed", err)
	}
}

func TestNewSealerSecrets(t *testing.T) {
	good := testSecret("good")
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := token.NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer(%d bytes) succeeded; want an error", n)
		}
		if _, err := token.NewSealer(good, make([]byte, n)); err == nil || !strings.Contains(err.Error(), "old") {
			t.Errorf("NewSealer(good, old of %d bytes) = %v; want an error naming the old secret", n, err)
		}
	}
	// The current secret listed again as old is harmless.
	s, err := token.NewSealer(good, good, testSecret("other"))
	if err != nil {
		t.Fatalf("current secret repeated in old: %v", err)
	}
	sealed, _ := s.Seal("wxapp", "o", testSessionKey)
	if got, err := s.Open("wxapp", "o", sealed); err != nil || got != testSessionKey {
		t.Errorf("Open = %q, %v", got, err)
	}
}

// BenchmarkSeal measures one Seal and one Open of a session_key: the
// sealing part of a login's cost (compare BenchmarkES256Sign in handlers).
func BenchmarkSeal(b *testing.B) {
	s := newTestSealer(b, testSecret("bench"), testSecret("bench old"))
	b.ReportAllocs()
	for b.Loop() {
		v, err := s.Seal("wxapp", "oBenchUser000000000000000000", testSessionKey)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Open("wxapp", "oBenchUser000000000000000000", v); err != nil {
			b.Fatal(err)
		}
	}
}
