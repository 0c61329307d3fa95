package main

import (
	"cmp"
	"strings"
)

// appConfig is one mini program served: its credentials and the aud of
// its tokens.
type appConfig struct {
	AppID    string
	Secret   string
	Audience string
}

// appsVars are the variables that say which apps are served, as read.
type appsVars struct {
	AppID, Secret string // WXLOGIN_APPID, WXLOGIN_SECRET: one app, when set
	Apps          string // WXLOGIN_APPS: more apps, appid:secret pairs
	Audiences     string // WXLOGIN_AUDIENCES: appid:audience pairs
	Audience      string // WXLOGIN_AUDIENCE: every other app's audience
}

// resolveApps returns every app served, WXLOGIN_APPID's first, each with
// its audience: its own from WXLOGIN_AUDIENCES, else WXLOGIN_AUDIENCE,
// else its AppID. It reports each mistake to bad, naming the variable
// and never quoting a secret; an item that does not parse is named by
// its position alone, since it may hold one.
func resolveApps(v appsVars, bad func(name, format string, args ...any)) []appConfig {
	var apps []appConfig
	seen := map[string]bool{}
	switch {
	case v.AppID == "":
	case looksLikeSecret(v.AppID):
		bad("APPID", "is 32 hex digits, the form of an AppSecret, not of an AppID: are WXLOGIN_APPID and WXLOGIN_SECRET swapped?")
	case !validAppID(v.AppID):
		bad("APPID", "is not an AppID: want 1 to 64 letters, digits, '_' or '-' (such as wx0123456789abcdef)")
	default:
		apps = append(apps, appConfig{AppID: v.AppID, Secret: v.Secret})
		seen[v.AppID] = true
	}
	pairs := splitPairs(v.Apps)
	if len(pairs) == 0 && strings.TrimSpace(v.Apps) != "" {
		bad("APPS", "holds no appid:secret pair")
	}
	for i, p := range pairs {
		switch {
		case looksLikeSecret(p.key):
			bad("APPS", "item %d: its AppID is 32 hex digits, the form of an AppSecret: write appid:secret, not secret:appid", i+1)
		case !p.ok:
			bad("APPS", "item %d is not appid:secret (comma-separated pairs such as wx0123456789abcdef:<secret>)", i+1)
		case seen[p.key]:
			bad("APPS", "AppID %s is given twice (WXLOGIN_APPID counts too)", p.key)
		case p.value == "":
			bad("APPS", "the secret of %s is empty", p.key)
		default:
			apps = append(apps, appConfig{AppID: p.key, Secret: p.value})
			seen[p.key] = true
		}
	}

	own := map[string]string{}
	for i, p := range splitPairs(v.Audiences) {
		switch {
		case looksLikeSecret(p.key):
			bad("AUDIENCES", "item %d: its AppID is 32 hex digits, the form of an AppSecret", i+1)
		case !p.ok:
			bad("AUDIENCES", "item %d is not appid:audience", i+1)
		case own[p.key] != "":
			bad("AUDIENCES", "AppID %s is given twice", p.key)
		case p.value == "":
			bad("AUDIENCES", "the audience of %s is empty", p.key)
		case !seen[p.key]:
			bad("AUDIENCES", "%s is not an app served here (WXLOGIN_APPID or WXLOGIN_APPS)", p.key)
		default:
			own[p.key] = p.value
		}
	}
	for i := range apps {
		apps[i].Audience = cmp.Or(own[apps[i].AppID], v.Audience, apps[i].AppID)
	}
	return apps
}

// pair is one item of a comma-separated list of key:value pairs; ok is
// false when the item is not one.
type pair struct {
	key, value string
	ok         bool
}

// splitPairs splits "k:v,k:v" at commas (and newlines, for a _FILE with
// a pair a line), and each item at its first colon (an audience may be a
// URL with colons of its own). Blank items are skipped; spaces around
// keys and values are dropped. A key must be an AppID: letters, digits,
// '_' and '-'.
func splitPairs(s string) []pair {
	var pairs []pair
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		pairs = append(pairs, pair{key: k, value: v, ok: ok && validAppID(k)})
	}
	return pairs
}

// validAppID accepts what can be an AppID (WeChat's are "wx" and 16 hex
// digits): 1 to 64 letters, digits, '_' or '-'. Anything else is a
// mistake, and would also be unsafe to print.
func validAppID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// looksLikeSecret reports whether s has the form of an AppSecret: 32 hex
// digits. Such an AppID is a secret put where the AppID goes (a swapped
// pair): it would be logged at start-up and become a metrics label, so it
// is refused, and never quoted. WeChat's AppIDs ("wx" and 16 hex digits)
// are not required: tests and dev mode use others.
func looksLikeSecret(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// appIDs lists the AppIDs of apps, for messages and metrics.
func appIDs(apps []appConfig) []string {
	ids := make([]string, len(apps))
	for i, a := range apps {
		ids[i] = a.AppID
	}
	return ids
}
