package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wxlogin/wxlogin/token"
)

// Issue encodes the header once, at construction, and the claims itself.
// The signing input must stay byte for byte what golang-jwt's
// Token.SigningString makes of the same header and claims, and the
// signature must verify with golang-jwt's method.
func TestIssueSigningInputIsGolangJWTs(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		key    crypto.Signer
		method jwt.SigningMethod
	}{
		{"ES256", ecKey, jwt.SigningMethodES256},
		{"EdDSA", edKey, jwt.SigningMethodEdDSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := make([]byte, token.SecretSize)
			rand.Read(secret)
			sealer, err := token.NewSealer(secret)
			if err != nil {
				t.Fatal(err)
			}
			iss, err := token.NewIssuer(token.IssuerConfig{
				Key: tc.key, Issuer: "https://login.example.com", Audience: "wxaud", AppID: "wxapp",
				TTL: time.Hour, Sealer: sealer,
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, unionid := range []string{"", "uUnion"} {
				is, err := iss.Issue("oOpen", unionid, "c2Vzc2lvbmtleTEyMzQ1Ng==")
				if err != nil {
					t.Fatal(err)
				}
				want := jwt.NewWithClaims(tc.method, is.Claims)
				want.Header["kid"] = iss.Key().KID
				wantInput, err := want.SigningString()
				if err != nil {
					t.Fatal(err)
				}
				dot := strings.LastIndexByte(is.Token, '.')
				if got := is.Token[:dot]; got != wantInput {
					t.Errorf("signing input\n got %s\nwant %s", got, wantInput)
				}
				sig, err := base64.RawURLEncoding.DecodeString(is.Token[dot+1:])
				if err != nil {
					t.Fatal(err)
				}
				if err := tc.method.Verify(is.Token[:dot], sig, tc.key.Public()); err != nil {
					t.Errorf("signature does not verify: %v", err)
				}
			}
		})
	}
}
