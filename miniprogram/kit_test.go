// Package miniprogram_test runs the mini program kit's Node tests as part
// of `go test ./...`, so the README's one test command covers them too.
package miniprogram_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestKit runs `node --test test/*.test.js`: the kit's unit tests against a fake
// wx, the package and type checks (npm pack, tsc --strict with the
// devDependencies `npm ci` installs here), and the end-to-end tests against
// the real server in dev mode, one of them with the packed tarball.
func TestKit(t *testing.T) {
	if testing.Short() {
		t.Skip("the Node tests build and start the server; skipped with -short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("WXLOGIN_REQUIRE_NODE") != "" {
			t.Fatal("node is not installed, and WXLOGIN_REQUIRE_NODE is set")
		}
		t.Skip("node is not installed: skipping the mini program kit's tests (install Node 20+ to run them)")
	}
	// Files, not the directory: Node 21 and later read a directory
	// argument as a module to load.
	files, err := filepath.Glob("test/*.test.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test/*.test.js files (%v)", err)
	}
	cmd := exec.Command(node, append([]string{"--test", "--test-reporter=spec"}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test failed: %v\n%s", err, out)
	}
	t.Logf("node --test:\n%s", out)
}
