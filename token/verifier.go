package token

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize bounds the length of a token the Verifier will look at. A
// wxlogin token is well under 1 KiB, but a claims hook may add up to
// 4 KiB of claims (claims.MaxClaimsSize), some 5.5 KiB once in base64url.
const MaxTokenSize = 8192

// Reasons a token is refused. Every error from Verify wraps ErrInvalid
// and one of these, so callers can count failures by reason.
var (
	ErrInvalid     = errors.New("token: invalid")
	ErrMissing     = errors.New("token: missing")
	ErrMalformed   = errors.New("token: malformed")
	ErrUnknownKey  = errors.New("token: unknown key")
	ErrSignature   = errors.New("token: bad signature")
	ErrExpired     = errors.New("token: expired")
	ErrNotYetValid = errors.New("token: not valid yet")
	ErrIssuer      = errors.New("token: wrong issuer")
	ErrAudience    = errors.New("token: wrong audience")
)

// reasons names each reason a token is refused, for Reason and Reasons.
var reasons = []struct {
	err  error
	name string
}{
	{ErrMissing, "missing"}, {ErrMalformed, "malformed"}, {ErrUnknownKey, "unknown_key"},
	{ErrSignature, "signature"}, {ErrExpired, "expired"}, {ErrNotYetValid, "not_yet_valid"},
	{ErrIssuer, "issuer"}, {ErrAudience, "audience"},
}

// Reason returns a short name for why err refused a token ("expired",
// "signature", …), for metrics and logs; "other" when it cannot tell.
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

// Reasons returns every name Reason can return, "other" last.
func Reasons() []string {
	names := make([]string, 0, len(reasons)+1)
	for _, r := range reasons {
		names = append(names, r.name)
	}
	return append(names, "other")
}

// VerifierConfig holds what a Verifier checks. Set exactly one of Keys
// (static public keys, as the wxlogin server itself uses) and JWKSURL
// (the keys a running wxlogin publishes, as downstream services use).
type VerifierConfig struct {
	// Keys are every key a token may be signed with.
	Keys []Key
	// JWKSURL is where to fetch the keys from, usually
	// JWKSURL(issuer). They are fetched once by NewVerifier, again every
	// RefreshInterval in the background, and again when a token names a
	// key the set does not hold, at most once per RefetchInterval.
	JWKSURL string
	// HTTPClient fetches JWKSURL; a client with a 10s timeout when nil.
	HTTPClient *http.Client
	// RefreshInterval is how often JWKSURL is fetched in the background;
	// KeysMaxAge when zero.
	RefreshInterval time.Duration
	// RefetchInterval is the least time between two fetches of JWKSURL
	// caused by tokens with an unknown kid; 30s when zero.
	RefetchInterval time.Duration
	// Logger receives failures to fetch JWKSURL; slog.Default() when nil.
	Logger *slog.Logger

	// Issuer is the required iss, byte for byte.
	Issuer string
	// Audience and Audiences are the audiences accepted: a token's aud
	// must hold at least one of them. A backend for several mini programs
	// lists each app's audience; one for a single app names that alone.
	Audience  string
	Audiences []string

	Leeway time.Duration    // clock skew allowed on exp and nbf; 30s when zero, none when negative
	Now    func() time.Time // time.Now when nil

	// AcceptHighSBefore is the transition for ES256 tokens signed before
	// wxlogin gave every signature in its low-s form: a token whose
	// signature is in the high-s form is accepted only when its iat is
	// before this instant. Zero (the default) refuses every high-s
	// signature. Set it to a time by which every wxlogin replica signs
	// low-s (the end of the rollout); it stops mattering one token
	// lifetime later, when the last token issued before it expires.
	AcceptHighSBefore time.Time
}

// keySource finds the public key a token names, and refuses it unless the
// token's alg is the one algorithm that key is for.
type keySource interface {
	key(ctx context.Context, kid, alg string) (crypto.PublicKey, error)
}

// Verifier checks wxlogin tokens offline. It is safe for concurrent use.
type Verifier struct {
	keys      keySource
	parser    *jwt.Parser
	now       func() time.Time
	stop      func()
	highSTill time.Time // see VerifierConfig.AcceptHighSBefore
}

// NewVerifier returns a Verifier that accepts tokens signed by one of
// cfg.Keys (or a key of the set at cfg.JWKSURL) with that key's
// algorithm, issued by cfg.Issuer for one of cfg.Audience and
// cfg.Audiences, and unexpired.
//
// With JWKSURL, NewVerifier waits up to 10s for the first fetch; when it
// fails, the Verifier still starts, logs the failure, and fetches again
// when the first token arrives. Call Close to stop the background refresh.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if len(cfg.Keys) == 0 && cfg.JWKSURL == "" {
		return nil, errors.New("token: verifier needs keys or a JWKS URL")
	}
	if len(cfg.Keys) > 0 && cfg.JWKSURL != "" {
		return nil, errors.New("token: verifier takes keys or a JWKS URL, not both")
	}
	var audiences []string
	for _, a := range append([]string{cfg.Audience}, cfg.Audiences...) {
		if a != "" && !slices.Contains(audiences, a) {
			audiences = append(audiences, a)
		}
	}
	if cfg.Issuer == "" || len(audiences) == 0 {
		return nil, errors.New("token: verifier needs issuer and audience")
	}
	v := &Verifier{now: cfg.Now, stop: func() {}, highSTill: cfg.AcceptHighSBefore}
	if v.now == nil {
		v.now = time.Now
	}
	var methods []string
	if cfg.JWKSURL != "" {
		r, err := newRemoteKeys(cfg)
		if err != nil {
			return nil, err
		}
		v.keys, v.stop = r, r.close
		methods = []string{ES256, EdDSA}
	} else {
		keys := make(staticKeys, len(cfg.Keys))
		algs := map[string]bool{}
		for _, k := range cfg.Keys {
			named, err := NewKey(k.Public)
			if err != nil {
				return nil, err
			}
			if k.Alg != "" && k.Alg != named.Alg {
				return nil, fmt.Errorf("token: key %s says alg %s but is an %s key", k.KID, k.Alg, named.Alg)
			}
			if k.KID != "" {
				named.KID = k.KID
			}
			keys[named.KID] = named
			algs[named.Alg] = true
		}
		for a := range algs {
			methods = append(methods, a)
		}
		v.keys = keys
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	} else if leeway < 0 {
		leeway = 0
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(audiences...), // any one of them
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(v.now),
		// Refuse non-canonical base64url (set padding bits) and, below,
		// the high-s twin of an ES256 signature (lows.go), so that one
		// token has exactly one spelling: anything keyed by the token
		// string, such as the cache or a deny-list, cannot be sidestepped.
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Close stops fetching the JWKS in the background. Verify keeps working
// with the keys already fetched. Close is a no-op for static keys.
func (v *Verifier) Close() { v.stop() }

// Verify checks tokenString and returns its claims. Errors wrap ErrInvalid
// and a reason (see Reason); they never quote the token.
func (v *Verifier) Verify(tokenString string) (*Claims, error) {
	return v.VerifyContext(context.Background(), tokenString)
}

// VerifyContext is Verify with a context that bounds a fetch of the JWKS
// for a token that names an unknown key. Such a fetch never takes more
// than a few seconds, whatever ctx allows.
func (v *Verifier) VerifyContext(ctx context.Context, tokenString string) (*Claims, error) {
	if len(tokenString) > MaxTokenSize || strings.Count(tokenString, ".") != 2 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, ErrMalformed)
	}
	c := &Claims{}
	t, err := v.parser.ParseWithClaims(tokenString, c, func(t *jwt.Token) (any, error) {
		// Pin the algorithm to the key: a token must name a known kid and
		// use exactly that key's algorithm, so no key is ever used with an
		// algorithm (HMAC, none, another curve) it was not made for.
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 4.1.11: no extension is understood here.
			return nil, ErrMalformed
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, ErrUnknownKey
		}
		return v.keys.key(ctx, kid, t.Method.Alg())
	})
	if err != nil {
		reason := classifyJWT(err)
		if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && len(c.Audience) == 0 {
			reason = ErrAudience
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, reason)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, ErrMalformed)
	}
	if t.Method.Alg() == ES256 && highS(t.Signature) && !v.legacyHighS(c) {
		// The twin of a low-s signature: a second spelling of a token.
		return nil, fmt.Errorf("%w: %w: %w", ErrInvalid, ErrSignature, errHighS)
	}
	return c, nil
}

// legacyHighS reports whether c was issued early enough for its signature
// to be high-s legitimately (see VerifierConfig.AcceptHighSBefore).
func (v *Verifier) legacyHighS(c *Claims) bool {
	return c.IssuedAt != nil && c.IssuedAt.Before(v.highSTill)
}

// staticKeys are keys given by configuration, by kid.
type staticKeys map[string]Key

func (s staticKeys) key(_ context.Context, kid, alg string) (crypto.PublicKey, error) {
	k, ok := s[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	if alg != k.Alg {
		return nil, ErrSignature
	}
	return k.Public, nil
}

func classifyJWT(err error) error {
	switch {
	case errors.Is(err, ErrMalformed):
		return ErrMalformed
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
