package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat"
)

// Error codes, as in the contract's error table, plus the three the
// router and the panic handler need.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeUnknownApp           = "unknown_app"
	CodeLoginDenied          = "login_denied"
	CodeInvalidCode          = "invalid_code"
	CodeInvalidToken         = token.ErrorCode
	CodeUserBlocked          = "user_blocked"
	CodeDecryptFailed        = "decrypt_failed"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeRateLimited          = "rate_limited"
	CodeUpstreamError        = "upstream_error"
	CodeUpstreamUnavailable  = "upstream_unavailable"
	CodeUpstreamTimeout      = "upstream_timeout"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeInternal             = "internal_error"
)

// statuses is the one table from code to HTTP status.
var statuses = map[string]int{
	CodeInvalidRequest:       http.StatusBadRequest,
	CodeUnknownApp:           http.StatusBadRequest,
	CodeLoginDenied:          http.StatusForbidden,
	CodeInvalidCode:          http.StatusUnauthorized,
	CodeInvalidToken:         http.StatusUnauthorized,
	CodeUserBlocked:          http.StatusForbidden,
	CodeDecryptFailed:        http.StatusBadRequest,
	CodePayloadTooLarge:      http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	CodeRateLimited:          http.StatusTooManyRequests,
	CodeUpstreamError:        http.StatusBadGateway,
	CodeUpstreamUnavailable:  http.StatusServiceUnavailable,
	CodeUpstreamTimeout:      http.StatusGatewayTimeout,
	CodeNotFound:             http.StatusNotFound,
	CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	CodeInternal:             http.StatusInternalServerError,
}

// Outcomes returns "ok" and every error code of the statuses table,
// sorted: what a request can be answered with, for metrics to export
// from start-up.
func Outcomes() []string {
	return append([]string{"ok"}, slices.Sorted(maps.Keys(statuses))...)
}

// Error is a failure with a contract code and a detail that is safe to
// show the client. Err, when set, is the cause; it is logged for 5xx
// answers and never sent.
type Error struct {
	Code       string
	Detail     string
	Err        error
	RetryAfter int // seconds, for rate_limited; 0 leaves Retry-After unset
	// Relogin marks a decrypt_failed whose likely cause is the token's
	// session_key (most often a later wx.login replaced it): the client
	// should log in again and ask the user again. It is sent as the
	// problem member "relogin".
	Relogin bool
}

// Error returns the code and detail, and the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Detail + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Detail
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// errorf is shorthand for an *Error without a cause.
func errorf(code, detail string) *Error { return &Error{Code: code, Detail: detail} }

// Problem is an RFC 9457 problem details body with wxlogin's extra
// members.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
	Relogin   bool   `json:"relogin,omitempty"`
}

// asError turns any error into the *Error to answer with. Errors that
// are not already coded are classified by their sentinel: WeChat's, the
// token package's, or internal.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var denied *claims.DeniedError
	switch {
	case errors.Is(err, wechat.ErrInvalidCode):
		return &Error{Code: CodeInvalidCode, Detail: "WeChat says the code is invalid, expired or already used; call wx.login again", Err: err}
	case errors.Is(err, wechat.ErrBlocked):
		return &Error{Code: CodeUserBlocked, Detail: "WeChat flags this user as high-risk", Err: err}
	case errors.Is(err, wechat.ErrRateLimited):
		return &Error{Code: CodeRateLimited, Detail: "WeChat's rate limit was reached; retry later", Err: err, RetryAfter: 60}
	case errors.Is(err, wechat.ErrBusy), errors.Is(err, wechat.ErrUnavailable):
		return &Error{Code: CodeUpstreamUnavailable, Detail: "WeChat is busy or unreachable; retry shortly", Err: err}
	case errors.Is(err, wechat.ErrTimeout):
		return &Error{Code: CodeUpstreamTimeout, Detail: "WeChat did not answer in time", Err: err}
	case errors.Is(err, wechat.ErrMisconfigured):
		return &Error{Code: CodeUpstreamError, Detail: "WeChat rejected this server's configuration", Err: err}
	case errors.Is(err, wechat.ErrUpstream), errors.Is(err, wechat.ErrAccessToken):
		return &Error{Code: CodeUpstreamError, Detail: "WeChat answered with an error", Err: err}
	case errors.As(err, &denied):
		detail := denied.Detail
		if detail == "" {
			detail = "this server's user service refused the login"
		}
		return &Error{Code: CodeLoginDenied, Detail: detail, Err: err}
	case errors.Is(err, claims.ErrBadAnswer):
		return &Error{Code: CodeUpstreamError, Detail: "this server's user service (the claims hook) gave an answer that breaks the protocol", Err: err}
	case errors.Is(err, claims.ErrUpstream):
		return &Error{Code: CodeUpstreamError, Detail: "this server's user service (the claims hook) failed", Err: err}
	case errors.Is(err, claims.ErrTimeout):
		return &Error{Code: CodeUpstreamTimeout, Detail: "this server's user service (the claims hook) did not answer in time", Err: err}
	case errors.Is(err, claims.ErrUnavailable):
		return &Error{Code: CodeUpstreamUnavailable, Detail: "this server's user service (the claims hook) is unreachable; retry shortly", Err: err}
	case errors.Is(err, token.ErrTooLarge):
		return &Error{Code: CodeUpstreamError, Detail: "this server's user service (the claims hook) gave more claims than a token holds", Err: err}
	case errors.Is(err, token.ErrNoUnionID):
		return &Error{Code: CodeUpstreamError, Err: err,
			Detail: "WeChat gave no unionid for this user, and this server makes the unionid the token's subject (WXLOGIN_SUBJECT=unionid): the mini program must be bound to the WeChat Open Platform account of the others"}
	case errors.Is(err, token.ErrInvalid):
		return &Error{Code: CodeInvalidToken, Detail: token.ErrorDetail(err), Err: err}
	default:
		return &Error{Code: CodeInternal, Detail: "internal error", Err: err}
	}
}

// writeError is the one error writer: it answers err as problem JSON and
// logs only what is unexpected (5xx, and WeChat rejecting our credentials).
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	status, ok := statuses[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	reqID := requestID(r.Context())
	setOutcome(r.Context(), e.Code)
	if e.Code == CodeInvalidToken {
		s.Metrics.TokenRejected(token.Reason(e.Err))
	}

	var broken *claims.AnswerError
	switch {
	case errors.Is(e.Err, token.ErrNoUnionID):
		s.log.WarnContext(r.Context(), "WXLOGIN_SUBJECT=unionid, but WeChat gives this app no unionid: no user can log in to it until the mini program is bound to the WeChat Open Platform account (open.weixin.qq.com, 管理中心 → 小程序 → 绑定小程序), or WXLOGIN_SUBJECT is openid",
			"request_id", reqID, "app", appOf(r.Context()))
	case errors.As(e.Err, &broken):
		s.log.ErrorContext(r.Context(), "CLAIMS HOOK BROKEN: its answer breaks the rule "+string(broken.Rule)+" of the protocol (docs/claims-hook.md); every login fails with upstream_error until the hook is fixed",
			"request_id", reqID, "app", appOf(r.Context()), "rule", string(broken.Rule), "name", broken.Name, "err", e.Err)
	case errors.Is(e.Err, wechat.ErrMisconfigured):
		s.log.ErrorContext(r.Context(), "WeChat rejects the app's AppID or AppSecret (WXLOGIN_APPID and WXLOGIN_SECRET, or its WXLOGIN_APPS entry): no user can log in to it until it is fixed",
			"request_id", reqID, "app", appOf(r.Context()), "err", e.Err)
	case status >= 500 && !errors.Is(e.Err, context.Canceled):
		s.log.ErrorContext(r.Context(), "request failed", "request_id", reqID, "app", appOf(r.Context()), "code", e.Code, "err", e.Err)
	}

	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if e.Code == CodeInvalidToken {
		h.Set("WWW-Authenticate", token.Challenge(e.Err))
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    e.Detail,
		Code:      e.Code,
		RequestID: reqID,
		Relogin:   e.Relogin,
	})
}

// writeJSON answers v with status 200 and no caching.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// requestInfo is what the request logger shares with the rest of one
// request's handling: its id, and the error code it was answered with.
type requestInfo struct {
	id   string
	app  string // the AppID the request acts for; "" until known
	code string // "" until writeError answers with an error
}

type requestInfoKey struct{}

// infoOf returns the requestInfo logRequests put in ctx, or nil.
func infoOf(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// appOf returns the AppID the request ctx belongs to acts for, or "".
func appOf(ctx context.Context) string {
	if info := infoOf(ctx); info != nil {
		return info.app
	}
	return ""
}

// requestID returns the id of the request ctx belongs to, or "".
func requestID(ctx context.Context) string {
	if info := infoOf(ctx); info != nil {
		return info.id
	}
	return ""
}

func setOutcome(ctx context.Context, code string) {
	if info := infoOf(ctx); info != nil {
		info.code = code
	}
}

// outcome returns "ok" or the error code the request was answered with.
func (info *requestInfo) outcome() string {
	if info.code == "" {
		return "ok"
	}
	return info.code
}
