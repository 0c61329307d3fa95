// Package logging builds wxlogin's logger: log/slog, JSON or text, at a
// level, over a Writer that gathers lines and writes them in batches.
//
// Writing each request's log line with its own write(2) costs more than
// building it: the call wakes whatever reads the log (a container
// runtime's pipe, a terminal), some 8 µs a line on the machine the README's
// figures come from. The Writer instead holds lines for at most a flush
// interval (or until 32 KiB have gathered) and writes them together, as
// Envoy's access logs and nginx's access_log buffer= do. Warnings and
// errors are never held: each is written at once, with every line before
// it, and Close writes what is left when the process stops. What can be
// lost is only the info lines of the last interval when the process dies
// without stopping (SIGKILL, a runtime fatal error); an interval of zero
// writes every line at once.
package logging

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Options configure New.
type Options struct {
	// Format is "json" (the default) or "text".
	Format string
	// Level is the least level logged.
	Level slog.Level
	// FlushInterval is the longest an info or debug line waits before it
	// is written; zero writes every line at once.
	FlushInterval time.Duration
}

// New returns a logger writing to out as o says, and its Writer, which
// the caller must Close before the process exits so that no line is lost.
func New(out io.Writer, o Options) (*slog.Logger, *Writer) {
	w := NewWriter(out, o.FlushInterval)
	opts := &slog.HandlerOptions{Level: o.Level}
	var h slog.Handler
	if o.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(flushOnWarn{Handler: h, w: w}), w
}

// flushOnWarn writes the gathered lines as soon as a warning or an error
// has been logged, so that those are never late and never lost.
type flushOnWarn struct {
	slog.Handler
	w *Writer
}

func (h flushOnWarn) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushOnWarn) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushOnWarn{Handler: h.Handler.WithAttrs(attrs), w: h.w}
}

func (h flushOnWarn) WithGroup(name string) slog.Handler {
	return flushOnWarn{Handler: h.Handler.WithGroup(name), w: h.w}
}

// MaxBatch is the most a Writer gathers before it writes, whatever the
// interval: half of a Linux pipe's default capacity, so that a batch
// seldom waits for the reader.
const MaxBatch = 32 << 10

// Writer gathers what is written to it (whole log lines, one per Write,
// as slog's handlers write them) and writes it to the underlying writer
// in one call when the oldest part has waited the flush interval, when
// MaxBatch bytes have gathered, on Flush, and on Close. It is safe for
// concurrent use; batches keep the order of the Writes.
type Writer struct {
	interval time.Duration

	mu     sync.Mutex
	out    io.Writer
	buf    []byte
	timer  *time.Timer // runs flushTimer; made by the first buffered Write
	armed  bool        // the timer is due: buf's oldest line is waiting for it
	closed bool
}

// NewWriter returns a Writer over out that holds a line for at most
// interval; with an interval of zero or less it writes every Write at once.
func NewWriter(out io.Writer, interval time.Duration) *Writer {
	return &Writer{out: out, interval: interval}
}

// Write gathers p. It reports an error only when it writes and the
// underlying writer fails; what it had gathered, and p, are then dropped,
// so that a broken log cannot grow memory.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.interval <= 0 || w.closed {
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > MaxBatch {
		if err := w.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= MaxBatch {
			return w.out.Write(p)
		}
	}
	w.buf = append(w.buf, p...)
	if !w.armed {
		w.armed = true
		if w.timer == nil {
			w.timer = time.AfterFunc(w.interval, w.flushTimer)
		} else {
			w.timer.Reset(w.interval)
		}
	}
	return len(p), nil
}

// flushTimer writes what has waited out the interval. A write error here
// has no caller to go to; the next Warn or Close reports a log that is
// still broken.
func (w *Writer) flushTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	w.flushLocked()
}

// Flush writes what has gathered now.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Close writes what has gathered and makes every later Write go straight
// to the underlying writer, which it does not close.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	return w.flushLocked()
}
