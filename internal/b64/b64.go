// Package b64 decodes secrets given as base64 in any of its usual
// spellings.
package b64

import (
	"encoding/base64"
	"errors"
	"strings"
)

// ErrNotBase64 is DecodeString's error. It never holds the input, which
// is a secret.
var ErrNotBase64 = errors.New("not base64")

// DecodeString decodes s, white space around it dropped, as standard or
// URL-safe base64, padded or not: a secret pasted from
// `head -c 32 /dev/urandom | base64`, openssl or a JWK alike.
func DecodeString(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, ErrNotBase64
}
