package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is one measured stretch of load against one server.
type result struct {
	target    string
	logins    int             // 200 answers with a token
	sent      int             // requests sent
	elapsed   time.Duration   // wall time of the stretch
	latencies []time.Duration // of every request, sorted
	errors    map[string]int  // "HTTP 502", "transport", "bad answer"…
	cpu       time.Duration   // server CPU during the stretch
	before    procStats
	after     procStats
	gorBefore int // -1 when the server publishes no go_goroutines
	gorAfter  int
	logBytes  int64 // what the server wrote to stdout and stderr
}

func (r *result) perSecond() float64 { return float64(r.logins) / r.elapsed.Seconds() }

func (r *result) cpuPerLogin() time.Duration {
	if r.logins == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.logins)
}

// quantile returns the q-quantile of the sorted latencies (nearest rank).
func (r *result) quantile(q float64) time.Duration {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	i := int(q*float64(n)+0.999999) - 1
	return r.latencies[min(max(i, 0), n-1)]
}

// merge adds o (another round against the same target) to r.
func (r *result) merge(o *result) {
	r.logins += o.logins
	r.sent += o.sent
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	slices.Sort(r.latencies)
	for k, v := range o.errors {
		r.errors[k] += v
	}
	r.cpu += o.cpu
	r.after = o.after
	r.gorAfter = o.gorAfter
	r.logBytes += o.logBytes
}

// loadSpec bounds one stretch of load.
type loadSpec struct {
	workers  int
	duration time.Duration
	max      int     // requests
	rate     float64 // per second in total; 0 for none
	users    int
	// tick, when set, is called every interval while the load runs with
	// the requests answered so far.
	tick     func(elapsed time.Duration, answered int64)
	interval time.Duration
}

// drive sends POST /v1/login with a fresh code per request from
// spec.workers workers until spec.duration has passed or spec.max
// requests were sent, and measures the server p meanwhile.
func (l *lab) drive(ctx context.Context, p *process, spec loadSpec) (*result, error) {
	t := &http.Transport{MaxIdleConns: spec.workers, MaxIdleConnsPerHost: spec.workers, IdleConnTimeout: 30 * time.Second}
	client := &http.Client{Transport: t, Timeout: 30 * time.Second}
	defer t.CloseIdleConnections()

	r := &result{target: p.name, errors: map[string]int{}}
	var err error
	if r.before, err = readProc(p.pid); err != nil {
		return nil, err
	}
	r.gorBefore = goroutines(ctx, client, p.url)
	logBefore := p.out.Total()

	ctx, cancel := context.WithTimeout(ctx, spec.duration)
	defer cancel()
	var (
		next    atomic.Int64 // requests handed out
		done    atomic.Int64 // requests answered
		mu      sync.Mutex
		wg      sync.WaitGroup
		start   = time.Now()
		checked atomic.Bool
	)
	for w := 0; w < spec.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs := map[string]int{}
			ok := 0
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(spec.max) {
					break
				}
				if spec.rate > 0 {
					at := start.Add(time.Duration(float64(i-1) / spec.rate * float64(time.Second)))
					if d := time.Until(at); d > 0 {
						select {
						case <-ctx.Done():
							continue
						case <-time.After(d):
						}
					}
				}
				user := "user-" + strconv.Itoa(int(i)%spec.users)
				app, named := l.fake.App(fakeAppID), ""
				if ids := l.appids[p.name]; len(ids) > 0 {
					app = l.fake.App(ids[int(i)%len(ids)])
					named = `,"appid":"` + app.AppID() + `"`
				}
				code := app.Code(user)
				t0 := time.Now()
				status, body, err := login(ctx, client, p.url, `{"code":"`+code+`"`+named+`}`)
				took := time.Since(t0)
				done.Add(1)
				if err != nil {
					if ctx.Err() != nil {
						break // the stretch ended mid-request: not the server's fault
					}
					errs["transport"]++
					lat = append(lat, took)
					continue
				}
				lat = append(lat, took)
				switch {
				case status != http.StatusOK:
					errs["HTTP "+strconv.Itoa(status)]++
				case !bytes.Contains(body, []byte(`"token":"ey`)):
					errs["200 without a token"]++
				default:
					// Check one whole answer per stretch; the rest by shape.
					if checked.CompareAndSwap(false, true) {
						if msg := checkAnswer(body, app.OpenID(user)); msg != "" {
							errs["bad answer: "+msg]++
							continue
						}
					}
					ok++
				}
			}
			mu.Lock()
			r.latencies = append(r.latencies, lat...)
			r.sent += len(lat)
			r.logins += ok
			for k, v := range errs {
				r.errors[k] += v
			}
			mu.Unlock()
		}()
	}
	if spec.tick != nil {
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		tk := time.NewTicker(spec.interval)
	loop:
		for {
			select {
			case <-finished:
				break loop
			case <-tk.C:
				spec.tick(time.Since(start), done.Load())
			}
		}
		tk.Stop()
	}
	wg.Wait()
	r.elapsed = time.Since(start)

	if r.after, err = readProc(p.pid); err != nil {
		return nil, err
	}
	r.cpu = r.after.cpu - r.before.cpu
	r.logBytes = p.out.Total() - logBefore
	r.gorAfter = goroutines(context.Background(), client, p.url)
	slices.Sort(r.latencies)
	return r, nil
}

// login sends one login with body and reads the whole answer.
func login(ctx context.Context, client *http.Client, base, request string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/login", strings.NewReader(request))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, body, err
}

// checkAnswer checks one login answer in full: the contract's fields,
// the openid WeChat gave this user, and a token of three parts.
func checkAnswer(body []byte, openid string) string {
	var a struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
		ExpiresIn int64  `json:"expires_in"`
		OpenID    string `json:"openid"`
		UnionID   string `json:"unionid"`
	}
	switch {
	case json.Unmarshal(body, &a) != nil:
		return "not JSON"
	case a.TokenType != "Bearer" || a.ExpiresIn <= 0:
		return "token_type or expires_in wrong"
	case a.OpenID != openid:
		return "openid is not the user's"
	case a.UnionID == "":
		return "unionid missing"
	case strings.Count(a.Token, ".") != 2:
		return "token is not a JWS"
	}
	return ""
}

// formatDuration prints a latency or CPU time with three significant
// digits in a unit a person reads at a glance.
func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	}
}
