package handlers

import (
	"errors"
	"net/http"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat"
)

type phoneRequest struct {
	Code string `json:"code"`
}

type phoneResponse struct {
	PhoneNumber     string `json:"phoneNumber"`
	PurePhoneNumber string `json:"purePhoneNumber"`
	CountryCode     string `json:"countryCode"`
	// The fresh token for the same user, shaped by the claims hook and
	// WXLOGIN_PHONE_IN_TOKEN.
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresIn int64  `json:"expires_in"`
}

// handlePhone exchanges the code of a getPhoneNumber button for the
// user's phone number, with the access token of the bearer token's app,
// and answers with a fresh token for the same user: the same session_key
// and, without a hook, the same sub and claims; with a hook, what it
// answers to the phone event. With PhoneInToken the token carries the
// number.
func (s *server) handlePhone() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, app, err := s.bearerApp(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var req phoneRequest
		if err := decodeJSON(w, r, &req, false); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := checkCode(req.Code); err != nil {
			s.writeError(w, r, err)
			return
		}
		// Before the code is spent: a token whose session_key cannot be
		// opened gets no fresh token.
		sessionKey, err := app.Tokens.OpenSessionKey(c)
		if err != nil {
			s.writeError(w, r, &Error{Code: CodeInvalidToken, Err: err,
				Detail: "this token's session key cannot be used; log in again (wx.login, then POST /v1/login)"})
			return
		}
		p, err := app.UserAPI.GetPhoneNumber(r.Context(), req.Code)
		if errors.Is(err, wechat.ErrInvalidCode) {
			err = &Error{Code: CodeInvalidCode, Err: err,
				Detail: "WeChat says the phone-number code is invalid, expired (it lives 5 minutes) or already used; ask the user to tap the phone-number button again"}
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		number := "+" + p.CountryCode + p.PurePhoneNumber // the OIDC form
		x, err := s.hookExtra(r, claims.Request{
			Event: claims.EventPhone, AppID: c.AppID, OpenID: c.OpenID(), UnionID: c.UnionID,
			PhoneNumber: number, Sub: c.Subject, Claims: c.Extra,
		}, token.Extra{Subject: c.Subject, Claims: c.Extra})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.PhoneInToken {
			x.PhoneNumber = number
		}
		issued, err := app.Tokens.IssueWith(c.OpenID(), c.UnionID, sessionKey, x)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.Metrics.TokenIssued()
		writeJSON(w, phoneResponse{
			PhoneNumber: p.PhoneNumber, PurePhoneNumber: p.PurePhoneNumber, CountryCode: p.CountryCode,
			Token: issued.Token, TokenType: "Bearer", ExpiresIn: int64(app.Tokens.TTL().Seconds()),
		})
	}
}
