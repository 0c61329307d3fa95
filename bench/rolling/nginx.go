package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// nginxConf is a production-like proxy in front of the replicas: upstream
// keep-alive (as ingress-nginx has by default), the client's address in
// X-Forwarded-For, and a request passed to the next replica when the
// connection to one fails. Open-source nginx has no active health checks:
// a replica leaves the rotation when its port refuses, not when its
// /readyz fails, so nginx still connects to a replica until its listener
// closes, and a connection still in the kernel's accept queue then is
// reset after nginx sent the request on it. nginx passes a POST on after
// such an error only with non_idempotent, which is safe for every route
// of wxlogin: /v1/decrypt and /v1/session/check have no effect, and the
// login and phone codes are single-use at WeChat, so a login that did
// reach a replica, sent again, is refused as invalid_code, never done
// twice.
var nginxConf = template.Must(template.New("nginx.conf").Parse(`daemon off;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events { worker_connections 4096; }
http {
    log_format lb '$msec|$request_time|$status|$request_method|$uri|$upstream_addr|$upstream_status';
    access_log {{.Dir}}/access.log lb;
    client_body_temp_path {{.Dir}}/tmp/body;
    proxy_temp_path {{.Dir}}/tmp/proxy;
    fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
    uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
    scgi_temp_path {{.Dir}}/tmp/scgi;
    upstream wxlogin {
{{- range .Ports}}
        server 127.0.0.1:{{.}} max_fails=1 fail_timeout=2s;
{{- end}}
        keepalive 64;
    }
    server {
        listen {{.Listen}};
        location / {
            proxy_pass http://wxlogin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_next_upstream error timeout non_idempotent;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 1s;
        }
    }
}
`))

// startNginx runs nginx in the foreground on listen, in front of the
// replicas, and waits until /healthz answers through it.
func startNginx(dir, listen string, replicas []*replica) (*exec.Cmd, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, err
	}
	var ports []int
	for _, r := range replicas {
		ports = append(ports, r.port)
	}
	conf := filepath.Join(dir, "nginx.conf")
	f, err := os.Create(conf)
	if err != nil {
		return nil, err
	}
	err = nginxConf.Execute(f, map[string]any{"Dir": dir, "Listen": listen, "Ports": ports})
	f.Close()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("nginx", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := client.Get("http://" + listen + "/healthz"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, nil
			}
		}
	}
	stopNginx(cmd)
	b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	return nil, fmt.Errorf("nginx did not answer /healthz within 10s; its error log:\n%s", b)
}

// stopNginx stops nginx gracefully (SIGQUIT), so its access log is whole.
func stopNginx(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// logLine is one request in nginx's access log.
type logLine struct {
	at      int64 // Unix milliseconds, when the answer was sent
	took    time.Duration
	status  int
	login   bool // POST /v1/login
	retried bool // nginx tried more than one replica
}

func readAccessLog(path string) ([]logLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []logLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), "|")
		if len(p) != 7 {
			continue
		}
		at, err1 := strconv.ParseFloat(p[0], 64)
		took, err2 := strconv.ParseFloat(p[1], 64)
		status, err3 := strconv.Atoi(p[2])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("access log line %q does not parse", sc.Text())
		}
		lines = append(lines, logLine{
			at: int64(at * 1000), took: time.Duration(took * float64(time.Second)), status: status,
			login: p[3] == "POST" && p[4] == "/v1/login", retried: strings.Contains(p[5], ","),
		})
	}
	return lines, sc.Err()
}

// summarize prints the run's figures and reports whether every goal was met.
func summarize(w io.Writer, rep *report, lines []logLine) bool {
	inWindow := func(at int64) bool {
		for _, win := range rep.Windows {
			// An answer up to a second after the new replica is ready still
			// belongs to the replacement: nginx is taking it back in.
			if at >= win.Start && at <= win.End+1000 {
				return true
			}
		}
		return false
	}
	var during, outside []time.Duration
	failed, retried, cancelled := map[int]int{}, 0, 0
	logins := 0
	for _, l := range lines {
		if !l.login {
			continue
		}
		logins++
		switch l.status {
		case http.StatusOK:
		case 499:
			// The client gave up: the load tool cancels what is in flight
			// when a stretch of load ends, and does not count it either.
			cancelled++
		default:
			failed[l.status]++
		}
		if l.retried {
			retried++
		}
		if inWindow(l.at) {
			during = append(during, l.took)
		} else {
			outside = append(outside, l.took)
		}
	}
	nFailed := 0
	for _, n := range failed {
		nFailed += n
	}
	var replaceTime time.Duration
	for _, win := range rep.Windows {
		replaceTime += time.Duration(win.End-win.Start) * time.Millisecond
	}
	fmt.Fprintf(w, "\nrolling: %d replacements (mean %s from SIGTERM to the successor ready); plan complete: %v\n",
		len(rep.Windows), (replaceTime / time.Duration(max(len(rep.Windows), 1))).Round(time.Millisecond), rep.Complete)
	for _, win := range rep.Windows {
		fmt.Fprintf(w, "  %s: %s\n", win.Name, time.Duration(win.End-win.Start)*time.Millisecond)
	}
	fmt.Fprintf(w, "logins through nginx: %d; failed: %d %v (goal 0); cancelled by the load tool at the end of a stretch: %d; passed to a second replica by nginx: %d\n",
		logins, nFailed, failed, cancelled, retried)
	fmt.Fprintf(w, "login latency at nginx during replacements: %d logins, p50 %s, p99 %s, max %s\n",
		len(during), quantile(during, 0.5), quantile(during, 0.99), quantile(during, 1))
	fmt.Fprintf(w, "login latency at nginx otherwise:           %d logins, p50 %s, p99 %s, max %s\n",
		len(outside), quantile(outside, 0.5), quantile(outside, 0.99), quantile(outside, 1))
	fmt.Fprintf(w, "tokens issued directly on replicas: %d; checks on every running replica after each replacement: %d (left out, the token expired: %d)\n", rep.Tokens, rep.Checks, rep.Expired)
	fmt.Fprintf(w, "tokens failing on replicas started after them: %d (goal 0); on replicas started before them: %d (goal 0)\n", rep.OldOnNew, rep.NewOnOld)
	if rep.Rotated != "" {
		fmt.Fprintln(w, rep.Rotated)
	}
	fmt.Fprintf(w, "replica request log lines: %d, with an empty client_ip: %d (goal 0)\n", rep.RequestLogs, rep.EmptyIP)
	for _, f := range rep.Failures {
		fmt.Fprintln(w, "  failure:", f)
	}
	return rep.Complete && nFailed == 0 && rep.OldOnNew == 0 && rep.NewOnOld == 0 && rep.EmptyIP == 0 &&
		len(rep.Failures) == 0 && logins > 0 && rep.Checks > 0
}

// quantile returns the q-quantile (nearest rank) of ds, which it sorts.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
