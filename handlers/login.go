package handlers

import (
	"net/http"
	"unicode/utf8"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat"
)

// maxCodeLen bounds a login or phone code; WeChat's are 32 characters.
const maxCodeLen = 256

type loginRequest struct {
	Code  string  `json:"code"`
	AppID *string `json:"appid"` // nil when absent (or null)
}

type loginResponse struct {
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresIn int64  `json:"expires_in"`
	OpenID    string `json:"openid"`
	UnionID   string `json:"unionid,omitempty"`
}

// handleLogin exchanges a wx.login code of the app the request names for
// a token of that app.
func (s *server) handleLogin() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req loginRequest
		if err := decodeJSON(w, r, &req, false); err != nil {
			s.writeError(w, r, err)
			return
		}
		app, err := s.loginApp(r.Context(), req.AppID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := checkCode(req.Code); err != nil {
			s.writeError(w, r, err)
			return
		}
		// A resend is answered from memory only to the same client (see
		// wechat.CodeDedup): the same bucket as the rate limit.
		client, _ := rateLimitKey(r)
		sess, err := app.WeChat.Code2Session(wechat.WithCaller(r.Context(), client), req.Code)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		// A user who cannot get a token (no unionid for a unionid
		// subject) is refused before the hook is asked about them.
		if _, err := app.Tokens.Subject(sess.OpenID, sess.UnionID); err != nil {
			s.writeError(w, r, err)
			return
		}
		// A resent code answered from the resend cache comes here too: the
		// hook is asked afresh, as the user may have changed since.
		x, err := s.hookExtra(r, claims.Request{Event: claims.EventLogin, AppID: app.AppID, OpenID: sess.OpenID, UnionID: sess.UnionID}, token.Extra{})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		issued, err := app.Tokens.IssueWith(sess.OpenID, sess.UnionID, sess.SessionKey, x)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.Metrics.TokenIssued()
		writeJSON(w, loginResponse{
			Token:     issued.Token,
			TokenType: "Bearer",
			ExpiresIn: int64(app.Tokens.TTL().Seconds()),
			OpenID:    sess.OpenID,
			UnionID:   sess.UnionID,
		})
	}
}

// checkCode rejects a code that cannot be WeChat's before any upstream
// call spends quota on it.
func checkCode(code string) error {
	switch {
	case code == "":
		return errorf(CodeInvalidRequest, `field "code" is required and must not be empty`)
	case len(code) > maxCodeLen:
		return errorf(CodeInvalidRequest, `field "code" is too long to be a WeChat code`)
	case !utf8.ValidString(code):
		return errorf(CodeInvalidRequest, `field "code" is not valid UTF-8`)
	}
	for _, c := range code {
		if c < 0x21 || c == 0x7f {
			return errorf(CodeInvalidRequest, `field "code" holds spaces or control characters`)
		}
	}
	return nil
}
