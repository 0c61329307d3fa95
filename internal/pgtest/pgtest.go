// Package pgtest starts a throwaway PostgreSQL server for a test: the
// real server from Debian's postgresql package, initialised with initdb
// in a temporary directory and started with pg_ctl on a free loopback
// port. As root (initdb refuses to run as root) the server runs as the
// postgres user the package creates.
//
// Where PostgreSQL is not installed the test is skipped with a message
// saying so, unless WXLOGIN_REQUIRE_POSTGRES is set (as .ci/run sets
// it): then it fails, so that CI cannot pass without running it.
package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// RequireEnv is the variable that turns a missing PostgreSQL from a skip
// into a failure.
const RequireEnv = "WXLOGIN_REQUIRE_POSTGRES"

// Start starts a PostgreSQL server for t and returns a connection URL
// for its postgres database, as the superuser postgres. The server is
// stopped and its files removed when t ends.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		missing(t, err.Error())
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(t, "running as root, and there is no postgres user to run initdb as (Debian's postgresql package creates it)")
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}

	// Not t.TempDir: its parent is private to root, and the server may
	// run as postgres.
	dir, err := os.MkdirTemp("", "wxlogin-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	run := func(name string, args ...string) ([]byte, error) {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "LC_ALL=C", "HOME=" + dir}
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd.CombinedOutput()
	}
	if out, err := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	// The port is free when picked, but another process may take it
	// before the server binds it: try a few.
	var port int
	for attempt := 1; ; attempt++ {
		port = freePort(t)
		opts := strings.Join([]string{
			"-c listen_addresses=127.0.0.1",
			"-c port=" + strconv.Itoa(port),
			"-c unix_socket_directories=" + dir,
			// A test's database lives for seconds: durability buys nothing.
			"-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
		}, " ")
		out, err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			break
		}
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		if attempt == 3 {
			t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
	t.Cleanup(func() {
		if out, err := run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
}

// missing skips t, or fails it when RequireEnv is set.
func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s, and %s is set", why, RequireEnv)
	}
	t.Skipf("%s: skipping this PostgreSQL test (apt-get install postgresql to run it; %s=1 makes this a failure)", why, RequireEnv)
}

// binDir finds initdb and pg_ctl: on PATH, or in the newest of Debian's
// /usr/lib/postgresql/<version>/bin, which is not on PATH.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(dirs, func(a, b string) int { return version(a) - version(b) })
	if len(dirs) == 0 {
		return "", fmt.Errorf("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin)")
	}
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

// version is the major version in /usr/lib/postgresql/<version>/bin/initdb.
func version(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
