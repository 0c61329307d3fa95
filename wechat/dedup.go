package wechat

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultCodeDedupEntries bounds how many recent answers a CodeDedup
// remembers when its config does not say: about 1.4 MiB when full,
// growing to about 5.2 MiB on a long-lived instance as Go's map keeps
// room from deleted entries (measured after 2 million stores). A client
// resends within seconds of giving up, so the bound covers the whole
// window up to some 70 logins a second on one instance, and a few seconds
// at a thousand; a resend that comes later gets WeChat's 40163
// (invalid_code) and logs in afresh, as without the cache.
const DefaultCodeDedupEntries = 4096

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
// from the same caller share one jscode2session call (singleflight), and
// a code exchanged within the window gets the same openid, session_key
// and unionid again instead of WeChat's 40163, for the same caller only.
// Failures are never remembered: a failed code is tried afresh by
// WeChat, which knows it is spent.
//
// The caller is what WithCaller put in the context: the resend exists for
// the device whose answer was lost, so a spent code from anyone else goes
// to WeChat, which refuses it, exactly as without the cache. Calls
// without a caller count as one anonymous caller.
//
// Only a SHA-256 of each app, caller and code is kept, never the code,
// and of the answer only the Session (an answer too long for an entry is
// not remembered). Memory is bounded by MaxEntries.
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
	start       time.Time // the base of the entries' times (see elapsed)
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
	expires             int64 // nanoseconds since dedupCache.start
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
	c := &dedupCache{
		window:      cfg.Window,
		max:         cfg.MaxEntries,
		now:         cfg.Now,
		onDuplicate: cfg.OnDuplicate,
		recent:      make(map[[sha256.Size]byte]dedupEntry),
	}
	if c.max <= 0 {
		c.max = DefaultCodeDedupEntries
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.start = c.now()
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

// key names the answer for code sent by caller to d's app: the app, the
// caller and the code, so that the same code sent to two apps, or by two
// clients, never meets.
func (d *CodeDedup) key(caller, code string) [sha256.Size]byte {
	var buf [400]byte // an AppID, a caller and a login code fit: no allocation
	b := append(buf[:0], d.app...)
	b = append(b, 0) // an AppID holds no NUL: "a"+"bc" and "ab"+"c" differ
	// The caller is length-prefixed, so that no two pairs of caller and
	// code run together into the same input.
	b = strconv.AppendInt(b, int64(len(caller)), 10)
	b = append(b, ':')
	b = append(b, caller...)
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
	key := d.key(callerOf(ctx), code)
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

// callerKey is the context key of WithCaller.
type callerKey struct{}

// WithCaller returns ctx naming the client that sends a login code, for
// CodeDedup: a code is answered from memory, or shares a call in flight,
// only for the caller that exchanged it. wxlogin's caller is the client's
// rate-limit bucket: its IP address, or its /64 for IPv6.
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

func callerOf(ctx context.Context) string {
	c, _ := ctx.Value(callerKey{}).(string)
	return c
}

// elapsed is the time since the cache was made, in nanoseconds. It is
// measured from a time.Time so that, with time.Now, it is monotonic: a
// step of the wall clock neither ends an entry early nor keeps it past
// its window.
func (d *dedupCache) elapsed() int64 { return int64(d.now().Sub(d.start)) }

func (d *CodeDedup) lookup(key [sha256.Size]byte) (Session, bool) {
	now := d.elapsed()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropExpired(now)
	// dropExpired stops at the oldest entry still live; a later one may
	// have expired already (a clock that went back between the two), and
	// is never given past its own window.
	if e, ok := d.recent[key]; ok && now < e.expires {
		return e.session(), true
	}
	return Session{}, false
}

func (d *CodeDedup) store(key [sha256.Size]byte, sess Session) {
	now := d.elapsed()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropExpired(now)
	old, seen := d.recent[key]
	if seen && now < old.expires {
		return // the same code twice: the first answer stands, and expires first
	}
	e, ok := newDedupEntry(sess, now+int64(d.window))
	if !ok {
		return
	}
	if seen {
		// An expired entry that dropExpired has not reached (see lookup):
		// the key is in order already.
		d.recent[key] = e
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
