package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wxlogin/wxlogin/token"
)

// helpText is what `wxlogin -h` prints.
func helpText(t *testing.T) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"wxlogin", "-h"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// helpRow is one variable of `wxlogin -h`.
type helpRow struct {
	name     string
	required bool
}

// helpVariables reads the table of variables from `wxlogin -h`, and
// checks that its columns line up: every row's cells start where the
// header's do.
func helpVariables(t *testing.T) []helpRow {
	t.Helper()
	var rows []helpRow
	var header string
	var cols []int
	sc := bufio.NewScanner(strings.NewReader(helpText(t)))
	for sc.Scan() {
		line := sc.Text()
		if header == "" {
			if strings.HasPrefix(line, "VARIABLE ") {
				header = line
				for _, name := range []string{"DEFAULT", "REQUIRED", "DESCRIPTION"} {
					cols = append(cols, strings.Index(header, name))
				}
			}
			continue
		}
		if line == "" {
			break
		}
		name, _, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(name, envPrefix+"_") {
			t.Fatalf("row %q of wxlogin -h does not start with a variable", line)
		}
		// A cell starts at its column: the character before is a space,
		// and the description, never empty, starts exactly there.
		for _, c := range cols {
			if len(line) <= c || line[c-1] != ' ' {
				t.Errorf("row %q does not line up with the header %q", line, header)
			}
		}
		desc := cols[2]
		if len(line) > desc && line[desc] == ' ' {
			t.Errorf("row %q: the description does not start under DESCRIPTION", line)
		}
		req := strings.TrimSpace(line[cols[1]:cols[2]])
		if req != "" && req != "yes" {
			t.Errorf("row %q: REQUIRED is %q, want yes or nothing", line, req)
		}
		rows = append(rows, helpRow{name: name, required: req == "yes"})
	}
	if header == "" || len(rows) == 0 {
		t.Fatal("wxlogin -h prints no table of variables")
	}
	return rows
}

func TestHelpShowsWhatIsRequired(t *testing.T) {
	var marked []string
	for _, r := range helpVariables(t) {
		if r.required {
			marked = append(marked, r.name)
		}
	}
	// What start-up refuses to go without, outside dev mode, is the
	// truth the help must tell.
	clearEnv(t, nil)
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil {
		t.Fatal("an empty configuration passes validation outside dev mode")
	}
	var missing []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if name, rest, ok := strings.Cut(strings.TrimSpace(line), ": "); ok && strings.HasPrefix(rest, "required") {
			missing = append(missing, name)
		}
	}
	slices.Sort(marked)
	slices.Sort(missing)
	if !slices.Equal(marked, missing) {
		t.Errorf("wxlogin -h marks %v as required; start-up with nothing set misses %v", marked, missing)
	}
}

func TestStartWithNothingSetPointsAtDevMode(t *testing.T) {
	clearEnv(t, nil)
	err := run(context.Background(), []string{"wxlogin"}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("start-up with nothing set succeeded")
	}
	if !strings.Contains(err.Error(), "wxlogin -dev") || !strings.Contains(err.Error(), "wxlogin -h") {
		t.Errorf("the error does not mention -dev and -h:\n%v", err)
	}
	// In dev mode the hint would be noise: a bad value is the problem.
	clearEnv(t, map[string]string{"WXLOGIN_DEV": "true", "WXLOGIN_TOKEN_TTL": "1s"})
	err = run(context.Background(), []string{"wxlogin"}, io.Discard, io.Discard)
	if err == nil || strings.Contains(err.Error(), "wxlogin -dev") {
		t.Errorf("dev mode with a bad TTL: err = %v; want the TTL named, without the dev-mode hint", err)
	}
}

func TestKeygenShellLinesSource(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	for _, args := range [][]string{{"-shell"}, {"-shell", "-ed25519"}} {
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"wxlogin", "keygen"}, args...), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "wxlogin.env")
		if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		// Exactly what the docs tell a user to run, then the environment
		// read back, NUL-separated so that line breaks survive.
		cmd := exec.Command(sh, "-c", `set -a; . "$1"; set +a; printf '%s\0%s' "$WXLOGIN_SIGNING_KEY" "$WXLOGIN_SESSION_KEY_SECRET"`, "sh", file)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("keygen %v: sourcing the output failed: %v\n%s", args, err, out.String())
		}
		key, secret, _ := strings.Cut(string(got), "\x00")
		if !strings.HasPrefix(key, "-----BEGIN PRIVATE KEY-----\n") || !strings.HasSuffix(key, "\n-----END PRIVATE KEY-----") {
			t.Errorf("keygen %v: sourced WXLOGIN_SIGNING_KEY is not a multi-line PEM: %q", args, key)
		}
		signer, _, err := token.ParsePrivateKey([]byte(key))
		if err != nil {
			t.Errorf("keygen %v: sourced key does not parse: %v", args, err)
			continue
		}
		k, _ := token.NewKey(signer.Public())
		if !strings.Contains(out.String(), "kid "+k.KID+"\n") {
			t.Errorf("keygen %v: the sourced key's kid %s is not the one the comment names:\n%s", args, k.KID, out.String())
		}
		// The values as sourced make a configuration that start-up takes.
		clearEnv(t, map[string]string{
			"WXLOGIN_APPID": testAppID, "WXLOGIN_SECRET": testSecret, "WXLOGIN_ISSUER": "https://login.example.com",
			"WXLOGIN_SIGNING_KEY": key, "WXLOGIN_SESSION_KEY_SECRET": secret,
		})
		cfg, err := loadConfig()
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("keygen %v: the sourced values do not validate: %v", args, err)
		}
	}
}
