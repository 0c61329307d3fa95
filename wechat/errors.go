package wechat

import (
	"errors"
	"fmt"

	"github.com/wxlogin/wxlogin/internal/text"
)

// Sentinel errors classify every failure of a WeChat call. An *APIError
// unwraps to one of them, so callers branch with errors.Is and never on
// WeChat's numeric codes.
var (
	// ErrInvalidCode: the login or phone code is invalid, expired or used
	// (40029, 40163; 40125 and 40013 are configuration, not this).
	ErrInvalidCode = errors.New("wechat: invalid code")
	// ErrBlocked: WeChat flags the user as high-risk (40226).
	ErrBlocked = errors.New("wechat: user blocked")
	// ErrRateLimited: WeChat's frequency limit (45011).
	ErrRateLimited = errors.New("wechat: rate limited")
	// ErrBusy: WeChat answered "system busy" (-1).
	ErrBusy = errors.New("wechat: busy")
	// ErrMisconfigured: WeChat rejects our AppID or AppSecret (40013,
	// 40125, 40164 IP not whitelisted, 41004 missing secret). No user can
	// log in until an operator fixes the configuration.
	ErrMisconfigured = errors.New("wechat: appid or secret rejected")
	// ErrAccessToken: the access token is invalid or expired (40001,
	// 40014, 42001); the caller should fetch a new one and retry once.
	ErrAccessToken = errors.New("wechat: access token invalid or expired")
	// ErrUpstream: any other errcode, an HTTP error status, or an answer
	// that does not parse.
	ErrUpstream = errors.New("wechat: upstream error")
	// ErrUnavailable: WeChat could not be reached.
	ErrUnavailable = errors.New("wechat: unavailable")
	// ErrTimeout: WeChat did not answer within the deadline.
	ErrTimeout = errors.New("wechat: timeout")
)

// APIError is an answer from WeChat with a non-zero errcode. Msg is
// WeChat's errmsg: log it, never show it to clients.
type APIError struct {
	API  string // the API path, such as "/sns/jscode2session"
	Code int    // WeChat's errcode
	Msg  string // WeChat's errmsg, at most about maxUpstreamText bytes, for logs only
	kind error
}

// Error returns a message with the API, errcode and errmsg. WeChat's
// errmsg never holds the code or secret we sent, so this is safe to log.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %s errcode %d: %s", e.kind, e.API, e.Code, e.Msg)
}

// Unwrap returns the sentinel error that classifies e.
func (e *APIError) Unwrap() error { return e.kind }

// classify maps a WeChat errcode to one of the sentinel errors.
func classify(code int) error {
	switch code {
	case 40029, 40163:
		return ErrInvalidCode
	case 40226:
		return ErrBlocked
	case 45011:
		return ErrRateLimited
	case -1:
		return ErrBusy
	case 40013, 40125, 40164, 41004, 40002:
		return ErrMisconfigured
	case 40001, 40014, 42001:
		return ErrAccessToken
	default:
		return ErrUpstream
	}
}

// newAPIError builds the typed error for a non-zero errcode.
func newAPIError(api string, code int, msg string) *APIError {
	return &APIError{API: api, Code: code, Msg: clip(msg), kind: classify(code)}
}

// maxUpstreamText bounds the text of an answer (an errmsg, an errcode
// that is not a number) that an error carries into the logs. WeChat's
// errmsg is a sentence with a request id ("invalid code, rid: …"); an
// answer with a megabyte of it, from a proxy in between or a fake, must
// not become a megabyte per log line.
const maxUpstreamText = 200

// clip cuts s to at most maxUpstreamText bytes, on a UTF-8 boundary, and
// says how much it left out.
func clip(s string) string { return text.Clip(s, maxUpstreamText) }
