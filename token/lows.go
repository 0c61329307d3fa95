package token

import (
	"crypto/elliptic"
	"errors"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
)

// ECDSA accepts a signature (r, s) and its twin (r, n−s) alike, so every
// ES256 token has a second spelling that verifies: the same header and
// claims with the signature's tail rewritten. wxlogin signs only the
// "low-s" twin (s ≤ n/2, the rule Bitcoin adopted in BIP 146 for the
// same reason) and its Verifier refuses the other, so that one token has
// one spelling and nothing keyed by the token string can be sidestepped.

// p256Order is n, the order of P-256; p256HalfOrder is n/2.
var (
	p256Order     = elliptic.P256().Params().N
	p256HalfOrder = new(big.Int).Rsh(p256Order, 1)
)

// es256Size is the size of an ES256 signature: r ‖ s, 32 bytes each.
const es256Size = 64

// highS reports whether sig is an ES256 signature in its high-s spelling.
func highS(sig []byte) bool {
	if len(sig) != es256Size {
		return false
	}
	return new(big.Int).SetBytes(sig[32:]).Cmp(p256HalfOrder) > 0
}

// toLowS rewrites an ES256 signature in place to its low-s spelling.
func toLowS(sig []byte) {
	if !highS(sig) {
		return
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(p256Order, s).FillBytes(sig[32:])
}

// errHighS refuses an ES256 signature in its high-s spelling.
var errHighS = errors.New("token: ES256 signature is not in its low-s form")

// SigningMethodES256 is golang-jwt's ES256 as wxlogin uses it: Sign
// always gives the low-s spelling of the signature, and Verify refuses
// the high-s one. Tests and tools that sign tokens "as wxlogin does" use
// it in place of jwt.SigningMethodES256, whose signatures are high-s half
// the time and therefore refused by a Verifier.
var SigningMethodES256 jwt.SigningMethod = lowSMethod{jwt.SigningMethodES256}

type lowSMethod struct{ *jwt.SigningMethodECDSA }

// Sign signs with ES256 and returns the low-s spelling of the signature.
func (m lowSMethod) Sign(signingString string, key any) ([]byte, error) {
	sig, err := m.SigningMethodECDSA.Sign(signingString, key)
	if err != nil {
		return nil, err
	}
	toLowS(sig)
	return sig, nil
}

// Verify checks an ES256 signature and refuses its high-s spelling.
func (m lowSMethod) Verify(signingString string, sig []byte, key any) error {
	if highS(sig) {
		return errHighS
	}
	return m.SigningMethodECDSA.Verify(signingString, sig, key)
}
