// Package wechattest is a fake of WeChat's Mini Program server APIs for
// tests, in the manner of net/http/httptest. It behaves like the real
// service, quirks included: errcode is absent on success, answers are
// served as text/plain, a login code is single-use (40163 when reused),
// and errcodes can be sent as strings. Beyond login it serves
// /cgi-bin/stable_token, /wxa/business/getuserphonenumber and
// /wxa/checksession (these two answer errcode 0 on success, as the real
// ones do), and encrypts open data with the session_key it handed out
// (EncryptOpenData, UserInfo, ShareInfo).
//
//	wx := wechattest.NewServer(wechattest.Options{AppID: "wx123", Secret: "s"})
//	defer wx.Close()
//	code := wx.Code("alice") // a fresh wx.login code for user "alice"
//
// Faults (errcodes, HTTP errors, garbage, hangs) are injected with Inject.
package wechattest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Options configures a Fake.
type Options struct {
	AppID  string // the AppID the fake accepts; "wxfake0000000000" when empty
	Secret string // the AppSecret the fake accepts; any non-empty one when empty

	// AllowReuse lets a login code be exchanged more than once, always for
	// the same user (dev mode). The real WeChat answers 40163 instead.
	AllowReuse bool
	// UnionID makes answers carry a unionid, as for an app bound to a
	// WeChat Open Platform account.
	UnionID bool
	// StringErrcode sends errcode as a JSON string ("40029"), a quirk seen
	// in the wild.
	StringErrcode bool
	// ZeroErrcode adds "errcode":0 and "errmsg":"ok" to successful answers,
	// as some WeChat APIs do; jscode2session omits them.
	ZeroErrcode bool

	// AccessTokenTTL is the lifetime of the access tokens /cgi-bin/stable_token
	// issues; 7200s, as WeChat's, when zero.
	AccessTokenTTL time.Duration
	// Now is the fake's clock (access-token and phone-code expiry,
	// watermark timestamps); time.Now when nil.
	Now func() time.Time
}

// Fault, when injected, sees every request first; it returns true when
// it has answered the request itself.
type Fault func(w http.ResponseWriter, r *http.Request) bool

// Fake is the fake WeChat as an http.Handler.
type Fake struct {
	opts Options
	mux  *http.ServeMux

	mu       sync.Mutex
	fault    Fault
	used     map[string]bool   // login codes already exchanged
	codeUser map[string]string // codes minted by Code, to their user
	sessions map[string]string // openid → current session_key
	calls    map[string]int    // API path → calls
	seq      int

	tokens     map[string]time.Time  // access token → expiry
	current    string                // the token stable_token hands out now
	lastForce  time.Time             // the last force_refresh that rotated
	phoneCodes map[string]phoneGrant // codes minted by PhoneCode
	usedPhone  map[string]bool       // phone codes already exchanged
}

// New returns a Fake configured by opts.
func New(opts Options) *Fake {
	if opts.AppID == "" {
		opts.AppID = "wxfake0000000000"
	}
	f := &Fake{
		opts:     opts,
		mux:      http.NewServeMux(),
		used:     map[string]bool{},
		codeUser: map[string]string{},
		sessions: map[string]string{},
		calls:    map[string]int{},

		tokens:     map[string]time.Time{},
		phoneCodes: map[string]phoneGrant{},
		usedPhone:  map[string]bool{},
	}
	f.mux.HandleFunc("/sns/jscode2session", f.jscode2session)
	f.mux.HandleFunc("/cgi-bin/stable_token", f.stableToken)
	f.mux.HandleFunc("/wxa/business/getuserphonenumber", f.getUserPhoneNumber)
	f.mux.HandleFunc("/wxa/checksession", f.checkSession)
	return f
}

// AppID returns the AppID the fake accepts.
func (f *Fake) AppID() string { return f.opts.AppID }

// ServeHTTP counts the call, applies an injected fault, and answers like
// WeChat.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls[r.URL.Path]++
	fault := f.fault
	f.mu.Unlock()
	if fault != nil && fault(w, r) {
		return
	}
	f.mux.ServeHTTP(w, r)
}

// Inject makes every following request go through fault first; nil
// removes it.
func (f *Fake) Inject(fault Fault) {
	f.mu.Lock()
	f.fault = fault
	f.mu.Unlock()
}

// Calls returns how many requests reached path (such as
// "/sns/jscode2session"), faults included.
func (f *Fake) Calls(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

// Code mints a fresh, unused login code for user, as wx.login would on
// that user's phone: every code of one user maps to the same openid.
func (f *Fake) Code(user string) string {
	b := make([]byte, 24)
	rand.Read(b)
	code := base64.RawURLEncoding.EncodeToString(b) // 32 characters, like WeChat's
	f.mu.Lock()
	f.codeUser[code] = user
	f.mu.Unlock()
	return code
}

// OpenID returns the openid the fake gives user (see Code).
func (f *Fake) OpenID(user string) string { return f.derive("openid", user, 'o') }

// UnionID returns the unionid the fake gives user when Options.UnionID is set.
func (f *Fake) UnionID(user string) string { return f.derive("unionid", user, 'u') }

// SessionKey returns the current session_key of openid, or "" when that
// user never logged in.
func (f *Fake) SessionKey(openid string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[openid]
}

// derive makes a stable 28-character id, the length of a real openid.
func (f *Fake) derive(kind, user string, prefix byte) string {
	m := hmac.New(sha256.New, []byte(f.opts.AppID+"/"+kind))
	m.Write([]byte(user))
	return string(prefix) + base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:27]
}

func (f *Fake) jscode2session(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	code := q.Get("js_code")
	switch {
	case r.Method != http.MethodGet:
		f.errcode(w, 43001, "require GET method")
		return
	case q.Get("appid") != f.opts.AppID:
		f.errcode(w, 40013, "invalid appid")
		return
	case q.Get("secret") == "" || (f.opts.Secret != "" && q.Get("secret") != f.opts.Secret):
		f.errcode(w, 40125, "invalid appsecret")
		return
	case q.Get("grant_type") != "authorization_code":
		f.errcode(w, 40002, "invalid grant_type")
		return
	case code == "":
		f.errcode(w, 41008, "missing code")
		return
	}

	f.mu.Lock()
	if f.used[code] && !f.opts.AllowReuse {
		f.mu.Unlock()
		f.errcode(w, 40163, "code been used")
		return
	}
	f.used[code] = true
	user, ok := f.codeUser[code]
	if !ok {
		user = "code:" + code // any code is some user's; the same code, the same user
	}
	openid := f.OpenID(user)
	sk := f.sessions[openid]
	if sk == "" || !f.opts.AllowReuse {
		// A new wx.login replaces the session_key, as WeChat does.
		b := make([]byte, 16)
		rand.Read(b)
		sk = base64.StdEncoding.EncodeToString(b)
		f.sessions[openid] = sk
	}
	f.mu.Unlock()

	ans := map[string]any{"openid": openid, "session_key": sk}
	if f.opts.UnionID {
		ans["unionid"] = f.UnionID(user)
	}
	f.ok(w, ans)
}

// ok writes a successful answer the way WeChat does: text/plain, no
// errcode unless ZeroErrcode.
func (f *Fake) ok(w http.ResponseWriter, ans map[string]any) {
	if f.opts.ZeroErrcode {
		ans["errcode"] = 0
		ans["errmsg"] = "ok"
	}
	f.write(w, ans)
}

// errcode writes an error answer, with a request id in errmsg as WeChat does.
func (f *Fake) errcode(w http.ResponseWriter, code int, msg string) {
	f.mu.Lock()
	f.seq++
	rid := strconv.Itoa(f.seq)
	f.mu.Unlock()
	var c any = code
	if f.opts.StringErrcode {
		c = strconv.Itoa(code)
	}
	f.write(w, map[string]any{"errcode": c, "errmsg": msg + ", rid: fake-" + rid})
}

func (f *Fake) write(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// ErrcodeFault answers every request with errcode and a WeChat-like errmsg.
func ErrcodeFault(code int) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, `{"errcode":`+strconv.Itoa(code)+`,"errmsg":"injected, rid: fault"}`)
		return true
	}
}

// StatusFault answers every request with the HTTP status and body.
func StatusFault(status int, body string) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(status)
		io.WriteString(w, body)
		return true
	}
}

// HangFault never answers: it holds each request until the caller gives
// up or the server closes.
func HangFault(stop <-chan struct{}) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		// Reading the body to its end lets net/http notice a caller that
		// hangs up, and cancel r.Context(), for POST requests too.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
		return true
	}
}

// Server is a Fake served over HTTP on a loopback port.
type Server struct {
	*Fake
	*httptest.Server
	stop chan struct{}
}

// NewServer starts a Fake on 127.0.0.1. Close it when done.
func NewServer(opts Options) *Server {
	f := New(opts)
	return &Server{Fake: f, Server: httptest.NewServer(f), stop: make(chan struct{})}
}

// Hang makes every following request hang until its caller gives up.
func (s *Server) Hang() { s.Inject(HangFault(s.stop)) }

// Close releases hanging requests and shuts the server down.
func (s *Server) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.Server.Close()
}

// Transport returns an http.RoundTripper that serves requests from f in
// process, with no network: dev mode uses it so that one binary needs
// nothing else.
func (f *Fake) Transport() http.RoundTripper { return roundTripper{f} }

type roundTripper struct{ h http.Handler }

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	rt.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}
