package token

import (
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// What a token's subject is (IssuerConfig.Subject).
const (
	// SubjectOpenID makes sub the openid: the user of one app.
	SubjectOpenID = "openid"
	// SubjectUnionID makes sub the unionid, the user across every app
	// bound to one WeChat Open Platform account, and puts the openid in
	// the openid claim.
	SubjectUnionID = "unionid"
)

// ErrTooLarge is returned by IssueWith when the token would be longer
// than MaxTokenSize, which no Verifier accepts: the extra claims are too
// big (the claims hook's checks keep them well below).
var ErrTooLarge = errors.New("token: the token would be over MaxTokenSize")

// ErrNoUnionID is returned by Issue and Subject with SubjectUnionID when
// WeChat gave no unionid: the app is not bound to an Open Platform
// account.
var ErrNoUnionID = errors.New("token: no unionid for the subject")

// IssuerConfig holds what an Issuer needs.
type IssuerConfig struct {
	Key      crypto.Signer    // the signing key: *ecdsa.PrivateKey (P-256) or ed25519.PrivateKey
	Issuer   string           // the iss claim
	Audience string           // the aud claim
	AppID    string           // the appid claim, and bound into sk
	Subject  string           // what sub is: SubjectOpenID (when empty) or SubjectUnionID
	TTL      time.Duration    // exp - iat; whole seconds
	Sealer   *Sealer          // seals the session_key into sk
	Now      func() time.Time // time.Now when nil
}

// Issuer signs the login tokens of one mini program, AppID; a server of
// several apps has one Issuer per app, all with the same key. It is safe
// for concurrent use.
type Issuer struct {
	cfg    IssuerConfig
	key    Key
	method jwt.SigningMethod
	signer any    // what golang-jwt's method wants
	header string // the encoded JOSE header and its dot, the same for every token
}

// NewIssuer checks cfg and returns an Issuer.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	if cfg.Key == nil || cfg.Sealer == nil {
		return nil, errors.New("token: issuer needs a key and a sealer")
	}
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.AppID == "" {
		return nil, errors.New("token: issuer needs issuer, audience and appid")
	}
	switch cfg.Subject {
	case "":
		cfg.Subject = SubjectOpenID
	case SubjectOpenID, SubjectUnionID:
	default:
		return nil, errors.New("token: subject must be openid or unionid")
	}
	if cfg.TTL < time.Second {
		return nil, errors.New("token: ttl must be at least one second")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	k, err := NewKey(cfg.Key.Public())
	if err != nil {
		return nil, err
	}
	iss := &Issuer{cfg: cfg, key: k, signer: cfg.Key}
	switch k.Alg {
	case ES256:
		iss.method = SigningMethodES256 // low-s only: one spelling per token
	case EdDSA:
		iss.method = jwt.SigningMethodEdDSA
	}
	// The header golang-jwt would build for every token, encoded once.
	h := jwt.New(iss.method).Header
	h["kid"] = k.KID
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	iss.header = b64.EncodeToString(hj) + "."
	return iss, nil
}

// Key returns the public half of the signing key.
func (i *Issuer) Key() Key { return i.key }

// TTL returns the token lifetime.
func (i *Issuer) TTL() time.Duration { return i.cfg.TTL.Truncate(time.Second) }

// Issued is a freshly signed token.
type Issued struct {
	Token  string  // the JWS compact serialization
	Claims *Claims // what it says
}

// Issue signs a token for the user openid (and unionid, when WeChat gave
// one), sealing sessionKey into sk bound to the app and openid. With
// SubjectUnionID, sub is the unionid and the openid goes into the openid
// claim; without a unionid that fails with ErrNoUnionID.
func (i *Issuer) Issue(openid, unionid, sessionKey string) (Issued, error) {
	return i.IssueWith(openid, unionid, sessionKey, Extra{})
}

// Extra is what a token says beyond the user's WeChat identity: what the
// claims hook answered, and a phone number bound with POST /v1/phone.
type Extra struct {
	// Subject, when set, is the token's sub (the claims hook's: the
	// team's own user id); the openid then goes into the openid claim.
	Subject string
	// Claims are added to the token as given; none may be a name the
	// token sets itself (claims.IsReserved).
	Claims map[string]any
	// PhoneNumber, when set, is the phone_number claim, in the OIDC form
	// +<country code><number>, with phone_number_verified true.
	PhoneNumber string
}

// Subject returns the sub a token for this user gets unless a claims
// hook gives one: the openid, or with SubjectUnionID the unionid, and
// ErrNoUnionID without one. A login asks it before calling the hook, so
// that a user who cannot get a token costs the hook nothing.
func (i *Issuer) Subject(openid, unionid string) (string, error) {
	switch {
	case openid == "":
		return "", errors.New("token: empty openid")
	case i.cfg.Subject != SubjectUnionID:
		return openid, nil
	case unionid == "":
		return "", ErrNoUnionID
	}
	return unionid, nil
}

// IssueWith is Issue with the additions of x.
func (i *Issuer) IssueWith(openid, unionid, sessionKey string, x Extra) (Issued, error) {
	sub, err := i.Subject(openid, unionid)
	if err != nil {
		return Issued{}, err
	}
	if x.Subject != "" {
		sub = x.Subject
	}
	openidClaim := ""
	if sub != openid {
		openidClaim = openid
	}
	sk, err := i.cfg.Sealer.Seal(i.cfg.AppID, openid, sessionKey)
	if err != nil {
		return Issued{}, err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return Issued{}, err
	}
	now := i.cfg.Now().Truncate(time.Second)
	c := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.cfg.Issuer,
			Subject:   sub,
			Audience:  jwt.ClaimStrings{i.cfg.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(i.TTL())),
			ID:        b64.EncodeToString(jti),
		},
		AppID:       i.cfg.AppID,
		OpenIDClaim: openidClaim,
		UnionID:     unionid,
		SK:          sk,
		Extra:       x.Claims,
	}
	if x.PhoneNumber != "" {
		c.PhoneNumber, c.PhoneNumberVerified = x.PhoneNumber, true
	}
	// What jwt.Token.SignedString does, with the header encoded once in
	// NewIssuer rather than marshalled again for every token.
	// MarshalJSON itself: json.Marshal would HTML-escape its output again.
	cj, err := c.MarshalJSON()
	if err != nil {
		return Issued{}, err
	}
	signingString := i.header + b64.EncodeToString(cj)
	sig, err := i.method.Sign(signingString, i.signer)
	if err != nil {
		return Issued{}, err
	}
	tok := signingString + "." + b64.EncodeToString(sig)
	if len(tok) > MaxTokenSize {
		return Issued{}, ErrTooLarge
	}
	return Issued{Token: tok, Claims: c}, nil
}

// OpenSessionKey returns the session_key sealed in c's sk claim. It fails
// with ErrSealed when sk was altered or belongs to another user or app.
func (i *Issuer) OpenSessionKey(c *Claims) (string, error) {
	if c.SK == "" || c.AppID != i.cfg.AppID {
		return "", ErrSealed
	}
	return i.cfg.Sealer.Open(i.cfg.AppID, c.OpenID(), c.SK)
}
