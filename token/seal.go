package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// SecretSize is the length of a session-key secret.
const SecretSize = 32

// ErrSealed is returned when a sealed session_key cannot be opened: it was
// altered, sealed under a secret this Sealer does not hold, or bound to
// another appid or openid.
var ErrSealed = errors.New("token: sealed session_key does not open")

// Sealer encrypts WeChat session_keys for the sk claim, and opens them.
//
// It seals with XChaCha20-Poly1305 under the current secret, with a fresh
// random 192-bit nonce per value: random nonces that long may be drawn
// for about 2^80 values under one secret before a repeat becomes a real
// risk, so no deployment reaches the limit (see docs/sealing.md). A value
// reads "v2.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>": the version
// lets the format change again, and the key id names the secret that
// opens it, so that old secrets kept after a rotation still open what
// they sealed. The encryption key and the key id are both derived from
// the secret with HKDF-SHA256. The version, the appid and the openid are
// bound as additional data, so a value copied into another user's token
// does not open.
//
// Values of the first format (no version prefix: AES-256-GCM with a
// random 96-bit nonce, which NIST SP 800-38D limits to 2^32 values per
// key) are still opened, under every secret held, until the tokens that
// carry them expire; they are never made any more.
type Sealer struct {
	current *sealKey
	byID    map[string]*sealKey
	all     []*sealKey // current first: the order v1 values are tried in
}

// sealKey is one secret in both of its uses.
type sealKey struct {
	id     string      // keyIDLen base64url characters
	aead   cipher.AEAD // XChaCha20-Poly1305: v2
	legacy cipher.AEAD // AES-256-GCM: v1, open only
}

const (
	// sealPrefix starts every value of the current format. A v1 value is
	// plain base64url and never holds a dot.
	sealPrefix = "v2."
	// keyIDLen is the key id's length: 6 bytes, base64url.
	keyIDLen = 8
	// sealVersionV1 and sealVersionV2 start the additional data of each
	// format, so that one format can never open another's values.
	sealVersionV1 = "wxlogin-sk-v1"
	sealVersionV2 = "wxlogin-sk-v2"
)

// NewSealer returns a Sealer that seals under current and opens values
// sealed under current or any of old (the secrets replaced by a rotation,
// which never seal). Every secret must be SecretSize bytes from
// crypto/rand.
func NewSealer(current []byte, old ...[]byte) (*Sealer, error) {
	s := &Sealer{byID: map[string]*sealKey{}}
	seen := map[string]bool{}
	for i, secret := range append([][]byte{current}, old...) {
		k, err := newSealKey(secret)
		if err != nil {
			if i == 0 {
				return nil, fmt.Errorf("token: %w", err)
			}
			return nil, fmt.Errorf("token: old %w", err)
		}
		if seen[string(secret)] {
			continue // a secret listed twice, or the current one kept as old
		}
		seen[string(secret)] = true
		if _, ok := s.byID[k.id]; ok {
			return nil, errors.New("token: two session-key secrets have the same key id; make a new one")
		}
		s.byID[k.id] = k
		s.all = append(s.all, k)
	}
	s.current = s.all[0]
	return s, nil
}

func newSealKey(secret []byte) (*sealKey, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("session-key secret is %d bytes; want %d", len(secret), SecretSize)
	}
	// Each use of the secret gets its own key, derived with HKDF-SHA256
	// under its own label, so that no key serves two primitives. The v1
	// AES key is the secret itself, as v1 values were sealed.
	aeadKey, err := hkdf.Key(sha256.New, secret, nil, "wxlogin-sk-v2 XChaCha20-Poly1305 key", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	// The key id reveals nothing about the secret: it is HKDF output too.
	id, err := hkdf.Key(sha256.New, secret, nil, "wxlogin-sk key id", 6)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(aeadKey)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, err
	}
	legacy, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealKey{id: b64.EncodeToString(id), aead: aead, legacy: legacy}, nil
}

// KeyID returns the key id of the current secret, as it appears in the
// values it seals (the "v2.<key id>." prefix of an sk claim).
func (s *Sealer) KeyID() string { return s.current.id }

func additionalData(version, appid, openid string) []byte {
	ad := make([]byte, 0, len(version)+len(appid)+len(openid)+2)
	ad = append(ad, version...)
	ad = append(ad, 0)
	ad = append(ad, appid...)
	ad = append(ad, 0)
	return append(ad, openid...)
}

// Seal encrypts sessionKey for the user openid of appid under the current
// secret, with a fresh random nonce.
func (s *Sealer) Seal(appid, openid, sessionKey string) (string, error) {
	k := s.current
	buf := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(sessionKey)+chacha20poly1305.Overhead)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	buf = k.aead.Seal(buf, buf, []byte(sessionKey), additionalData(sealVersionV2, appid, openid))
	return sealPrefix + k.id + "." + b64.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal (or by the first format) for the
// same appid and openid, under any secret this Sealer holds.
func (s *Sealer) Open(appid, openid, sealed string) (string, error) {
	if !strings.Contains(sealed, ".") {
		return s.openV1(appid, openid, sealed)
	}
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok || len(rest) < keyIDLen+1 || rest[keyIDLen] != '.' {
		return "", ErrSealed
	}
	k := s.byID[rest[:keyIDLen]]
	raw, err := sealEncoding.DecodeString(rest[keyIDLen+1:])
	if k == nil || err != nil || len(raw) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return "", ErrSealed
	}
	nonce, ct := raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:]
	pt, err := k.aead.Open(nil, nonce, ct, additionalData(sealVersionV2, appid, openid))
	if err != nil {
		return "", ErrSealed
	}
	return string(pt), nil
}

// sealEncoding decodes sk values strictly: unpadded base64url whose
// unused trailing bits are zero, as Seal writes it, so that a value has
// one spelling only (the same rule as the token's own segments).
var sealEncoding = b64.Strict()

// openV1 opens base64url(nonce ‖ ciphertext ‖ tag) of AES-256-GCM, the
// first format, which names no key: each secret is tried in turn.
func (s *Sealer) openV1(appid, openid, sealed string) (string, error) {
	raw, err := sealEncoding.DecodeString(sealed)
	const ns = 12 // GCM's standard nonce
	if err != nil || len(raw) < ns+16 {
		return "", ErrSealed
	}
	ad := additionalData(sealVersionV1, appid, openid)
	for _, k := range s.all {
		if pt, err := k.legacy.Open(nil, raw[:ns], raw[ns:], ad); err == nil {
			return string(pt), nil
		}
	}
	return "", ErrSealed
}
