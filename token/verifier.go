package token

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize bounds the length of a token the Verifier will look at; a
// wxlogin token is well under 1 KiB.
const MaxTokenSize = 4096

// Reasons a token is refused. Every error from Verify wraps ErrInvalid
// and one of these, so callers can count failures by reason.
var (
	ErrInvalid     = errors.New("token: invalid")
	ErrMalformed   = errors.New("token: malformed")
	ErrUnknownKey  = errors.New("token: unknown key")
	ErrSignature   = errors.New("token: bad signature")
	ErrExpired     = errors.New("token: expired")
	ErrNotYetValid = errors.New("token: not valid yet")
	ErrIssuer      = errors.New("token: wrong issuer")
	ErrAudience    = errors.New("token: wrong audience")
)

// Reason returns a short name for why err refused a token ("expired",
// "signature", …), for metrics and logs; "other" when it cannot tell.
func Reason(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{ErrMalformed, "malformed"}, {ErrUnknownKey, "unknown_key"}, {ErrSignature, "signature"},
		{ErrExpired, "expired"}, {ErrNotYetValid, "not_yet_valid"}, {ErrIssuer, "issuer"},
		{ErrAudience, "audience"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

// VerifierConfig holds what a Verifier checks.
type VerifierConfig struct {
	Keys     []Key            // every key a token may be signed with
	Issuer   string           // required iss
	Audience string           // required aud
	Leeway   time.Duration    // clock skew allowed on exp and nbf; 30s when zero, none when negative
	Now      func() time.Time // time.Now when nil
}

// Verifier checks wxlogin tokens offline. It is safe for concurrent use.
type Verifier struct {
	keys   map[string]Key
	parser *jwt.Parser
}

// NewVerifier returns a Verifier that accepts tokens signed by one of
// cfg.Keys with that key's algorithm, issued by cfg.Issuer for
// cfg.Audience, and unexpired.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("token: verifier needs at least one key")
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("token: verifier needs issuer and audience")
	}
	v := &Verifier{keys: make(map[string]Key, len(cfg.Keys))}
	algs := map[string]bool{}
	for _, k := range cfg.Keys {
		if _, err := NewKey(k.Public); err != nil {
			return nil, err
		}
		v.keys[k.KID] = k
		algs[k.Alg] = true
	}
	var methods []string
	for a := range algs {
		methods = append(methods, a)
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	} else if leeway < 0 {
		leeway = 0
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Verify checks tokenString and returns its claims. Errors wrap ErrInvalid
// and a reason (see Reason); they never quote the token.
func (v *Verifier) Verify(tokenString string) (*Claims, error) {
	if len(tokenString) > MaxTokenSize || strings.Count(tokenString, ".") != 2 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, ErrMalformed)
	}
	c := &Claims{}
	_, err := v.parser.ParseWithClaims(tokenString, c, v.keyFor)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, classifyJWT(err))
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, ErrMalformed)
	}
	return c, nil
}

// keyFor pins the algorithm to the key: a token must name a known kid and
// use exactly that key's algorithm, so no key can be misused with another.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	k, ok := v.keys[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	if t.Method.Alg() != k.Alg {
		return nil, ErrSignature
	}
	return k.Public, nil
}

func classifyJWT(err error) error {
	switch {
	case errors.Is(err, ErrUnknownKey):
		return ErrUnknownKey
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ErrIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ErrAudience
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, ErrSignature):
		return ErrSignature
	default:
		return ErrMalformed
	}
}
