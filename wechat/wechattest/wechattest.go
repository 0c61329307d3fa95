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
// One fake serves several mini programs, as WeChat does: Options.Apps
// lists more AppIDs, each with its own secret, and App(appid) mints codes
// and open data for one of them. A user has a different openid in every
// app and, in apps bound to the Open Platform account (UnionID), the same
// unionid in all of them. A code, a session_key, an access token and a
// phone code belong to the app they were issued for: another app's
// credentials get WeChat's error for them.
//
// Faults (errcodes, HTTP errors, garbage, hangs) are injected with Inject.
package wechattest

import (
	"bytes"
	"crypto/hmac"
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
	AppID  string // the first AppID the fake serves; "wxfake0000000000" when empty
	Secret string // its AppSecret; any non-empty one when empty
	// Apps are more mini programs the fake serves beside AppID.
	Apps []AppConfig

	// AllowReuse lets a login code be exchanged more than once, always for
	// the same user (dev mode). The real WeChat answers 40163 instead.
	AllowReuse bool
	// UnionID makes AppID's answers carry a unionid, as for an app bound
	// to a WeChat Open Platform account.
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

// AppConfig is one more mini program a Fake serves.
type AppConfig struct {
	AppID  string // required, and unique
	Secret string // the AppSecret; any non-empty one when empty
	// UnionID makes this app's answers carry the user's unionid: the app
	// is bound to the Open Platform account, as every app with UnionID is.
	UnionID bool
}

// Fault, when injected, sees every request first; it returns true when
// it has answered the request itself.
type Fault func(w http.ResponseWriter, r *http.Request) bool

// Fake is the fake WeChat as an http.Handler.
type Fake struct {
	opts  Options
	mux   *http.ServeMux
	first *App
	apps  map[string]*App // by AppID

	mu       sync.Mutex
	fault    Fault
	used     map[appKey]bool      // login codes already exchanged
	codeUser map[string]codeGrant // codes minted by Code, to their app and user
	sessions map[appKey]string    // (app, openid) → current session_key
	calls    map[string]int       // API path → calls
	seq      int

	tokens     map[string]tokenGrant // access token → its app and expiry
	phoneCodes map[string]phoneGrant // codes minted by PhoneCode
	usedPhone  map[string]bool       // phone codes already exchanged
}

// appKey names something that belongs to one app: a code, an openid.
type appKey struct{ app, id string }

// codeGrant is who a login code was minted for.
type codeGrant struct{ app, user string }

// tokenGrant is what an access token stands for.
type tokenGrant struct {
	app     string
	expires time.Time
}

// New returns a Fake configured by opts. It panics when an AppID of
// opts.Apps is empty or given twice.
func New(opts Options) *Fake {
	if opts.AppID == "" {
		opts.AppID = "wxfake0000000000"
	}
	f := &Fake{
		opts:     opts,
		mux:      http.NewServeMux(),
		apps:     map[string]*App{},
		used:     map[appKey]bool{},
		codeUser: map[string]codeGrant{},
		sessions: map[appKey]string{},
		calls:    map[string]int{},

		tokens:     map[string]tokenGrant{},
		phoneCodes: map[string]phoneGrant{},
		usedPhone:  map[string]bool{},
	}
	for _, c := range append([]AppConfig{{AppID: opts.AppID, Secret: opts.Secret, UnionID: opts.UnionID}}, opts.Apps...) {
		if c.AppID == "" || f.apps[c.AppID] != nil {
			panic("wechattest: AppID " + strconv.Quote(c.AppID) + " is empty or given twice")
		}
		f.apps[c.AppID] = &App{f: f, cfg: c}
	}
	f.first = f.apps[opts.AppID]
	f.mux.HandleFunc("/sns/jscode2session", f.jscode2session)
	f.mux.HandleFunc("/cgi-bin/stable_token", f.stableToken)
	f.mux.HandleFunc("/wxa/business/getuserphonenumber", f.getUserPhoneNumber)
	f.mux.HandleFunc("/wxa/checksession", f.checkSession)
	return f
}

// App is one mini program the fake serves: its users' codes, ids,
// session_keys and open data. The Fake's own methods of the same names
// are those of its first app, Options.AppID, but for UnionID.
type App struct {
	f   *Fake
	cfg AppConfig

	// The access token stable_token hands out now, and the last
	// force_refresh that rotated it; guarded by f.mu.
	current   string
	lastForce time.Time
}

// App returns the app appid. It panics when the fake does not serve it.
func (f *Fake) App(appid string) *App {
	a := f.apps[appid]
	if a == nil {
		panic("wechattest: the fake does not serve AppID " + strconv.Quote(appid))
	}
	return a
}

// AppID returns the first AppID the fake serves, Options.AppID.
func (f *Fake) AppID() string { return f.first.cfg.AppID }

// AppID returns the app's AppID.
func (a *App) AppID() string { return a.cfg.AppID }

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

// Code mints a fresh login code of the first app for user (see App.Code).
func (f *Fake) Code(user string) string { return f.first.Code(user) }

// OpenID returns the openid the first app gives user.
func (f *Fake) OpenID(user string) string { return f.first.OpenID(user) }

// UnionID returns the unionid of user, the same in every app, whether or
// not an app hands it out (App.UnionID gives "" for an app that does not).
func (f *Fake) UnionID(user string) string { return derive("open-platform/unionid", user, 'u') }

// SessionKey returns the current session_key of openid in the first app,
// or "" when that user never logged in to it.
func (f *Fake) SessionKey(openid string) string { return f.first.SessionKey(openid) }

// Code mints a fresh, unused login code of this app for user, as wx.login
// would in this mini program on that user's phone: every code of one user
// maps to the same openid. Another app's jscode2session refuses it (40029).
func (a *App) Code(user string) string {
	code := randomString(24) // 32 characters, like WeChat's
	a.f.mu.Lock()
	a.f.codeUser[code] = codeGrant{app: a.cfg.AppID, user: user}
	a.f.mu.Unlock()
	return code
}

// OpenID returns the openid this app gives user (see Code): each app
// gives the same user another one.
func (a *App) OpenID(user string) string { return derive(a.cfg.AppID+"/openid", user, 'o') }

// UnionID returns the unionid this app's answers carry for user, or ""
// when the app is not bound to the Open Platform account (no UnionID).
func (a *App) UnionID(user string) string {
	if !a.cfg.UnionID {
		return ""
	}
	return a.f.UnionID(user)
}

// SessionKey returns the current session_key of openid in this app, or ""
// when that user never logged in to it.
func (a *App) SessionKey(openid string) string {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	return a.f.sessions[appKey{a.cfg.AppID, openid}]
}

// derive makes a stable 28-character id, the length of a real openid.
func derive(key, user string, prefix byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(user))
	return string(prefix) + base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:27]
}

// checkSecret answers the errcode for appid and secret, 0 when the fake
// serves the app and the secret is its own, with the app.
func (f *Fake) checkSecret(appid, secret string) (*App, int, string) {
	a := f.apps[appid]
	switch {
	case a == nil:
		return nil, 40013, "invalid appid"
	case secret == "" || (a.cfg.Secret != "" && secret != a.cfg.Secret):
		return nil, 40125, "invalid appsecret"
	}
	return a, 0, ""
}

func (f *Fake) jscode2session(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		f.errcode(w, 43001, "require GET method")
		return
	}
	q := r.URL.Query()
	code := q.Get("js_code")
	a, errcode, msg := f.checkSecret(q.Get("appid"), q.Get("secret"))
	switch {
	case errcode != 0:
		f.errcode(w, errcode, msg)
		return
	case q.Get("grant_type") != "authorization_code":
		f.errcode(w, 40002, "invalid grant_type")
		return
	case code == "":
		f.errcode(w, 41008, "missing code")
		return
	}

	f.mu.Lock()
	grant, minted := f.codeUser[code]
	if minted && grant.app != a.cfg.AppID {
		f.mu.Unlock()
		f.errcode(w, 40029, "invalid code") // wx.login's code is for the app that called it
		return
	}
	key := appKey{a.cfg.AppID, code}
	if f.used[key] && !f.opts.AllowReuse {
		f.mu.Unlock()
		f.errcode(w, 40163, "code been used")
		return
	}
	f.used[key] = true
	user := grant.user
	if !minted {
		user = "code:" + code // any code is some user's; the same code, the same user
	}
	openid := a.OpenID(user)
	sk := f.sessions[appKey{a.cfg.AppID, openid}]
	if sk == "" || !f.opts.AllowReuse {
		// A new wx.login replaces the session_key, as WeChat does.
		sk = base64.StdEncoding.EncodeToString(randomBytes(16))
		f.sessions[appKey{a.cfg.AppID, openid}] = sk
	}
	f.mu.Unlock()

	ans := map[string]any{"openid": openid, "session_key": sk}
	if u := a.UnionID(user); u != "" {
		ans["unionid"] = u
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
