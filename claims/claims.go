// Package claims is the protocol of wxlogin's claims hook: the HTTP
// service a team writes so that wxlogin's tokens carry the team's own
// user id and claims.
//
// After every successful code exchange (and every phone exchange)
// wxlogin POSTs a signed Request to the hook, and puts the Answer's Sub
// and Claims into the token it issues. Hook authors verify and decode a
// request with ConstructEvent (or serve with NewHandler); wxlogin calls
// the hook with a Client. The protocol is spelled out in
// docs/claims-hook.md.
package claims

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wxlogin/wxlogin/internal/text"
)

// The events a Request is sent for.
const (
	// EventLogin: a user logged in (POST /v1/login).
	EventLogin = "login"
	// EventPhone: a logged-in user bound a phone number (POST /v1/phone).
	EventPhone = "phone"
)

// Limits of an answer, from the contract.
const (
	// MaxSubjectLen is the longest sub an answer may give, in bytes.
	MaxSubjectLen = 255
	// MaxClaimsSize is the most JSON an answer's claims may hold, in
	// bytes of the compact encoding of the claims object.
	MaxClaimsSize = 4 << 10
	// MaxDetailLen is the longest denial detail passed on to the client,
	// in characters; a longer one is cut.
	MaxDetailLen = 200
	// maxAnswerSize bounds how much of an answer is read. It leaves room
	// for indented claims of MaxClaimsSize; anything bigger breaks a rule
	// anyway.
	maxAnswerSize = 64 << 10
)

// Request is what wxlogin sends the hook. It never holds the session_key,
// the login code or the token.
type Request struct {
	// Event is EventLogin or EventPhone. A hook should refuse (with any
	// status but 200 and 403) an event it does not know.
	Event string `json:"event"`
	// AppID is the mini program the user logged in to.
	AppID string `json:"appid"`
	// OpenID is the user's openid in that app.
	OpenID string `json:"openid"`
	// UnionID is the user across the apps of one WeChat Open Platform
	// account; empty when WeChat gave none.
	UnionID string `json:"unionid,omitempty"`
	// PhoneNumber, on a phone event, is the number WeChat verified, in
	// the OIDC form +<country code><number>, such as +8613800138000.
	PhoneNumber string `json:"phone_number,omitempty"`
	// Sub, on a phone event, is the subject of the user's current token.
	Sub string `json:"sub,omitempty"`
	// Claims, on a phone event, are the hook's claims in the user's
	// current token. ConstructEvent decodes their numbers as json.Number,
	// so that a hook answering them back gives them digit for digit.
	Claims map[string]any `json:"claims,omitempty"`
}

// Answer is what the hook answers with status 200. Both members are
// optional: an empty answer leaves the token as wxlogin would issue it
// without a hook.
type Answer struct {
	// Sub, when set, is the token's subject: the team's own user id,
	// 1 to MaxSubjectLen bytes.
	Sub string `json:"sub,omitempty"`
	// Claims are added to the token as given: at most MaxClaimsSize of
	// JSON and none of the Reserved names. Decoded by ParseAnswer,
	// numbers are json.Number, so that the token carries exactly the
	// digits the hook sent.
	Claims map[string]any `json:"claims,omitempty"`
}

// reserved are the claim names wxlogin sets itself.
var reserved = []string{
	"iss", "sub", "aud", "exp", "nbf", "iat", "jti",
	"appid", "openid", "unionid", "sk", "phone_number", "phone_number_verified",
}

// Reserved returns the claim names wxlogin sets itself. An answer's
// claims must hold none of them, nor any name that equals one of them
// but for letter case (see IsReserved).
func Reserved() []string { return slices.Clone(reserved) }

// IsReserved reports whether name is one of the Reserved claim names
// under Unicode case folding (strings.EqualFold: "SUB", "appId", "ſub"
// with a long s, "sK" with a Kelvin sign). JWT claim names are
// case-sensitive, but Go's encoding/json, and verifiers built on it,
// match struct fields case-insensitively: a claim "Exp" would be read
// as exp.
func IsReserved(name string) bool { return reservedFold(name) != "" }

// reservedFold returns the Reserved name that name equals under case
// folding, or "".
func reservedFold(name string) string {
	for _, r := range reserved {
		if strings.EqualFold(name, r) {
			return r
		}
	}
	return ""
}

// A Rule is one rule of the protocol that an answer can break. It names
// the rule only, never the values of the answer, so that it can be
// logged and counted.
type Rule string

// The rules an answer can break.
const (
	// RuleSize: the answer is over 64 KiB.
	RuleSize Rule = "answer_size"
	// RuleJSON: the answer is not one JSON object (not JSON, another
	// type, or trailing data).
	RuleJSON Rule = "answer_json"
	// RuleMember: the answer holds a member other than sub and claims.
	RuleMember Rule = "unknown_member"
	// RuleSub: sub is not a string of 1 to 255 bytes.
	RuleSub Rule = "sub"
	// RuleClaimsType: claims is not a JSON object.
	RuleClaimsType Rule = "claims_type"
	// RuleClaimsSize: claims is over 4 KiB of JSON.
	RuleClaimsSize Rule = "claims_size"
	// RuleReserved: claims holds a reserved name, or one that equals a
	// reserved name but for letter case (IsReserved).
	RuleReserved Rule = "reserved_name"
)

// AnswerError is an answer that breaks a rule of the protocol. wxlogin
// fails the login with upstream_error: it is both an ErrBadAnswer and an
// ErrUpstream.
type AnswerError struct {
	Rule Rule
	// Name is the member or claim at fault, for RuleMember and
	// RuleReserved (a reserved name, or a member name the hook sent cut
	// to 40 bytes); otherwise empty.
	Name string
	// Msg says what is wrong in words, without the answer's values.
	Msg string
}

// Error names the rule broken.
func (e *AnswerError) Error() string {
	return "claims: the hook's answer breaks rule " + string(e.Rule) + ": " + e.Msg
}

// Unwrap returns ErrBadAnswer and ErrUpstream.
func (e *AnswerError) Unwrap() []error { return []error{ErrBadAnswer, ErrUpstream} }

func broke(rule Rule, name, format string, args ...any) *AnswerError {
	return &AnswerError{Rule: rule, Name: name, Msg: fmt.Sprintf(format, args...)}
}

// ParseAnswer decodes the body of a 200 answer and checks it against
// every rule of the protocol. The error is an *AnswerError naming the
// rule broken. It is what Client uses, exported so that hook authors can
// test their answers and for fuzzing.
func ParseAnswer(body []byte) (Answer, error) {
	if len(body) > maxAnswerSize {
		return Answer{}, broke(RuleSize, "", "the answer is over %d bytes", maxAnswerSize)
	}
	var members map[string]json.RawMessage
	if err := decodeOne(body, &members); err != nil || members == nil {
		return Answer{}, broke(RuleJSON, "", "the answer is not one JSON object")
	}
	var a Answer
	for name, raw := range members {
		switch name {
		case "sub":
			if isNull(raw) {
				continue
			}
			if err := json.Unmarshal(raw, &a.Sub); err != nil {
				return Answer{}, broke(RuleSub, "", "sub is not a string")
			}
			if n := len(a.Sub); n < 1 || n > MaxSubjectLen {
				return Answer{}, broke(RuleSub, "", "sub is %d bytes long, want 1 to %d", n, MaxSubjectLen)
			}
		case "claims":
			if isNull(raw) {
				continue
			}
			c, err := parseClaims(raw)
			if err != nil {
				return Answer{}, err
			}
			a.Claims = c
		default:
			return Answer{}, broke(RuleMember, text.Cut(name, 40), "the answer holds the member %q; only sub and claims are allowed", text.Cut(name, 40))
		}
	}
	return a, nil
}

func parseClaims(raw json.RawMessage) (map[string]any, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, broke(RuleJSON, "", "claims is not JSON")
	}
	if compact.Len() == 0 || compact.Bytes()[0] != '{' {
		return nil, broke(RuleClaimsType, "", "claims is not a JSON object")
	}
	if compact.Len() > MaxClaimsSize {
		return nil, broke(RuleClaimsSize, "", "claims is %d bytes of JSON, over the limit of %d", compact.Len(), MaxClaimsSize)
	}
	var c map[string]any
	if err := decodeOne(compact.Bytes(), &c); err != nil {
		return nil, broke(RuleJSON, "", "claims is not JSON")
	}
	// Report the first reserved name in the contract's order, so that
	// the same answer always names the same name.
	first := len(reserved)
	for name := range c {
		if r := reservedFold(name); r != "" {
			first = min(first, slices.Index(reserved, r))
		}
	}
	if first < len(reserved) {
		name := reserved[first]
		if _, exact := c[name]; exact {
			return nil, broke(RuleReserved, name, "claims holds the reserved name %q", name)
		}
		return nil, broke(RuleReserved, name, "claims holds a name that differs from the reserved name %q only in letter case", name)
	}
	return c, nil
}

// Check reports whether a would pass ParseAnswer once encoded: the same
// rules, for a hook about to answer.
func (a Answer) Check() error {
	_, err := a.encode()
	return err
}

// encode is the answer's JSON as Handler sends it, checked by
// ParseAnswer. It is written without HTML escaping, so that the size
// checked is the size sent.
func (a Answer) encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return nil, fmt.Errorf("claims: encode answer: %w", err)
	}
	if _, err := ParseAnswer(buf.Bytes()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeOne decodes exactly one JSON value from b into v, numbers as
// json.Number, and refuses trailing data.
func decodeOne(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	for _, c := range b[dec.InputOffset():] {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return errors.New("trailing data")
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// sanitizeDetail makes a hook's denial detail safe to pass on: control
// and other invisible characters become spaces, runs of white space
// one space, and the result is cut to MaxDetailLen characters.
func sanitizeDetail(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > MaxDetailLen {
		s = strings.TrimSpace(string([]rune(s)[:MaxDetailLen]))
	}
	return s
}
