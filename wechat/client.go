// Package wechat is a small client for the WeChat Mini Program server APIs
// that wxlogin uses. Every Client method makes exactly one HTTP call (a
// login code is single-use, so nothing is retried behind the caller's
// back, not even by net/http's transport), bounded by the client's
// deadline, and turns WeChat's errcode into a typed error (see the Err…
// sentinels and APIError).
//
// Beside the client: CodeDedup shares and replays the exchange of a
// resent login code, TokenCache keeps the app's access token in process,
// UserAPI makes the calls that need it (refetching a refused token once),
// and DecryptOpenData checks and decrypts the open data a mini program
// receives, with the user's session_key.
package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxlogin/wxlogin/internal/roundtrip"
)

// DefaultBaseURL is WeChat's API origin.
const DefaultBaseURL = "https://api.weixin.qq.com"

// maxAnswer bounds how much of an answer is read; WeChat's are tiny.
const maxAnswer = 1 << 20

// Config holds what a Client needs. AppID and Secret are the mini
// program's credentials; the Secret is sent only to BaseURL.
type Config struct {
	BaseURL    string        // DefaultBaseURL when empty
	AppID      string        // the mini program's AppID
	Secret     string        // the mini program's AppSecret
	HTTPClient *http.Client  // NewHTTPClient() when nil
	Timeout    time.Duration // deadline of one call; 5s when zero
	// Observe, when set, is told the outcome of every call: the API path,
	// a short result ("ok", "timeout", "unavailable", "errcode_40029",
	// "bad_answer", "http_500"…) and how long it took. Metrics hang here.
	Observe func(api, result string, took time.Duration)
}

// Client calls WeChat's server APIs. It is safe for concurrent use.
type Client struct {
	base    string
	appID   string
	secret  string
	http    *http.Client
	timeout time.Duration
	observe func(api, result string, took time.Duration)
}

// NewHTTPClient returns an HTTP client tuned for many concurrent calls to
// one host: keep-alive with a large idle pool. It sets no overall timeout;
// each call carries its own deadline. Idle connections are closed after
// 30 s, before a server's usual keep-alive timeout, so that a call rarely
// meets a connection the server is closing. Redirects are not followed: a
// WeChat API never redirects, and following one would resend the query or
// body (the AppSecret among them) to whatever host it names.
func NewHTTPClient() *http.Client { return roundtrip.NewHTTPClient() }

// New returns a Client for cfg.
func New(cfg Config) *Client {
	c := &Client{
		base:    strings.TrimRight(cfg.BaseURL, "/"),
		appID:   cfg.AppID,
		secret:  cfg.Secret,
		http:    cfg.HTTPClient,
		timeout: cfg.Timeout,
		observe: cfg.Observe,
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.http == nil {
		c.http = NewHTTPClient()
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	return c
}

// AppID returns the AppID the client calls WeChat with.
func (c *Client) AppID() string { return c.appID }

// apiCode2Session is the path of the code exchange.
const apiCode2Session = "/sns/jscode2session"

// Session is a successful jscode2session answer.
type Session struct {
	OpenID     string
	SessionKey string
	UnionID    string // empty unless the app is bound to an open platform account
}

// Code2Session exchanges a wx.login code for the user's openid and
// session_key (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html).
// It is never retried: the code is single-use, and a call that may have
// reached WeChat has spent it.
func (c *Client) Code2Session(ctx context.Context, code string) (Session, error) {
	if code == "" {
		return Session{}, fmt.Errorf("%w: empty code", ErrInvalidCode)
	}
	q := url.Values{
		"appid":      {c.appID},
		"secret":     {c.secret},
		"js_code":    {code},
		"grant_type": {"authorization_code"},
	}
	var out struct {
		envelope
		OpenID     string `json:"openid"`
		SessionKey string `json:"session_key"`
		UnionID    string `json:"unionid"`
	}
	if err := c.call(ctx, http.MethodGet, apiCode2Session, q, nil, &out); err != nil {
		return Session{}, err
	}
	if out.OpenID == "" || out.SessionKey == "" {
		return Session{}, fmt.Errorf("%w: %s answer without openid or session_key", ErrUpstream, apiCode2Session)
	}
	return Session{OpenID: out.OpenID, SessionKey: out.SessionKey, UnionID: out.UnionID}, nil
}

// envelope is the error part every WeChat answer may carry. The answer
// types of this package embed it, so that one decode reads both the
// errcode and the fields (see ParseAnswer).
type envelope struct {
	ErrCode Code   `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (e *envelope) errorPart() *envelope { return e }

// answer is an answer type that embeds envelope.
type answer interface{ errorPart() *envelope }

// Code is WeChat's errcode. It is absent or 0 on success, and has been
// seen as a JSON string ("40029"); all of those decode.
type Code int

// UnmarshalJSON accepts a number, a numeric string, an empty string or null.
func (c *Code) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*c = 0
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSpace(str)
		if s == "" {
			*c = 0
			return nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("errcode %q is not a number", clip(s))
	}
	*c = Code(n)
	return nil
}

// ParseAnswer decodes a WeChat answer body into out and returns the typed
// error for a non-zero errcode. It is what every call uses, exported so
// that it can be fuzzed and reused by alternative transports.
func ParseAnswer(api string, body []byte, out any) error {
	if a, ok := out.(answer); ok {
		// out embeds the envelope: a clean decode has read the errcode
		// too. An answer that does not decode cleanly is looked at again
		// below, so that it is classified exactly as when the errcode is
		// read on its own first (a non-zero errcode wins over a field of
		// the wrong type).
		if err := json.Unmarshal(body, out); err == nil {
			if env := a.errorPart(); env.ErrCode != 0 {
				return newAPIError(api, int(env.ErrCode), env.ErrMsg)
			}
			return nil
		}
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%w: %s answer does not parse: %v", ErrUpstream, api, clip(err.Error()))
	}
	if env.ErrCode != 0 {
		return newAPIError(api, int(env.ErrCode), env.ErrMsg)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%w: %s answer does not parse: %v", ErrUpstream, api, clip(err.Error()))
		}
	}
	return nil
}

// call makes one request to api with query q and, when body is not nil, a
// JSON body, and decodes the answer into out. Transport errors are
// stripped of the URL, which may hold the secret or a code.
func (c *Client) call(ctx context.Context, method, api string, q url.Values, body any, out any) (err error) {
	start := time.Now()
	result := "ok"
	defer func() {
		if c.observe != nil {
			c.observe(api, result, time.Since(start))
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			result = "bad_request"
			return fmt.Errorf("wechat: encode %s request: %w", api, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + api
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		result = "bad_request"
		return fmt.Errorf("wechat: build %s request: bad base URL", api)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	} else {
		// net/http's transport resends a GET without a body by itself when
		// a reused keep-alive connection closes before the answer: for
		// jscode2session that would spend the code twice. An empty body
		// without GetBody makes the request not replayable; nothing is
		// sent for it.
		req.Body = io.NopCloser(strings.NewReader(""))
	}
	// No Accept header: WeChat answers JSON either way.

	resp, err := c.http.Do(req)
	if err != nil {
		result, err = transportError(ctx, api, err)
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		if ctx.Err() != nil {
			result, err = transportError(ctx, api, err)
			return err
		}
		// WeChat answered, but the answer broke off: it does not parse.
		result = "bad_answer"
		return fmt.Errorf("%w: %s answer cut short", ErrUpstream, api)
	}
	switch {
	case resp.StatusCode == http.StatusBadGateway, resp.StatusCode == http.StatusServiceUnavailable,
		resp.StatusCode == http.StatusGatewayTimeout:
		result = "http_" + strconv.Itoa(resp.StatusCode)
		return fmt.Errorf("%w: %s answered HTTP %d", ErrUnavailable, api, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		result = "http_" + strconv.Itoa(resp.StatusCode)
		return fmt.Errorf("%w: %s answered HTTP %d", ErrUpstream, api, resp.StatusCode)
	}
	if err := ParseAnswer(api, b, out); err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			result = "errcode_" + strconv.Itoa(ae.Code)
		} else {
			result = "bad_answer"
		}
		return err
	}
	return nil
}

// transportError classifies a failed round trip without the URL (which
// holds the secret and the code) and returns a metrics result for it.
func transportError(ctx context.Context, api string, err error) (string, error) {
	return roundtrip.Failure(ctx, err, ErrTimeout, ErrUnavailable, api+": ")
}
