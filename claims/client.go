package claims

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/wxlogin/wxlogin/internal/httpurl"
	"github.com/wxlogin/wxlogin/internal/roundtrip"
)

// Errors of a hook call, one for each of the contract's outcomes. Every
// error Client.Call returns is one of them (errors.Is), so wxlogin maps
// a failed call to its code without looking further:
//
//	ErrDenied      → login_denied (with DeniedError.Detail)
//	ErrTimeout     → upstream_timeout
//	ErrUnavailable → upstream_unavailable
//	ErrUpstream    → upstream_error (ErrBadAnswer among them)
var (
	// ErrDenied: the hook answered 403, refusing this user. The error is
	// a *DeniedError with the hook's detail.
	ErrDenied = errors.New("claims: the hook denied the login")
	// ErrUpstream: the hook answered with a status other than 200 and
	// 403, cut its answer short, or gave an answer that breaks the
	// protocol (ErrBadAnswer).
	ErrUpstream = errors.New("claims: the hook failed")
	// ErrBadAnswer: the hook answered 200 with an answer that breaks a
	// rule; the error is an *AnswerError naming it. The hook is broken
	// for every user until it is fixed, so this is worth a loud log line.
	ErrBadAnswer = errors.New("claims: bad answer from the hook")
	// ErrTimeout: the hook did not answer within the deadline.
	ErrTimeout = errors.New("claims: the hook did not answer in time")
	// ErrUnavailable: the hook could not be reached (connection refused,
	// no such host, connection dropped before an answer), or the caller
	// gave up first (the error then also matches context.Canceled).
	ErrUnavailable = errors.New("claims: the hook is unavailable")
)

// DeniedError is a 403 answer: the hook refuses this user.
type DeniedError struct {
	// Detail is the detail of the hook's problem JSON, made safe to show
	// the user (printable, one line, at most MaxDetailLen characters);
	// empty when the hook gave none.
	Detail string
}

// Error says the hook denied the login, with its detail.
func (e *DeniedError) Error() string {
	if e.Detail == "" {
		return ErrDenied.Error()
	}
	return ErrDenied.Error() + ": " + e.Detail
}

// Unwrap returns ErrDenied.
func (e *DeniedError) Unwrap() error { return ErrDenied }

// DefaultTimeout is a call's deadline when Config.Timeout is zero, the
// contract's default of WXLOGIN_CLAIMS_TIMEOUT.
const DefaultTimeout = 2 * time.Second

// Config is what a Client needs.
type Config struct {
	// URL is the hook, an http or https URL (WXLOGIN_CLAIMS_URL).
	URL string
	// Key is the decoded shared secret, at least MinKeySize bytes (see
	// DecodeKey).
	Key []byte
	// Timeout is the deadline of one call; DefaultTimeout when zero.
	Timeout time.Duration
	// HTTPClient makes the calls; NewHTTPClient() when nil.
	HTTPClient *http.Client
	// Now is the clock the signature's timestamp is taken from; time.Now
	// when nil.
	Now func() time.Time
	// Observe, when set, is told the outcome of every call: "ok",
	// "denied", "bad_answer", "http_<status>", "timeout", "unavailable",
	// "canceled" or (a request that does not encode) "bad_request", and
	// how long it took. Metrics hang here.
	Observe func(result string, took time.Duration)
}

// Results returns the results Config.Observe can be told, besides
// "http_<status>" for any other status: for metrics to export from
// start-up.
func Results() []string {
	return []string{"ok", "denied", "bad_answer", "timeout", "unavailable", "canceled", "bad_request"}
}

// Client calls the claims hook for wxlogin. It is safe for concurrent
// use. Every call is one POST, never retried: the hook may have acted on
// a request whose answer was lost.
type Client struct {
	url     string
	key     []byte
	timeout time.Duration
	http    *http.Client
	now     func() time.Time
	observe func(string, time.Duration)
}

// CheckURL reports whether s can be a hook's URL: absolute, http or
// https, with a host.
func CheckURL(s string) error {
	if _, err := httpurl.Parse(s); err != nil {
		return fmt.Errorf("claims: the hook URL %v", err)
	}
	return nil
}

// NewClient returns a Client for cfg, or an error when the URL or the
// key is unusable.
func NewClient(cfg Config) (*Client, error) {
	if err := CheckURL(cfg.URL); err != nil {
		return nil, err
	}
	if len(cfg.Key) < MinKeySize {
		return nil, fmt.Errorf("claims: the key is %d bytes; want at least %d", len(cfg.Key), MinKeySize)
	}
	c := &Client{
		url:     cfg.URL,
		key:     bytes.Clone(cfg.Key),
		timeout: cfg.Timeout,
		http:    cfg.HTTPClient,
		now:     cfg.Now,
		observe: cfg.Observe,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.http == nil {
		c.http = NewHTTPClient()
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// NewHTTPClient returns the HTTP client a Client uses by default:
// keep-alive with an idle pool sized for many concurrent logins to one
// host, idle connections closed after 30 s (before a server's usual
// keep-alive timeout), and no redirects followed, so that the signed
// request with the user's ids goes nowhere but the configured URL. It
// sets no overall timeout; each call carries its own deadline.
func NewHTTPClient() *http.Client { return roundtrip.NewHTTPClient() }

// Call sends r to the hook, signed, with requestID in the X-Request-Id
// header (none when empty), and returns its checked answer. The error
// is one of ErrDenied, ErrUpstream, ErrTimeout and ErrUnavailable; its
// message never holds the answer's values.
func (c *Client) Call(ctx context.Context, requestID string, r Request) (Answer, error) {
	start := time.Now()
	result := "ok"
	defer func() {
		if c.observe != nil {
			c.observe(result, time.Since(start))
		}
	}()

	body, err := json.Marshal(r)
	if err != nil {
		result = "bad_request"
		return Answer{}, fmt.Errorf("claims: encode request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		result = "bad_request"
		return Answer{}, errors.New("claims: build request: bad URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(c.key, body, c.now()))
	if requestID != "" {
		req.Header.Set(RequestIDHeader, requestID)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		result, err = transportError(ctx, err)
		return Answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize+1))
	if err != nil {
		if ctx.Err() != nil {
			result, err = transportError(ctx, err)
			return Answer{}, err
		}
		result = "bad_answer"
		return Answer{}, fmt.Errorf("%w: the answer was cut short", ErrUpstream)
	}

	switch resp.StatusCode {
	case http.StatusOK:
		a, err := ParseAnswer(b)
		if err != nil {
			result = "bad_answer"
			return Answer{}, err
		}
		return a, nil
	case http.StatusForbidden:
		result = "denied"
		return Answer{}, &DeniedError{Detail: denialDetail(b)}
	default:
		result = "http_" + strconv.Itoa(resp.StatusCode)
		return Answer{}, fmt.Errorf("%w: it answered HTTP %d", ErrUpstream, resp.StatusCode)
	}
}

// denialDetail is the detail member of a 403 answer's problem JSON, made
// safe to pass on, or "" when the answer holds none.
func denialDetail(body []byte) string {
	var p struct {
		Detail string `json:"detail"`
	}
	if len(body) > maxAnswerSize || json.Unmarshal(body, &p) != nil {
		return ""
	}
	return sanitizeDetail(p.Detail)
}

// transportError classifies a failed round trip, without the URL (which
// may hold credentials), and returns a metrics result for it.
func transportError(ctx context.Context, err error) (string, error) {
	return roundtrip.Failure(ctx, err, ErrTimeout, ErrUnavailable, "")
}
