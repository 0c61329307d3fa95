package wechat

import (
	"container/list"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultCodeDedupEntries bounds how many recent answers a CodeDedup
// remembers when its config does not say: some 300 bytes each, so a few
// megabytes at most. A resend comes within seconds of the first try, so
// the bound covers a minute of over 150 logins a second, and several
// seconds of ten times that, on one instance.
const DefaultCodeDedupEntries = 10_000

// Exchanger exchanges a wx.login code for a Session: *Client, or a
// CodeDedup wrapping one.
type Exchanger interface {
	Code2Session(ctx context.Context, code string) (Session, error)
}

// CodeDedupConfig configures a CodeDedup.
type CodeDedupConfig struct {
	// AppID is the app whose codes the wrapped Exchanger exchanges; with
	// ForApp, other apps share the cache (see CodeDedup).
	AppID string
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
// Only a SHA-256 of each app and code is kept, never the code, and of the
// answer only the Session. Memory is bounded by MaxEntries.
//
// A server of several apps shares one cache (one bound) among them: ForApp
// wraps another app's Exchanger. An answer is shared or replayed only for
// the same app and code, never across apps: a code is one app's, and the
// same string sent to another app is that app's to exchange.
type CodeDedup struct {
	app  string
	next Exchanger
	*dedupCache
}

// dedupCache is what the CodeDedups of every app share.
type dedupCache struct {
	window      time.Duration
	max         int
	now         func() time.Time
	onDuplicate func(string)

	calls singleflight.Group

	mu     sync.Mutex
	recent map[[sha256.Size]byte]*list.Element
	order  list.List // of *dedupEntry, oldest first: every entry lives one window
}

type dedupEntry struct {
	key     [sha256.Size]byte
	sess    Session
	expires time.Time
}

// NewCodeDedup wraps next as cfg says.
func NewCodeDedup(next Exchanger, cfg CodeDedupConfig) *CodeDedup {
	c := &dedupCache{
		window:      cfg.Window,
		max:         cfg.MaxEntries,
		now:         cfg.Now,
		onDuplicate: cfg.OnDuplicate,
		recent:      make(map[[sha256.Size]byte]*list.Element),
	}
	if c.max <= 0 {
		c.max = DefaultCodeDedupEntries
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.onDuplicate == nil {
		c.onDuplicate = func(string) {}
	}
	return &CodeDedup{app: cfg.AppID, next: next, dedupCache: c}
}

// ForApp wraps next, the code exchange of the app appid, with the same
// cache, window and bound as d.
func (d *CodeDedup) ForApp(appid string, next Exchanger) *CodeDedup {
	return &CodeDedup{app: appid, next: next, dedupCache: d.dedupCache}
}

// key names the answer for code in d's app: the app and the code, so
// that the same code sent to two apps never meets.
func (d *CodeDedup) key(code string) [sha256.Size]byte {
	var buf [320]byte // an AppID and a login code fit: no allocation
	b := append(buf[:0], d.app...)
	b = append(b, 0) // an AppID holds no NUL: "a"+"bc" and "ab"+"c" differ
	b = append(b, code...)
	return sha256.Sum256(b)
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
	key := d.key(code)
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
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropExpired(now)
	if e, ok := d.recent[key]; ok {
		return e.Value.(*dedupEntry).sess, true
	}
	return Session{}, false
}

func (d *CodeDedup) store(key [sha256.Size]byte, sess Session) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropExpired(now)
	if _, ok := d.recent[key]; ok {
		return // the same code twice: the first answer stands, and expires first
	}
	if d.order.Len() >= d.max {
		d.drop(d.order.Front())
	}
	d.recent[key] = d.order.PushBack(&dedupEntry{key: key, sess: sess, expires: now.Add(d.window)})
}

// dropExpired removes the entries past their time, oldest first.
func (d *CodeDedup) dropExpired(now time.Time) {
	for e := d.order.Front(); e != nil && !now.Before(e.Value.(*dedupEntry).expires); e = d.order.Front() {
		d.drop(e)
	}
}

func (d *CodeDedup) drop(e *list.Element) {
	delete(d.recent, e.Value.(*dedupEntry).key)
	d.order.Remove(e)
}

// Len returns how many answers are remembered now, expired ones not yet
// dropped included.
func (d *CodeDedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.order.Len()
}

// panicked carries a panic of the wrapped Code2Session to its callers.
type panicked struct{ value any }

func (p *panicked) Error() string { return fmt.Sprint("panic: ", p.value) }
