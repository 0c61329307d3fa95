package handlers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wxlogin/wxlogin/wechat"
)

// DefaultCodeDedupEntries bounds how many recent answers a CodeDedup
// remembers: at about 300 bytes each (a 150-byte slot and its index
// entry), 100,000 are some 30 MB at most, and cover 60 seconds of over
// 1,600 logins a second on one instance.
const DefaultCodeDedupEntries = 100_000

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

// CodeDedup wraps a WeChat so that a mini program on a flaky network may
// resend its login code: concurrent requests with the same code share one
// jscode2session call (singleflight), and a code exchanged within the
// window gets the same openid, session_key and unionid again instead of
// WeChat's 40163 (the handler then signs a fresh token for them).
// Failures are never remembered: a failed code is tried afresh by WeChat,
// which knows it is spent.
//
// Only a SHA-256 of each code is kept, never the code, and of the answer
// only openid, session_key and unionid. Memory is bounded by MaxEntries.
// Methods other than Code2Session are the wrapped WeChat's.
type CodeDedup struct {
	WeChat

	window      time.Duration
	max         int
	now         func() time.Time
	onDuplicate func(string)

	calls singleflight.Group

	mu     sync.Mutex
	recent dedupRing
}

// NewCodeDedup wraps wx as cfg says.
func NewCodeDedup(wx WeChat, cfg CodeDedupConfig) *CodeDedup {
	d := &CodeDedup{
		WeChat:      wx,
		window:      cfg.Window,
		max:         cfg.MaxEntries,
		now:         cfg.Now,
		onDuplicate: cfg.OnDuplicate,
	}
	if d.max <= 0 {
		d.max = DefaultCodeDedupEntries
	}
	d.recent.init(d.max)
	if d.now == nil {
		d.now = time.Now
	}
	if d.onDuplicate == nil {
		d.onDuplicate = func(string) {}
	}
	return d
}

// Code2Session answers from a recent or in-flight exchange of the same
// code when there is one, and otherwise asks WeChat.
//
// The call runs on the goroutine of the request that starts it (the
// leader), and concurrent requests for the same code wait for its answer.
// It does not end when a caller goes away: it runs to its own deadline
// (the WeChat client's timeout), so that the answer is there for the
// resend that a client which gave up is about to make. A caller whose
// context has already ended makes no call. Running the call on the
// leader's goroutine rather than a fresh one (singleflight's DoChan)
// saves a goroutine, its stack growth and two hand-offs per login (the
// README's performance section has the figures); the price is that a
// caller which gives up still waits out the shared call, at most the
// WeChat timeout.
//
// A panic in the wrapped Code2Session reaches every caller as a panic in
// its own goroutine, with the value it was raised with, for recoverPanics
// to answer.
func (d *CodeDedup) Code2Session(ctx context.Context, code string) (wechat.Session, error) {
	if d.window <= 0 {
		return d.WeChat.Code2Session(ctx, code)
	}
	key := sha256.Sum256([]byte(code))
	if sess, ok := d.lookup(key); ok {
		d.onDuplicate("replayed")
		return sess, nil
	}
	if ctx.Err() != nil {
		return wechat.Session{}, contextError(ctx)
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
		sess, err := d.WeChat.Code2Session(detached, code)
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
		panic(p.value) // in this request's goroutine, for recoverPanics
	}
	if err != nil {
		return wechat.Session{}, err
	}
	return v.(wechat.Session), nil
}

func (d *CodeDedup) lookup(key [sha256.Size]byte) (wechat.Session, bool) {
	now := d.now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recent.dropExpired(now)
	return d.recent.get(key)
}

func (d *CodeDedup) store(key [sha256.Size]byte, sess wechat.Session) {
	now := d.now().UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recent.dropExpired(now)
	d.recent.put(key, sess, now+int64(d.window))
}

// panicked carries a panic of the wrapped Code2Session to its callers.
type panicked struct{ value any }

func (p *panicked) Error() string { return fmt.Sprint("panic: ", p.value) }

// contextError is the error the WeChat client gives when ctx has ended.
func contextError(ctx context.Context) error {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%w: /sns/jscode2session: no answer in time", wechat.ErrTimeout)
	}
	return fmt.Errorf("%w: /sns/jscode2session: %w", wechat.ErrUnavailable, ctx.Err())
}

// Len returns how many answers are remembered now, expired ones not yet
// dropped included.
func (d *CodeDedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.recent.n
}

// dedupRing holds the recent answers in insertion order, which is also
// expiry order since every answer lives one window. It holds no pointers
// (fixed-size entries in one slice, an index map of arrays to integers),
// so the garbage collector never scans it however full it is; it grows
// as needed up to its bound, and the oldest entry goes when it is full.
type dedupRing struct {
	max     int
	entries []dedupEntry // a ring: head is the oldest, n are in use
	head, n int
	index   map[[sha256.Size]byte]int32 // key → position in entries
}

// dedupEntry is one remembered answer: openid, session_key and unionid,
// back to back in data.
type dedupEntry struct {
	key                 [sha256.Size]byte
	expires             int64 // Unix nanoseconds
	openid, sk, unionid uint8 // lengths in data
	data                [dedupDataSize]byte
}

// dedupDataSize fits WeChat's answers (an openid and a unionid are 28
// characters, a session_key 24: 80 in all) with room to spare; a longer
// answer is simply not remembered.
const dedupDataSize = 104

func (r *dedupRing) init(max int) {
	r.max = max
	r.index = make(map[[sha256.Size]byte]int32)
}

func (r *dedupRing) get(key [sha256.Size]byte) (wechat.Session, bool) {
	i, ok := r.index[key]
	if !ok {
		return wechat.Session{}, false
	}
	e := &r.entries[i]
	a, b, c := int(e.openid), int(e.openid)+int(e.sk), int(e.openid)+int(e.sk)+int(e.unionid)
	return wechat.Session{OpenID: string(e.data[:a]), SessionKey: string(e.data[a:b]), UnionID: string(e.data[b:c])}, true
}

func (r *dedupRing) put(key [sha256.Size]byte, sess wechat.Session, expires int64) {
	total := len(sess.OpenID) + len(sess.SessionKey) + len(sess.UnionID)
	if total > dedupDataSize || len(sess.OpenID) > 255 || len(sess.SessionKey) > 255 || len(sess.UnionID) > 255 {
		return
	}
	if _, ok := r.index[key]; ok {
		return // the same code twice: the first answer stands, and expires first
	}
	if r.n == r.max {
		r.dropOldest()
	}
	if r.n == len(r.entries) {
		r.grow()
	}
	i := (r.head + r.n) % len(r.entries)
	e := &r.entries[i]
	e.key, e.expires = key, expires
	e.openid, e.sk, e.unionid = uint8(len(sess.OpenID)), uint8(len(sess.SessionKey)), uint8(len(sess.UnionID))
	n := copy(e.data[:], sess.OpenID)
	n += copy(e.data[n:], sess.SessionKey)
	copy(e.data[n:], sess.UnionID)
	r.index[key] = int32(i)
	r.n++
}

// dropExpired removes entries past their time, oldest first.
func (r *dedupRing) dropExpired(now int64) {
	for r.n > 0 && r.entries[r.head].expires <= now {
		r.dropOldest()
	}
}

func (r *dedupRing) dropOldest() {
	e := &r.entries[r.head]
	delete(r.index, e.key)
	*e = dedupEntry{} // the session_key does not linger in memory
	r.head = (r.head + 1) % len(r.entries)
	r.n--
}

// grow doubles the ring, up to max, keeping the order.
func (r *dedupRing) grow() {
	size := min(max(2*len(r.entries), 64), r.max)
	entries := make([]dedupEntry, size)
	for j := 0; j < r.n; j++ {
		entries[j] = r.entries[(r.head+j)%len(r.entries)]
		r.index[entries[j].key] = int32(j)
	}
	clear(r.entries)
	r.entries, r.head = entries, 0
}
