package wechat

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultCodeDedupEntries bounds how many recent answers a CodeDedup
// remembers when its config does not say: some 250 bytes each, about
// 1 MB in all. A client resends within seconds of giving up, so the
// bound covers the whole window up to some 70 logins a second on one
// instance, and a few seconds at a thousand; a resend that comes later
// gets WeChat's 40163 (invalid_code) and logs in afresh, as without the
// cache. The bound keeps peak memory under load within twice that of a
// plain server doing the same exchange (bench/README.md).
const DefaultCodeDedupEntries = 4096

// Exchanger exchanges a wx.login code for a Session: *Client, or a
// CodeDedup wrapping one.
type Exchanger interface {
	Code2Session(ctx context.Context, code string) (Session, error)
}

// CodeDedupConfig configures a CodeDedup.
type CodeDedupConfig struct {
	// Window is how long a successful answer for a code is given again to
	// a request that resends the code. Zero or less turns deduplication
	// off: every request makes its own WeChat call.
	Window time.Duration
	// MaxEntries bounds the answers remembered; the oldest go first.
	// DefaultCodeDedupEntries when zero or less.
	MaxEntries int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OnDuplicate, when set, is told of each login answered without a
	// WeChat call of its own: "in_flight" when it shared a concurrent
	// call for the same code, "replayed" when a recent answer was reused.
	OnDuplicate func(kind string)
}

// CodeDedup wraps the code exchange so that a mini program on a flaky
// network may resend its login code: concurrent calls with the same code
// share one jscode2session call (singleflight), and a code exchanged
// within the window gets the same openid, session_key and unionid again
// instead of WeChat's 40163. Failures are never remembered: a failed code
// is tried afresh by WeChat, which knows it is spent.
//
// Only a SHA-256 of each code is kept, never the code, and of the answer
// only the Session (an answer too long for an entry is not remembered).
// Memory is bounded by MaxEntries.
type CodeDedup struct {
	next        Exchanger
	window      time.Duration
	max         int
	now         func() time.Time
	onDuplicate func(string)

	calls singleflight.Group

	// The remembered answers hold no pointers, so the garbage collector
	// never scans them: with pointers (a map and a list of Sessions) it
	// spent a few percent of a login's CPU on them (bench/README.md).
	mu     sync.Mutex
	recent map[[sha256.Size]byte]dedupEntry
	order  [][sha256.Size]byte // the keys, oldest first from head: every entry lives one window
	head   int
}

// dedupEntry is one remembered Session, its openid, session_key and
// unionid back to back in data.
type dedupEntry struct {
	expires             int64 // Unix nanoseconds
	openid, sk, unionid uint8 // lengths in data
	data                [dedupDataSize]byte
}

// dedupDataSize fits WeChat's answers (an openid and a unionid are 28
// characters, a session_key 24: 80 in all) with room to spare; a longer
// answer is simply not remembered.
const dedupDataSize = 104

func newDedupEntry(sess Session, expires int64) (dedupEntry, bool) {
	e := dedupEntry{expires: expires, openid: uint8(len(sess.OpenID)), sk: uint8(len(sess.SessionKey)), unionid: uint8(len(sess.UnionID))}
	if len(sess.OpenID)+len(sess.SessionKey)+len(sess.UnionID) > dedupDataSize {
		return e, false
	}
	n := copy(e.data[:], sess.OpenID)
	n += copy(e.data[n:], sess.SessionKey)
	copy(e.data[n:], sess.UnionID)
	return e, true
}

func (e *dedupEntry) session() Session {
	a, b, c := int(e.openid), int(e.openid)+int(e.sk), int(e.openid)+int(e.sk)+int(e.unionid)
	return Session{OpenID: string(e.data[:a]), SessionKey: string(e.data[a:b]), UnionID: string(e.data[b:c])}
}

// NewCodeDedup wraps next as cfg says.
func NewCodeDedup(next Exchanger, cfg CodeDedupConfig) *CodeDedup {
	d := &CodeDedup{
		next:        next,
		window:      cfg.Window,
		max:         cfg.MaxEntries,
		now:         cfg.Now,
		onDuplicate: cfg.OnDuplicate,
		recent:      make(map[[sha256.Size]byte]dedupEntry),
	}
	if d.max <= 0 {
		d.max = DefaultCodeDedupEntries
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.onDuplicate == nil {
		d.onDuplicate = func(string) {}
	}
	return d
}

// Code2Session answers from a recent or in-flight exchange of the same
// code when there is one, and otherwise asks the wrapped Exchanger.
//
// The call runs on the goroutine of the caller that starts it, and
// concurrent callers for the same code wait for its answer. It does not
// end when a caller goes away: it runs to its own deadline (the WeChat
// client's timeout), so that the answer is there for the resend that a
// client which gave up is about to make. A caller whose context has
// already ended makes no call.
//
// A panic in the wrapped Code2Session reaches every caller as a panic in
// its own goroutine, with the value it was raised with.
func (d *CodeDedup) Code2Session(ctx context.Context, code string) (Session, error) {
	if d.window <= 0 {
		return d.next.Code2Session(ctx, code)
	}
	key := sha256.Sum256([]byte(code))
	if sess, ok := d.lookup(key); ok {
		d.onDuplicate("replayed")
		return sess, nil
	}
	if err := ctx.Err(); err != nil {
		_, err = transportError(ctx, apiCode2Session, err)
		return Session{}, err
	}
	detached := context.WithoutCancel(ctx)
	leader := false // set when this caller's function is the one that runs
	v, err, _ := d.calls.Do(string(key[:]), func() (_ any, err error) {
		leader = true
		// singleflight.Do would re-panic with a value of its own (the
		// leader's stack in its text, http.ErrAbortHandler no longer
		// recognisable); carry the panic to the callers as it was raised.
		defer func() {
			if p := recover(); p != nil {
				err = &panicked{value: p}
			}
		}()
		// A call that finished between lookup and Do has stored its
		// answer: look again rather than spend the code a second time.
		if sess, ok := d.lookup(key); ok {
			d.onDuplicate("replayed")
			return sess, nil
		}
		sess, err := d.next.Code2Session(detached, code)
		if err != nil {
			return nil, err
		}
		d.store(key, sess)
		return sess, nil
	})
	if !leader {
		d.onDuplicate("in_flight")
	}
	if p, ok := err.(*panicked); ok {
		panic(p.value) // in this caller's goroutine
	}
	if err != nil {
		return Session{}, err
	}
	return v.(Session), nil
}

func (d *CodeDedup) lookup(key [sha256.Size]byte) (Session, bool) {
	now := d.now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropExpired(now)
	if e, ok := d.recent[key]; ok {
		return e.session(), true
	}
	return Session{}, false
}

func (d *CodeDedup) store(key [sha256.Size]byte, sess Session) {
	now := d.now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropExpired(now)
	if _, ok := d.recent[key]; ok {
		return // the same code twice: the first answer stands, and expires first
	}
	e, ok := newDedupEntry(sess, now+int64(d.window))
	if !ok {
		return
	}
	if len(d.recent) >= d.max {
		d.dropOldest()
	}
	d.recent[key] = e
	d.order = append(d.order, key)
}

// dropExpired removes the entries past their time, oldest first.
func (d *CodeDedup) dropExpired(now int64) {
	for d.head < len(d.order) && d.recent[d.order[d.head]].expires <= now {
		d.dropOldest()
	}
}

func (d *CodeDedup) dropOldest() {
	delete(d.recent, d.order[d.head])
	d.head++
	if d.head > len(d.order)/2 { // reuse the front half of the slice
		d.order = d.order[:copy(d.order, d.order[d.head:])]
		d.head = 0
	}
}

// Len returns how many answers are remembered now, expired ones not yet
// dropped included.
func (d *CodeDedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.recent)
}

// panicked carries a panic of the wrapped Code2Session to its callers.
type panicked struct{ value any }

func (p *panicked) Error() string { return fmt.Sprint("panic: ", p.value) }
