package claims

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wxlogin/wxlogin/internal/b64"
)

// SignatureHeader is the header that carries a request's signature:
//
//	Wxlogin-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(key, "<t>.<body>")>
const SignatureHeader = "Wxlogin-Signature"

// RequestIDHeader carries the id of the wxlogin request that caused a
// hook call, so that the hook's logs join wxlogin's. It is not signed.
const RequestIDHeader = "X-Request-Id"

// DefaultTolerance is how old a signature's timestamp may be before a
// Verifier refuses it: a captured request cannot be replayed later.
const DefaultTolerance = 5 * time.Minute

// maxFutureSkew is how far ahead of the verifier's clock a timestamp may
// be: clocks differ a little, but a signature from the future is a
// replay window that never started.
const maxFutureSkew = time.Minute

// MinKeySize is the shortest HMAC key the protocol accepts, in bytes.
const MinKeySize = 32

// Errors of verifying a request's signature. A hook answers a request
// that fails with any of them with 400 or 401 and never acts on it.
var (
	// ErrNotSigned: the request has no Wxlogin-Signature header.
	ErrNotSigned = errors.New("claims: request not signed")
	// ErrInvalidHeader: the header is not t=<unix>,v1=<hex>.
	ErrInvalidHeader = errors.New("claims: malformed signature header")
	// ErrNoValidSignature: no v1 signature in the header matches the body.
	ErrNoValidSignature = errors.New("claims: signature does not match")
	// ErrTooOld: the timestamp is older than the tolerance.
	ErrTooOld = errors.New("claims: signature timestamp too old")
	// ErrTooNew: the timestamp is more than a minute ahead of the clock.
	ErrTooNew = errors.New("claims: signature timestamp in the future")
	// ErrShortKey: the Verifier has no key, or one shorter than
	// MinKeySize; most often the hook's secret is not configured. Such a
	// key would let anyone sign, so nothing verifies.
	ErrShortKey = errors.New("claims: verifier key missing or shorter than 32 bytes")
)

// Sign returns the Wxlogin-Signature header value of body signed with
// key at time t.
func Sign(key, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(key, ts, body))
}

func mac(key []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// DecodeKey decodes the shared secret as configured on both sides
// (WXLOGIN_CLAIMS_SECRET): base64, standard or URL-safe, padded or not,
// of at least MinKeySize bytes. Its errors never hold the secret.
func DecodeKey(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errors.New("claims: the secret is not base64")
	}
	if len(b) < MinKeySize {
		return nil, fmt.Errorf("claims: the secret decodes to %d bytes; want at least %d (head -c 32 /dev/urandom | base64)", len(b), MinKeySize)
	}
	return b, nil
}

// Verifier checks signed requests on the hook's side. The zero value
// refuses everything: set Keys.
type Verifier struct {
	// Keys are the HMAC keys a signature may be made with. During a
	// rotation the hook lists the new key and the old one, and wxlogin
	// switches from one to the other.
	Keys [][]byte
	// Tolerance is how old a timestamp may be; DefaultTolerance when
	// zero. A timestamp more than a minute (or Tolerance, if shorter)
	// ahead is refused too.
	Tolerance time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Verify checks that header is a valid signature of body: made with one
// of the keys (compared in constant time), and timed within the
// tolerance. body must be the request body exactly as received.
func (v Verifier) Verify(body []byte, header string) error {
	if len(v.Keys) == 0 {
		return ErrShortKey
	}
	for _, key := range v.Keys {
		if len(key) < MinKeySize {
			return ErrShortKey
		}
	}
	if header == "" {
		return ErrNotSigned
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrInvalidHeader
		}
		switch k {
		case "t":
			if ts != "" {
				return ErrInvalidHeader
			}
			ts = val
		case "v1":
			sig, err := hex.DecodeString(val)
			if err != nil || len(sig) != sha256.Size {
				return ErrInvalidHeader
			}
			sigs = append(sigs, sig)
		}
		// Other schemes are ignored, so that a later wxlogin can send a
		// second signature of a new kind beside v1.
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || unix < 0 || len(sigs) == 0 {
		return ErrInvalidHeader
	}

	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	age := now().Sub(time.Unix(unix, 0))
	if age > tolerance {
		return ErrTooOld
	}
	if -age > min(tolerance, maxFutureSkew) {
		return ErrTooNew
	}

	for _, key := range v.Keys {
		want := mac(key, ts, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return ErrNoValidSignature
}

// ConstructEvent verifies the signature of a request (header is the
// value of its Wxlogin-Signature header) and decodes it. Only a request
// whose signature verifies is decoded.
func (v Verifier) ConstructEvent(body []byte, header string) (Request, error) {
	if err := v.Verify(body, header); err != nil {
		return Request{}, err
	}
	var r Request
	if err := decodeOne(body, &r); err != nil {
		return Request{}, fmt.Errorf("claims: decode request: %w", err)
	}
	return r, nil
}

// ConstructEvent verifies a request signed with key, with the default
// tolerance, and decodes it: the one call most hooks need, as in
//
//	body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
//	req, err := claims.ConstructEvent(body, r.Header.Get(claims.SignatureHeader), key)
func ConstructEvent(body []byte, header string, key []byte) (Request, error) {
	return Verifier{Keys: [][]byte{key}}.ConstructEvent(body, header)
}
