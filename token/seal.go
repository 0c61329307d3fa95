package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// SecretSize is the length of the session-key secret: an AES-256 key.
const SecretSize = 32

// ErrSealed is returned when a sealed session_key cannot be opened: it was
// altered, sealed under another secret, or bound to another appid or openid.
var ErrSealed = errors.New("token: sealed session_key does not open")

// Sealer encrypts WeChat session_keys for the sk claim with AES-256-GCM.
// The appid and openid are bound as additional data, so a sealed value
// copied into another user's token does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer keyed by secret, which must be SecretSize
// bytes from crypto/rand.
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("token: session-key secret is %d bytes; want %d", len(secret), SecretSize)
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// sealVersion prefixes the additional data, so that a future format can
// never open today's values by accident.
const sealVersion = "wxlogin-sk-v1"

func additionalData(appid, openid string) []byte {
	ad := make([]byte, 0, len(sealVersion)+len(appid)+len(openid)+2)
	ad = append(ad, sealVersion...)
	ad = append(ad, 0)
	ad = append(ad, appid...)
	ad = append(ad, 0)
	return append(ad, openid...)
}

// Seal encrypts sessionKey for the user openid of appid and returns
// base64url(nonce ‖ ciphertext ‖ tag), with a fresh random nonce.
func (s *Sealer) Seal(appid, openid, sessionKey string) (string, error) {
	ns := s.aead.NonceSize()
	buf := make([]byte, ns, ns+len(sessionKey)+s.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	buf = s.aead.Seal(buf, buf[:ns], []byte(sessionKey), additionalData(appid, openid))
	return b64.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal for the same appid and openid.
func (s *Sealer) Open(appid, openid, sealed string) (string, error) {
	raw, err := b64.DecodeString(sealed)
	ns := s.aead.NonceSize()
	if err != nil || len(raw) < ns+s.aead.Overhead() {
		return "", ErrSealed
	}
	pt, err := s.aead.Open(nil, raw[:ns], raw[ns:], additionalData(appid, openid))
	if err != nil {
		return "", ErrSealed
	}
	return string(pt), nil
}
