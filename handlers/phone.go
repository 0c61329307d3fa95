package handlers

import (
	"errors"
	"net/http"

	"github.com/wxlogin/wxlogin/wechat"
)

type phoneRequest struct {
	Code string `json:"code"`
}

type phoneResponse struct {
	PhoneNumber     string `json:"phoneNumber"`
	PurePhoneNumber string `json:"purePhoneNumber"`
	CountryCode     string `json:"countryCode"`
}

// errNoUserAPI answers the routes that need an app's UserAPI when it is
// nil.
var errNoUserAPI = errorf(CodeInternal, "this server is not configured to call WeChat on a user's behalf")

// handlePhone exchanges the code of a getPhoneNumber button for the
// user's phone number, with the access token of the bearer token's app.
func (s *server) handlePhone() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.bearer(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		app, err := s.appOf(r.Context(), c)
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
		if app.UserAPI == nil {
			s.writeError(w, r, errNoUserAPI)
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
		writeJSON(w, phoneResponse{PhoneNumber: p.PhoneNumber, PurePhoneNumber: p.PurePhoneNumber, CountryCode: p.CountryCode})
	}
}
