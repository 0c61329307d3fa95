package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// Signing algorithms, as they appear in a JWS header's alg.
const (
	ES256 = "ES256" // ECDSA on P-256 with SHA-256
	EdDSA = "EdDSA" // Ed25519
)

// Key is one public verification key with its JOSE names.
type Key struct {
	KID    string           // RFC 7638 JWK thumbprint (SHA-256, base64url)
	Alg    string           // ES256 or EdDSA, decided by the key type
	Public crypto.PublicKey // *ecdsa.PublicKey (P-256) or ed25519.PublicKey
}

// NewKey names pub: its algorithm from its type, its kid from its
// RFC 7638 thumbprint. Only P-256 ECDSA and Ed25519 keys are accepted.
func NewKey(pub crypto.PublicKey) (Key, error) {
	jwk, err := publicJWK(pub)
	if err != nil {
		return Key{}, err
	}
	return Key{KID: jwk.KID, Alg: jwk.Alg, Public: pub}, nil
}

// JWK is a public JSON Web Key (RFC 7517) as published in the JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK returns k as a JSON Web Key.
func (k Key) JWK() JWK {
	j, _ := publicJWK(k.Public) // k was checked by NewKey
	return j
}

var b64 = base64.RawURLEncoding

func publicJWK(pub crypto.PublicKey) (JWK, error) {
	var j JWK
	var thumb []byte
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return JWK{}, errors.New("token: ECDSA key is not on curve P-256")
		}
		raw, err := p.Bytes() // 0x04 ‖ X ‖ Y, each 32 bytes
		if err != nil {
			return JWK{}, errors.New("token: invalid ECDSA public key")
		}
		x, y := raw[1:33], raw[33:65]
		j = JWK{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(x), Y: b64.EncodeToString(y), Alg: ES256}
		// RFC 7638: the required members in lexicographic order, no spaces.
		thumb = fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, j.X, j.Y)
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return JWK{}, errors.New("token: Ed25519 key has the wrong size")
		}
		j = JWK{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(p), Alg: EdDSA}
		thumb = fmt.Appendf(nil, `{"crv":"Ed25519","kty":"OKP","x":%q}`, j.X)
	default:
		return JWK{}, fmt.Errorf("token: unsupported key type %T (want EC P-256 or Ed25519)", pub)
	}
	sum := sha256.Sum256(thumb)
	j.KID = b64.EncodeToString(sum[:])
	j.Use = "sig"
	return j, nil
}

// algOf returns the one algorithm pub may verify: ES256 for a P-256
// ECDSA key, EdDSA for an Ed25519 key. Any other key is refused.
func algOf(pub crypto.PublicKey) (string, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P256() {
			return ES256, nil
		}
	case ed25519.PublicKey:
		if len(p) == ed25519.PublicKeySize {
			return EdDSA, nil
		}
	}
	return "", fmt.Errorf("token: unsupported key type %T (want EC P-256 or Ed25519)", pub)
}

// ParsePrivateKey reads one PEM private key (PKCS#8, or SEC 1 "EC PRIVATE
// KEY") and returns it as a signer with its algorithm. Errors never quote
// the key material.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, string, error) {
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return nil, "", errors.New("not a PEM block")
	}
	if p, _ := pem.Decode(rest); p != nil {
		return nil, "", errors.New("holds more than one PEM block; want exactly one private key")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, "", fmt.Errorf("PEM block is %q; want \"PRIVATE KEY\" (PKCS#8) or \"EC PRIVATE KEY\"", block.Type)
	}
	if err != nil {
		return nil, "", errors.New("PEM block does not hold a valid private key")
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, "", errors.New("ECDSA key is not on curve P-256 (ES256 needs P-256)")
		}
		return k, ES256, nil
	case ed25519.PrivateKey:
		return k, EdDSA, nil
	default:
		return nil, "", fmt.Errorf("key type %T is not supported; want EC P-256 or Ed25519", key)
	}
}

// ParsePublicKeys reads every PEM block in pemBytes as a public key
// ("PUBLIC KEY", PKIX) and names each with NewKey.
func ParsePublicKeys(pemBytes []byte) ([]Key, error) {
	var keys []Key
	rest := pemBytes
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %d is %q; want \"PUBLIC KEY\"", len(keys)+1, block.Type)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d is not a valid public key", len(keys)+1)
		}
		k, err := NewKey(pub)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return keys, nil
}

// GenerateKey makes a new signing key for alg (ES256 or EdDSA) from
// crypto/rand and returns it PKCS#8 PEM-encoded.
func GenerateKey(alg string) ([]byte, error) {
	var key any
	var err error
	switch alg {
	case ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("token: unknown algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKey returns pub PKIX PEM-encoded, the form
// WXLOGIN_VERIFY_KEYS takes.
func EncodePublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// MarshalJWKS returns the JSON Web Key Set of keys.
func MarshalJWKS(keys []Key) ([]byte, error) {
	set := JWKS{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.JWK())
	}
	return json.Marshal(set)
}
