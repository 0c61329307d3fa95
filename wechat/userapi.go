package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// PhoneNumber is a successful getuserphonenumber answer.
type PhoneNumber struct {
	PhoneNumber     string    // with the country code for numbers outside mainland China
	PurePhoneNumber string    // without the country code
	CountryCode     string    // such as "86"
	Watermark       Watermark // WeChat's stamp: our AppID and when the user consented
}

// GetPhoneNumber exchanges the code of a getPhoneNumber button for the
// user's phone number (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-info/phone-number/getPhoneNumber.html).
// An invalid, expired or used code is ErrInvalidCode; an invalid access
// token is ErrAccessToken, and the code is then still unspent (WeChat
// checks the token first), so the caller may retry once with a new token.
// When the answer carries a watermark, it must name our AppID.
func (c *Client) GetPhoneNumber(ctx context.Context, accessToken, code string) (PhoneNumber, error) {
	if code == "" {
		return PhoneNumber{}, fmt.Errorf("%w: empty code", ErrInvalidCode)
	}
	if accessToken == "" {
		return PhoneNumber{}, fmt.Errorf("%w: empty access token", ErrAccessToken)
	}
	const api = "/wxa/business/getuserphonenumber"
	var out struct {
		envelope
		PhoneInfo *struct {
			PhoneNumber     string     `json:"phoneNumber"`
			PurePhoneNumber string     `json:"purePhoneNumber"`
			CountryCode     flexString `json:"countryCode"`
			Watermark       Watermark  `json:"watermark"`
		} `json:"phone_info"`
	}
	q := url.Values{"access_token": {accessToken}}
	if err := c.call(ctx, http.MethodPost, api, q, map[string]string{"code": code}, &out); err != nil {
		return PhoneNumber{}, err
	}
	p := out.PhoneInfo
	if p == nil || p.PhoneNumber == "" {
		return PhoneNumber{}, fmt.Errorf("%w: %s answer without phone_info", ErrUpstream, api)
	}
	if p.Watermark.AppID != "" && p.Watermark.AppID != c.appID {
		return PhoneNumber{}, fmt.Errorf("%w: %s answer is watermarked for another appid", ErrUpstream, api)
	}
	return PhoneNumber{
		PhoneNumber:     p.PhoneNumber,
		PurePhoneNumber: p.PurePhoneNumber,
		CountryCode:     string(p.CountryCode),
		Watermark:       p.Watermark,
	}, nil
}

// flexString decodes a JSON string or number as a string: WeChat
// documents countryCode as a string and shows it as a number.
type flexString string

// UnmarshalJSON accepts a string, a number or null.
func (s *flexString) UnmarshalJSON(b []byte) error {
	t := strings.TrimSpace(string(b))
	switch {
	case t == "null":
		*s = ""
	case strings.HasPrefix(t, `"`):
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*s = flexString(str)
	default:
		if _, err := strconv.ParseFloat(t, 64); err != nil {
			return errors.New("a field is neither a string nor a number") // never quote it: it may be a phone number
		}
		*s = flexString(t)
	}
	return nil
}

// errcodeInvalidSignature is /wxa/checksession's answer when the signature
// was not made with the user's current session_key.
const errcodeInvalidSignature = 87009

// CheckSession asks WeChat whether sessionKey is still the current
// session_key of openid (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/checkSessionKey.html).
// It sends only the login-state signature, HMAC-SHA256 keyed by the
// session_key over the empty string, never the key. WeChat's 87009
// (invalid signature) means a later wx.login replaced the key: false, nil.
func (c *Client) CheckSession(ctx context.Context, accessToken, openid, sessionKey string) (bool, error) {
	if accessToken == "" {
		return false, fmt.Errorf("%w: empty access token", ErrAccessToken)
	}
	if openid == "" || sessionKey == "" {
		return false, errors.New("wechat: checksession needs an openid and a session_key")
	}
	q := url.Values{
		"access_token": {accessToken},
		"openid":       {openid},
		"signature":    {SessionSignature(sessionKey, nil)},
		"sig_method":   {"hmac_sha256"},
	}
	err := c.call(ctx, http.MethodGet, "/wxa/checksession", q, nil, nil)
	var ae *APIError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ae) && ae.Code == errcodeInvalidSignature:
		return false, nil
	default:
		return false, err
	}
}
