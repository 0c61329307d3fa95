package token_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wxlogin/wxlogin/token"
)

// coreIssuer returns an Issuer and a Verifier for alg with a fixed clock.
func coreIssuer(t testing.TB, alg string, now time.Time) (*token.Issuer, *token.Verifier) {
	t.Helper()
	pemKey, err := token.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	signer, gotAlg, err := token.ParsePrivateKey(pemKey)
	if err != nil || gotAlg != alg {
		t.Fatalf("ParsePrivateKey: alg %q, err %v; want %s", gotAlg, err, alg)
	}
	secret := make([]byte, token.SecretSize)
	rand.Read(secret)
	sealer, err := token.NewSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	iss, err := token.NewIssuer(token.IssuerConfig{
		Key: signer, Issuer: "https://login.example.com", Audience: "wxaud", AppID: "wxapp",
		TTL: 2 * time.Hour, Sealer: sealer, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier(token.VerifierConfig{
		Keys: []token.Key{iss.Key()}, Issuer: "https://login.example.com", Audience: "wxaud", Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return iss, v
}

func TestIssueClaims(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, alg := range []string{token.ES256, token.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			iss, v := coreIssuer(t, alg, now)
			got, err := iss.Issue("openid-1", "unionid-1", "c2Vzc2lvbmtleTEyMzQ1Ng==")
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(got.Token, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d parts, want 3", len(parts))
			}
			var header map[string]any
			raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
			if err := json.Unmarshal(raw, &header); err != nil {
				t.Fatal(err)
			}
			if header["alg"] != alg || header["typ"] != "JWT" || header["kid"] != iss.Key().KID {
				t.Errorf("header = %v, want alg %s, typ JWT, kid %s", header, alg, iss.Key().KID)
			}
			var claims map[string]any
			raw, _ = base64.RawURLEncoding.DecodeString(parts[1])
			if err := json.Unmarshal(raw, &claims); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"iss": "https://login.example.com", "sub": "openid-1", "appid": "wxapp", "unionid": "unionid-1",
				"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(2 * time.Hour).Unix()),
			}
			for k, w := range want {
				if claims[k] != w {
					t.Errorf("claim %s = %v, want %v", k, claims[k], w)
				}
			}
			if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != "wxaud" {
				t.Errorf("aud = %v, want [wxaud]", claims["aud"])
			}
			if jti, _ := claims["jti"].(string); len(jti) < 20 {
				t.Errorf("jti = %q, want a random id", jti)
			}
			c, err := v.Verify(got.Token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			sk, err := iss.OpenSessionKey(c)
			if err != nil || sk != "c2Vzc2lvbmtleTEyMzQ1Ng==" {
				t.Errorf("OpenSessionKey = %q, %v; want the session_key back", sk, err)
			}
		})
	}
}

func TestJTIUnique(t *testing.T) {
	iss, _ := coreIssuer(t, token.ES256, time.Now())
	seen := map[string]bool{}
	for range 200 {
		got, err := iss.Issue("o", "", "k")
		if err != nil {
			t.Fatal(err)
		}
		if seen[got.Claims.ID] {
			t.Fatalf("jti %q repeated", got.Claims.ID)
		}
		seen[got.Claims.ID] = true
	}
}

// TestSealedSessionKeyGolden checks that the sk claim never holds the
// session_key in any encoding, and opens only for its own appid and openid.
func TestSealedSessionKeyGolden(t *testing.T) {
	rawKey := make([]byte, 16)
	rand.Read(rawKey)
	sessionKey := base64.StdEncoding.EncodeToString(rawKey) // as WeChat sends it
	secret := make([]byte, token.SecretSize)
	rand.Read(secret)
	s, err := token.NewSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("wxapp", "openid-1", sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.Seal("wxapp", "openid-1", sessionKey)
	if sealed == again {
		t.Error("two seals of one session_key are equal; the nonce must be fresh")
	}
	payload := sealed[strings.LastIndexByte(sealed, '.')+1:]
	decoded, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatalf("sk payload is not base64url: %v", err)
	}
	encodings := map[string][]byte{
		"as sent":   []byte(sessionKey),
		"raw":       rawKey,
		"hex":       []byte(hex.EncodeToString(rawKey)),
		"base64url": []byte(base64.RawURLEncoding.EncodeToString(rawKey)),
		"raw b64":   []byte(base64.RawStdEncoding.EncodeToString(rawKey)),
	}
	for name, enc := range encodings {
		if bytes.Contains([]byte(sealed), enc) || bytes.Contains(decoded, enc) {
			t.Errorf("sk contains the session_key %s", name)
		}
	}
	if got, err := s.Open("wxapp", "openid-1", sealed); err != nil || got != sessionKey {
		t.Fatalf("Open = %q, %v; want the session_key", got, err)
	}
	other, _ := token.NewSealer(bytes.Repeat([]byte{7}, token.SecretSize))
	tampered := []byte(sealed)
	tampered[len(tampered)/2] ^= 1
	for name, open := range map[string]func() (string, error){
		"other appid":  func() (string, error) { return s.Open("wxother", "openid-1", sealed) },
		"other openid": func() (string, error) { return s.Open("wxapp", "openid-2", sealed) },
		"other secret": func() (string, error) { return other.Open("wxapp", "openid-1", sealed) },
		"tampered":     func() (string, error) { return s.Open("wxapp", "openid-1", string(tampered)) },
		"truncated":    func() (string, error) { return s.Open("wxapp", "openid-1", sealed[:10]) },
		"not base64":   func() (string, error) { return s.Open("wxapp", "openid-1", "!!!") },
	} {
		if got, err := open(); !errors.Is(err, token.ErrSealed) || got != "" {
			t.Errorf("%s: Open = %q, %v; want ErrSealed", name, got, err)
		}
	}
}

func TestKIDIsRFC7638Thumbprint(t *testing.T) {
	// The example key of RFC 7638 section 3.1 is RSA; this checks an EC key
	// against a thumbprint computed independently with the same rules.
	pemKey, _ := token.GenerateKey(token.ES256)
	signer, _, _ := token.ParsePrivateKey(pemKey)
	k, err := token.NewKey(signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	j := k.JWK()
	canon := `{"crv":"P-256","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	if want := thumb(canon); k.KID != want {
		t.Errorf("kid = %s, want %s", k.KID, want)
	}
	if len(j.X) != 43 || len(j.Y) != 43 {
		t.Errorf("x, y are %d and %d characters; want 43 (32 bytes, padded)", len(j.X), len(j.Y))
	}
}

func BenchmarkIssue(b *testing.B) {
	for _, alg := range []string{token.ES256, token.EdDSA} {
		b.Run(alg, func(b *testing.B) {
			iss, _ := coreIssuer(b, alg, time.Now())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iss.Issue("oAbcdefghijklmnopqrstuvwxyz0", "", "c2Vzc2lvbmtleTEyMzQ1Ng=="); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
func thumb(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestTokenHasOneSpelling flips a padding bit of the signature's last
// base64url character: lenient decoders read the same bytes, but the
// token must be refused, so that one token has exactly one string.
func TestTokenHasOneSpelling(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, alg := range []string{token.ES256, token.EdDSA} {
		iss, v := coreIssuer(t, alg, time.Now())
		got, err := iss.Issue("o", "", "k")
		if err != nil {
			t.Fatal(err)
		}
		last := strings.IndexByte(alphabet, got.Token[len(got.Token)-1])
		variant := got.Token[:len(got.Token)-1] + string(alphabet[last^1])
		sig := variant[strings.LastIndexByte(variant, '.')+1:]
		if b1, b2 := mustB64(t, got.Token[strings.LastIndexByte(got.Token, '.')+1:]), mustB64Lenient(sig); !bytes.Equal(b1, b2) {
			t.Fatalf("%s: the variant decodes to other bytes; the test is wrong", alg)
		}
		if _, err := v.Verify(variant); err == nil {
			t.Errorf("%s: a non-canonical spelling of a valid token verified", alg)
		}
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustB64Lenient(s string) []byte {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	return b
}
