package handlers

import (
	"errors"
	"net/http"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat"
)

// decryptRequest is the e.detail of an open-data callback, forwarded as
// is: the fields it also carries (errMsg, cloudID, userInfo…) are ignored.
type decryptRequest struct {
	EncryptedData string `json:"encryptedData"`
	IV            string `json:"iv"`
	RawData       string `json:"rawData"`
	Signature     string `json:"signature"`
}

// reloginHint ends every detail whose likely cause is a stale session_key.
const reloginHint = "; the usual cause is a later wx.login that replaced the session key: log in again (wx.login, then POST /v1/login), then ask the user for the data again"

// handleDecrypt decrypts open data with the session_key sealed in the
// bearer token and answers the plaintext JSON object, after every check
// WeChat defines (see wechat.DecryptOpenData), the watermark checked
// against the token's app.
func (s *server) handleDecrypt() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, app, err := s.bearerApp(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var req decryptRequest
		if err := decodeJSON(w, r, &req, true); err != nil {
			s.writeError(w, r, err)
			return
		}
		switch {
		case req.EncryptedData == "" || req.IV == "":
			s.writeError(w, r, errorf(CodeInvalidRequest, `fields "encryptedData" and "iv" are required: forward the e.detail of a successful open-data callback`))
			return
		case (req.RawData == "") != (req.Signature == ""):
			s.writeError(w, r, errorf(CodeInvalidRequest, `fields "rawData" and "signature" come together: send both, as e.detail has them, or neither`))
			return
		}
		sk, err := app.Tokens.OpenSessionKey(c)
		if err != nil {
			s.writeError(w, r, decryptError(err))
			return
		}
		plain, err := wechat.DecryptOpenData(app.AppID, sk, wechat.OpenData{
			EncryptedData: req.EncryptedData,
			IV:            req.IV,
			RawData:       req.RawData,
			Signature:     req.Signature,
		})
		if err != nil {
			s.writeError(w, r, decryptError(err))
			return
		}
		writeJSON(w, plain)
	}
}

// decryptError turns a refusal of open data into decrypt_failed with a
// detail that says what to do, and Relogin set where the session_key may
// be the cause. A wrong key cannot be told from altered data, so both get
// the same answer.
func decryptError(err error) error {
	e := &Error{Code: CodeDecryptFailed, Err: err}
	switch {
	case errors.Is(err, token.ErrSealed), errors.Is(err, wechat.ErrSessionKey):
		e.Relogin = true
		e.Detail = "this token's session key cannot be used; log in again (wx.login, then POST /v1/login), then ask the user for the data again"
	case errors.Is(err, wechat.ErrOpenDataEncoding):
		e.Detail = "encryptedData, iv or signature is not validly encoded: forward e.detail unchanged"
	case errors.Is(err, wechat.ErrOpenDataIV):
		e.Detail = "iv must be base64 of 16 bytes: forward e.detail unchanged"
	case errors.Is(err, wechat.ErrOpenDataLength):
		e.Detail = "encryptedData is not whole AES blocks: forward e.detail unchanged"
	case errors.Is(err, wechat.ErrWatermark):
		e.Detail = "the data was issued to another mini program (watermark.appid is not the token's appid)"
	case errors.Is(err, wechat.ErrSignature):
		e.Relogin = true
		e.Detail = "signature does not match rawData and this session's key: rawData was altered, or it was signed with another session key" + reloginHint
	case errors.Is(err, wechat.ErrOpenData):
		e.Relogin = true
		e.Detail = "the data does not decrypt with this session's key" + reloginHint
	default:
		return err
	}
	return e
}
