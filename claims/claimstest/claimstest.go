// Package claimstest is a claims hook for tests, in the manner of
// net/http/httptest: a loopback server that verifies every request's
// signature as a real hook must, records what it was sent, and answers
// as the test configures it (an answer, a denial, an HTTP error, a body
// that is not JSON, or no answer at all).
//
//	hook := claimstest.NewServer()
//	defer hook.Close()
//	hook.Answer(claims.Answer{Sub: "user-42", Claims: map[string]any{"roles": []string{"admin"}}})
//	// point wxlogin at hook.URL with the secret hook.Secret()
//	calls := hook.Calls() // what wxlogin sent, and whether its signature verified
//
// A request whose signature does not verify is recorded with its error
// and answered 401: wxlogin then fails the login with upstream_error.
package claimstest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/wxlogin/wxlogin/claims"
)

// Call is one request the hook received.
type Call struct {
	// Request is the decoded request; zero when Err is set.
	Request claims.Request
	// Body is the request body as received, for checks on exact bytes
	// (that no secret is in it, say).
	Body []byte
	// Header is the request's header.
	Header http.Header
	// Err is why the request was refused (a bad signature), or nil.
	Err error
}

// Reply answers one verified request.
type Reply func(w http.ResponseWriter, r *http.Request, req claims.Request)

// Server is the test hook on a loopback port. Its methods are safe for
// concurrent use.
type Server struct {
	*httptest.Server
	key  []byte
	now  func() time.Time
	stop chan struct{}

	mu    sync.Mutex
	reply Reply
	calls []Call
}

// Options configures a Server; the zero value is fine.
type Options struct {
	// Key is the HMAC key; 32 fresh random bytes when nil.
	Key []byte
	// Now is the clock signatures are checked against; time.Now when nil.
	Now func() time.Time
}

// NewServer starts a hook that answers {} (no change to the token)
// until told otherwise, with a fresh random key. Close it when done.
func NewServer() *Server { return NewServerWith(Options{}) }

// NewServerWith starts a hook configured by opts.
func NewServerWith(opts Options) *Server {
	s := &Server{key: opts.Key, now: opts.Now, stop: make(chan struct{})}
	if s.key == nil {
		s.key = make([]byte, 32)
		rand.Read(s.key)
	}
	s.reply = AnswerReply(claims.Answer{})
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Key returns the HMAC key the hook verifies with.
func (s *Server) Key() []byte { return s.key }

// Secret returns the key as WXLOGIN_CLAIMS_SECRET holds it (base64).
func (s *Server) Secret() string { return base64.StdEncoding.EncodeToString(s.key) }

// Calls returns every request received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	copy(out, s.calls)
	return out
}

// Reply makes every following verified request answered by reply.
func (s *Server) Reply(reply Reply) {
	s.mu.Lock()
	s.reply = reply
	s.mu.Unlock()
}

// Answer makes the hook answer 200 with a, encoded as given (even when a
// breaks the protocol's rules: that is for testing wxlogin's checks).
func (s *Server) Answer(a claims.Answer) { s.Reply(AnswerReply(a)) }

// AnswerFunc makes the hook answer 200 with what fn returns for each
// request.
func (s *Server) AnswerFunc(fn func(claims.Request) claims.Answer) {
	s.Reply(func(w http.ResponseWriter, r *http.Request, req claims.Request) {
		writeJSON(w, http.StatusOK, "application/json", fn(req))
	})
}

// Deny makes the hook answer 403: a problem JSON with detail, or an
// empty body when detail is "".
func (s *Server) Deny(detail string) {
	s.Reply(func(w http.ResponseWriter, r *http.Request, req claims.Request) {
		if detail == "" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		writeJSON(w, http.StatusForbidden, "application/problem+json", map[string]any{
			"title": "Forbidden", "status": http.StatusForbidden, "detail": detail,
		})
	})
}

// Respond makes the hook answer status with body as is: a 5xx, a body
// that is not JSON, or JSON that breaks the protocol.
func (s *Server) Respond(status int, contentType, body string) {
	s.Reply(func(w http.ResponseWriter, r *http.Request, req claims.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
}

// Hang makes the hook never answer: each request is held until its
// caller gives up or the server closes.
func (s *Server) Hang() {
	s.Reply(func(w http.ResponseWriter, r *http.Request, req claims.Request) {
		select {
		case <-r.Context().Done():
		case <-s.stop:
			// Hang up without an answer, as a hook that goes away does.
			panic(http.ErrAbortHandler)
		}
	})
}

// AnswerReply answers 200 with a.
func AnswerReply(a claims.Answer) Reply {
	return func(w http.ResponseWriter, r *http.Request, req claims.Request) {
		writeJSON(w, http.StatusOK, "application/json", a)
	}
}

// Close releases hanging requests and shuts the server down.
func (s *Server) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.Server.Close()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// The whole body is read before anything else, which also lets
	// net/http notice a caller that hangs up and cancel r.Context().
	body, err := io.ReadAll(r.Body)
	call := Call{Body: body, Header: r.Header.Clone(), Err: err}
	if err == nil {
		call.Request, call.Err = claims.Verifier{Keys: [][]byte{s.key}, Now: s.now}.ConstructEvent(body, r.Header.Get(claims.SignatureHeader))
	}
	if r.Method != http.MethodPost && call.Err == nil {
		call.Err = errMethod
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	reply := s.reply
	s.mu.Unlock()
	if call.Err != nil {
		writeJSON(w, http.StatusUnauthorized, "application/problem+json", map[string]any{
			"title": "Unauthorized", "status": http.StatusUnauthorized, "detail": call.Err.Error(),
		})
		return
	}
	reply(w, r, call.Request)
}

var errMethod = errors.New("claimstest: the hook is called with POST only")

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
