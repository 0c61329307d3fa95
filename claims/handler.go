package claims

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/wxlogin/wxlogin/internal/text"
)

// maxRequestSize bounds a request body on the hook's side: a request
// holds a few ids and, on a phone event, at most MaxClaimsSize of claims.
const maxRequestSize = 64 << 10

// HandlerFunc decides the answer to one verified request. To refuse the
// user it returns Deny(detail); any other error is answered 500, which
// fails the login with upstream_error.
type HandlerFunc func(ctx context.Context, r Request) (Answer, error)

// Deny returns the error a HandlerFunc returns to refuse the user:
// answered 403 with detail, which wxlogin shows the user (at most
// MaxDetailLen characters; say why, and what to do).
func Deny(detail string) error { return &DeniedError{Detail: detail} }

// Handler serves a hook over HTTP: it verifies each request's signature,
// decodes it, asks Func for the answer, checks the answer against the
// protocol and writes it. Requests that do not verify never reach Func.
type Handler struct {
	Verifier Verifier
	Func     HandlerFunc
	// Log receives a line for every refused request and failed answer;
	// slog.Default() when nil.
	Log *slog.Logger
}

// ServeHTTP answers one request from wxlogin.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeProblem(w, http.StatusMethodNotAllowed, "")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestSize))
	if err != nil {
		log.WarnContext(r.Context(), "claims hook: request refused", "err", err)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, http.StatusRequestEntityTooLarge, "")
		} else {
			writeProblem(w, http.StatusBadRequest, "")
		}
		return
	}
	req, err := h.Verifier.ConstructEvent(body, r.Header.Get(SignatureHeader))
	if err != nil {
		log.WarnContext(r.Context(), "claims hook: request refused", "err", err)
		if errors.Is(err, ErrShortKey) {
			writeProblem(w, http.StatusInternalServerError, "")
		} else {
			writeProblem(w, http.StatusUnauthorized, "")
		}
		return
	}
	// Only a verified request's id is logged, and only in the form
	// wxlogin gives its ids: the header is not signed, and anyone can
	// send a request that fails verification.
	if id := r.Header.Get(RequestIDHeader); text.IsID(id) {
		log = log.With("request_id", id)
	}

	a, err := h.Func(r.Context(), req)
	var denied *DeniedError
	switch {
	case errors.As(err, &denied):
		writeProblem(w, http.StatusForbidden, denied.Detail)
		return
	case err != nil:
		log.ErrorContext(r.Context(), "claims hook: no answer", "event", req.Event, "err", err)
		writeProblem(w, http.StatusInternalServerError, "")
		return
	}
	b, err := a.encode()
	if err != nil {
		log.ErrorContext(r.Context(), "claims hook: the answer breaks the protocol; wxlogin would refuse it", "event", req.Event, "err", err)
		writeProblem(w, http.StatusInternalServerError, "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// writeProblem answers an RFC 9457 problem; detail only for a denial.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail,omitempty"`
	}{http.StatusText(status), status, detail})
}
