package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docVariable is a variable named in the first cell of a table row.
var docVariable = regexp.MustCompile("`(" + envPrefix + "_[A-Z0-9_]+)`")

// documentedVariables reads docs/configuration.md: the variables of the
// table rows under "## Every variable".
func documentedVariables(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	current := map[string]bool{}
	var into map[string]bool
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "## Every variable"):
			into = current
		case strings.HasPrefix(line, "## "):
			into = nil
		case into != nil && strings.HasPrefix(line, "| `"):
			cell, _, _ := strings.Cut(line[1:], "|")
			for _, m := range docVariable.FindAllStringSubmatch(cell, -1) {
				into[m[1]] = true
			}
		}
	}
	if len(current) == 0 {
		t.Fatal(`docs/configuration.md has no table rows under "## Every variable"`)
	}
	return current
}

func TestConfigurationDocMatchesHelp(t *testing.T) {
	current := documentedVariables(t)
	inHelp := map[string]bool{}
	for _, r := range helpVariables(t) {
		inHelp[r.name] = true
		if !current[r.name] {
			t.Errorf("%s is in wxlogin -h but not in docs/configuration.md", r.name)
		}
	}
	for name := range current {
		if !inHelp[name] {
			t.Errorf("docs/configuration.md documents %s, which wxlogin -h does not list", name)
		}
	}
}
