package main

import (
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/wxlogin/wxlogin/claims"
	"github.com/wxlogin/wxlogin/internal/b64"
	"github.com/wxlogin/wxlogin/internal/httpurl"
	"github.com/wxlogin/wxlogin/token"
)

// envPrefix prefixes every environment variable.
const envPrefix = "WXLOGIN"

// Secret is a configuration value that must never be printed: its String
// and LogValue hide it, so a stray %v or slog attribute cannot leak it.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return s.String() }

// LogValue hides the value from log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText hides the value from encoding/json and friends.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Config is every setting of the server, read from WXLOGIN_* environment
// variables. The desc tags are what `wxlogin -h` prints.
type Config struct {
	// Dev turns on development mode: fake WeChat in process, generated keys.
	Dev bool `envconfig:"DEV" default:"false" desc:"development mode: in-process fake WeChat, keys generated at start-up; never in production"`
	// Addr is the listen address.
	Addr string `envconfig:"ADDR" default:":8080" desc:"listen address"`
	// MetricsAddr, when set, is a listener of its own for /metrics,
	// which is then not served on Addr.
	MetricsAddr string `envconfig:"METRICS_ADDR" desc:"a separate listen address for /metrics, such as 127.0.0.1:9090, which is then not served on WXLOGIN_ADDR (default: /metrics on WXLOGIN_ADDR)"`
	// AppID is the mini program's AppID.
	AppID string `envconfig:"APPID" desc:"the mini program's AppID, or list the apps in WXLOGIN_APPS (required outside dev mode)"`
	// Secret is the mini program's AppSecret.
	Secret Secret `envconfig:"SECRET" desc:"the mini program's AppSecret, with WXLOGIN_APPID (required outside dev mode)"`
	// SecretFile names a file holding Secret.
	SecretFile string `envconfig:"SECRET_FILE" desc:"file holding WXLOGIN_SECRET"`
	// Apps are more mini programs served by this deployment, beside
	// AppID's: appid:secret pairs.
	Apps Secret `envconfig:"APPS" desc:"more mini programs (or mini games) served: comma-separated appid:secret pairs"`
	// AppsFile names a file holding Apps.
	AppsFile string `envconfig:"APPS_FILE" desc:"file holding WXLOGIN_APPS (pairs separated by commas or newlines)"`
	// WeChatBaseURL is WeChat's API origin; tests point it at a fake.
	WeChatBaseURL string `envconfig:"WECHAT_BASE_URL" default:"https://api.weixin.qq.com" desc:"WeChat API base URL"`
	// Issuer is the iss claim and the base URL of the discovery document.
	Issuer string `envconfig:"ISSUER" desc:"iss claim and base URL of the discovery document; dev mode: http://localhost:<port> (required outside dev mode)"`
	// Audience is the aud claim of every app without its own in
	// Audiences; each app's AppID when empty.
	Audience string `envconfig:"AUDIENCE" desc:"aud claim of every app without its own in WXLOGIN_AUDIENCES (default: the app's AppID)"`
	// Audiences are per-app aud claims: appid:audience pairs.
	Audiences string `envconfig:"AUDIENCES" desc:"per-app aud claims: comma-separated appid:audience pairs"`
	// Subject is what sub is: openid, or unionid.
	Subject string `envconfig:"SUBJECT" default:"openid" desc:"what sub is: openid, or unionid (the user across every app bound to one WeChat Open Platform account)"`
	// TokenTTL is the token lifetime.
	TokenTTL time.Duration `envconfig:"TOKEN_TTL" default:"2h" desc:"token lifetime, Go duration, 1m to 168h"`
	// SigningKey is the PEM private key that signs tokens.
	SigningKey Secret `envconfig:"SIGNING_KEY" desc:"PEM private key, EC P-256 (ES256) or Ed25519 (EdDSA); dev mode: generated (required outside dev mode)"`
	// SigningKeyFile names a file holding SigningKey.
	SigningKeyFile string `envconfig:"SIGNING_KEY_FILE" desc:"file holding WXLOGIN_SIGNING_KEY"`
	// VerifyKeys are PEM public keys still published after a rotation.
	VerifyKeys Secret `envconfig:"VERIFY_KEYS" desc:"PEM public keys still published for verification after a rotation"`
	// VerifyKeysFile names a file holding VerifyKeys.
	VerifyKeysFile string `envconfig:"VERIFY_KEYS_FILE" desc:"file holding WXLOGIN_VERIFY_KEYS"`
	// SessionKeySecret is base64 of the 32-byte secret that seals sk.
	SessionKeySecret Secret `envconfig:"SESSION_KEY_SECRET" desc:"base64 of 32 random bytes: the key that seals the sk claim; dev mode: generated (required outside dev mode)"`
	// SessionKeySecretFile names a file holding SessionKeySecret.
	SessionKeySecretFile string `envconfig:"SESSION_KEY_SECRET_FILE" desc:"file holding WXLOGIN_SESSION_KEY_SECRET"`
	// OldSessionKeySecrets are secrets replaced by a rotation: they still
	// open sk values, and never seal.
	OldSessionKeySecrets Secret `envconfig:"OLD_SESSION_KEY_SECRETS" desc:"comma-separated base64 secrets that still open sk values sealed before a rotation, never used to seal"`
	// OldSessionKeySecretsFile names a file holding OldSessionKeySecrets.
	OldSessionKeySecretsFile string `envconfig:"OLD_SESSION_KEY_SECRETS_FILE" desc:"file holding WXLOGIN_OLD_SESSION_KEY_SECRETS"`
	// WeChatTimeout is the deadline of one WeChat API call.
	WeChatTimeout time.Duration `envconfig:"WECHAT_TIMEOUT" default:"5s" desc:"deadline for one WeChat API call, 100ms to 60s"`
	// ClaimsURL is the claims hook, called after every code and phone
	// exchange; no hook when empty.
	ClaimsURL string `envconfig:"CLAIMS_URL" desc:"the claims hook: an http(s) URL called at every login and phone exchange, whose answer goes into the token"`
	// ClaimsSecret is base64 of the hook's HMAC key.
	ClaimsSecret Secret `envconfig:"CLAIMS_SECRET" desc:"base64 of at least 32 random bytes: the claims hook's HMAC key (required with WXLOGIN_CLAIMS_URL)"`
	// ClaimsSecretFile names a file holding ClaimsSecret.
	ClaimsSecretFile string `envconfig:"CLAIMS_SECRET_FILE" desc:"file holding WXLOGIN_CLAIMS_SECRET"`
	// ClaimsTimeout is the deadline of one hook call.
	ClaimsTimeout time.Duration `envconfig:"CLAIMS_TIMEOUT" default:"2s" desc:"deadline for one claims hook call, 100ms to 60s"`
	// PhoneInToken puts the phone number into the token a phone exchange
	// answers with.
	PhoneInToken bool `envconfig:"PHONE_IN_TOKEN" default:"false" desc:"whether a phone exchange puts phone_number and phone_number_verified into the fresh token"`
	// RateLimit is logins per minute per client IP; 0 turns it off.
	RateLimit int `envconfig:"RATE_LIMIT" default:"600" desc:"logins per minute per client IP; 0 turns the limit off"`
	// UserRateLimit is calls per minute per user (a token's appid and
	// subject) to /v1/phone, /v1/session/check and /v1/decrypt together.
	UserRateLimit int `envconfig:"USER_RATE_LIMIT" default:"60" desc:"calls per minute per user (the token's subject) to /v1/phone, /v1/session/check and /v1/decrypt together; 0 turns the limit off"`
	// UserIPRateLimit is calls per minute per client IP to those routes.
	UserIPRateLimit int `envconfig:"USER_IP_RATE_LIMIT" default:"600" desc:"calls per minute per client IP (IPv6: its /64) to /v1/phone, /v1/session/check and /v1/decrypt together; 0 turns the limit off"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string `envconfig:"TRUSTED_PROXIES" desc:"comma-separated CIDRs whose X-Forwarded-For (the client IP) and X-Request-Id are believed"`
	// CodeReuseWindow is how long this instance answers a resent login
	// code with the answer it already got for it; 0 turns that off.
	CodeReuseWindow time.Duration `envconfig:"CODE_REUSE_WINDOW" default:"60s" desc:"how long a login code this instance exchanged is answered again, to the same client only (a flaky network resends it), instead of WeChat's 40163; 0 turns it off; at most 5m"`
	// AcceptHighSBefore is the transition for ES256 tokens signed before
	// wxlogin gave every signature in its low-s form (docs/security.md):
	// such a token is still accepted when issued before this instant.
	AcceptHighSBefore time.Time `envconfig:"ACCEPT_HIGH_S_BEFORE" desc:"RFC 3339 time: ES256 tokens issued before it are accepted with a high-s signature, as older wxlogin versions signed half their tokens; unset refuses every high-s signature (docs/security.md)"`
	// ShutdownDelay is how long, after SIGTERM, /readyz fails while the
	// server still serves, so that load balancers stop routing to it
	// before it stops listening.
	ShutdownDelay time.Duration `envconfig:"SHUTDOWN_DELAY" default:"0s" desc:"after SIGTERM, how long /readyz fails while new requests are still served, before draining (Kubernetes: 5s)"`
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish after SIGTERM.
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"15s" desc:"how long in-flight requests may take to finish after SIGTERM"`
	// LogFormat is json or text; json by default, text in dev mode.
	LogFormat string `envconfig:"LOG_FORMAT" desc:"json or text (default json; text in dev mode)"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`

	// Now is the clock; tests inject one.
	Now func() time.Time `ignored:"true"`
}

// loadConfig reads the environment into a Config, with the _FILE forms
// of every secret resolved. It does not validate.
func loadConfig() (*Config, error) {
	var c Config
	if err := envconfig.Process(envPrefix, &c); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			// envconfig's message quotes the value; only non-secret fields
			// can fail to parse, but name the variable the user set.
			return nil, fmt.Errorf("%s: cannot parse %q as %s", pe.KeyName, pe.Value, pe.TypeName)
		}
		return nil, err
	}
	var problems []string
	for _, f := range []struct {
		name string
		file string
		dst  *Secret
	}{
		{"SECRET", c.SecretFile, &c.Secret},
		{"APPS", c.AppsFile, &c.Apps},
		{"SIGNING_KEY", c.SigningKeyFile, &c.SigningKey},
		{"VERIFY_KEYS", c.VerifyKeysFile, &c.VerifyKeys},
		{"SESSION_KEY_SECRET", c.SessionKeySecretFile, &c.SessionKeySecret},
		{"OLD_SESSION_KEY_SECRETS", c.OldSessionKeySecretsFile, &c.OldSessionKeySecrets},
		{"CLAIMS_SECRET", c.ClaimsSecretFile, &c.ClaimsSecret},
	} {
		if f.file == "" {
			continue
		}
		if *f.dst != "" {
			problems = append(problems, fmt.Sprintf("%s_%s and %s_%s_FILE are both set; set one", envPrefix, f.name, envPrefix, f.name))
			continue
		}
		b, err := os.ReadFile(f.file)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s_%s_FILE: cannot read the file: %v", envPrefix, f.name, errors.Unwrap(err)))
			continue
		}
		*f.dst = Secret(strings.TrimRight(string(b), "\r\n"))
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return &c, nil
}

// configure is the configuration in one line of steps: parse the
// environment, apply the dev defaults when dev mode is on (by
// WXLOGIN_DEV or the -dev flag), then validate.
func configure(devFlag bool) (*Config, error) {
	c, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if devFlag {
		c.Dev = true
	}
	if c.Dev {
		if err := c.applyDev(); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, withDevHint(c, err)
	}
	return c, nil
}

// Validate checks every variable and reports all problems at once, each
// naming its variable. Messages never include a secret's value.
func (c *Config) Validate() error {
	var problems []string
	bad := func(name, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s_%s: %s", envPrefix, name, fmt.Sprintf(format, args...)))
	}
	missing := func(name string) { bad(name, "required, not set") }

	switch {
	case c.AppID != "" && c.Secret == "":
		missing("SECRET")
	case c.AppID == "" && c.Secret != "":
		bad("APPID", "required with WXLOGIN_SECRET, not set")
	case c.AppID == "" && !c.namesApps():
		bad("APPID", "required, not set (or list the apps in WXLOGIN_APPS)")
		bad("SECRET", "required, not set (or list the apps in WXLOGIN_APPS)")
	}
	resolveApps(c.appsVars(), bad)
	switch c.Subject {
	case token.SubjectOpenID, token.SubjectUnionID:
	default:
		bad("SUBJECT", "must be openid or unionid")
	}
	if c.Issuer == "" && !c.Dev { // dev mode's issuer is the local URL (see issuerURL)
		missing("ISSUER")
	}
	if c.SigningKey == "" {
		missing("SIGNING_KEY")
	}
	if c.SessionKeySecret == "" {
		missing("SESSION_KEY_SECRET")
	}
	if c.Addr == "" {
		missing("ADDR")
	}
	if c.Issuer != "" {
		u, err := httpurl.Parse(c.Issuer)
		if err != nil || u.RawQuery != "" || u.Fragment != "" {
			bad("ISSUER", "must be an absolute http(s) URL without query or fragment, such as https://login.example.com")
		}
	}
	if _, err := httpurl.Parse(c.WeChatBaseURL); err != nil {
		bad("WECHAT_BASE_URL", "must be an absolute http(s) URL")
	}
	if c.TokenTTL < time.Minute || c.TokenTTL > 168*time.Hour {
		bad("TOKEN_TTL", "%s is out of range; want 1m to 168h", c.TokenTTL)
	} else if c.TokenTTL%time.Second != 0 {
		bad("TOKEN_TTL", "must be a whole number of seconds")
	}
	if c.WeChatTimeout < 100*time.Millisecond || c.WeChatTimeout > time.Minute {
		bad("WECHAT_TIMEOUT", "%s is out of range; want 100ms to 60s", c.WeChatTimeout)
	}
	if c.ShutdownTimeout < 0 {
		bad("SHUTDOWN_TIMEOUT", "must not be negative")
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay > time.Minute {
		bad("SHUTDOWN_DELAY", "%s is out of range; want 0s to 60s", c.ShutdownDelay)
	}
	if c.CodeReuseWindow < 0 || c.CodeReuseWindow > 5*time.Minute {
		// WeChat's codes live 5 minutes: a longer window would honour a
		// code after WeChat itself stops doing so.
		bad("CODE_REUSE_WINDOW", "%s is out of range; want 0 (off) to 5m", c.CodeReuseWindow)
	}
	if c.RateLimit < 0 {
		bad("RATE_LIMIT", "must be 0 (off) or a positive number of logins per minute")
	}
	if c.UserRateLimit < 0 {
		bad("USER_RATE_LIMIT", "must be 0 (off) or a positive number of calls per minute")
	}
	if c.UserIPRateLimit < 0 {
		bad("USER_IP_RATE_LIMIT", "must be 0 (off) or a positive number of calls per minute")
	}
	switch c.LogFormat {
	case "", "json", "text":
	default:
		bad("LOG_FORMAT", "must be json or text")
	}
	if _, err := c.logLevel(); err != nil {
		bad("LOG_LEVEL", "must be debug, info, warn or error")
	}
	if c.SigningKey != "" {
		if _, _, err := c.signer(); err != nil {
			bad("SIGNING_KEY", "%v", err)
		}
	}
	if _, err := c.verifyKeys(); err != nil {
		bad("VERIFY_KEYS", "%v", err)
	}
	if c.SessionKeySecret != "" {
		if _, err := c.sealSecret(); err != nil {
			bad("SESSION_KEY_SECRET", "%v", err)
		}
	}
	if _, err := c.oldSealSecrets(); err != nil {
		bad("OLD_SESSION_KEY_SECRETS", "%v", err)
	}
	if _, err := c.trustedProxies(); err != nil {
		bad("TRUSTED_PROXIES", "%v", err)
	}
	c.validateClaims(bad)
	if len(problems) > 0 {
		return errors.New("configuration:\n  " + strings.Join(problems, "\n  "))
	}
	return nil
}

// validateClaims checks the claims hook's variables: all or nothing.
func (c *Config) validateClaims(bad func(name, format string, args ...any)) {
	switch {
	case c.ClaimsURL != "" && c.ClaimsSecret == "":
		bad("CLAIMS_SECRET", "required with WXLOGIN_CLAIMS_URL, not set (head -c 32 /dev/urandom | base64, the same value as the hook's)")
	case c.ClaimsURL == "" && c.ClaimsSecret != "":
		bad("CLAIMS_URL", "not set, but WXLOGIN_CLAIMS_SECRET is: set the hook's URL too, or unset the secret")
	}
	if c.ClaimsURL != "" && claims.CheckURL(c.ClaimsURL) != nil {
		// The URL itself is not quoted: it may hold credentials.
		bad("CLAIMS_URL", "must be an absolute http(s) URL, such as http://127.0.0.1:8091/claims")
	}
	if c.ClaimsSecret != "" {
		if _, err := c.claimsKey(); err != nil {
			bad("CLAIMS_SECRET", "%v", err)
		}
	}
	if c.ClaimsTimeout < 100*time.Millisecond || c.ClaimsTimeout > time.Minute {
		bad("CLAIMS_TIMEOUT", "%s is out of range; want 100ms to 60s", c.ClaimsTimeout)
	}
}

// The parsed forms of the values Validate checks, for wiring.

// claimsKey is the decoded WXLOGIN_CLAIMS_SECRET; its errors never hold
// the secret.
func (c *Config) claimsKey() ([]byte, error) {
	key, err := claims.DecodeKey(string(c.ClaimsSecret))
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "claims: "))
	}
	return key, nil
}

func (c *Config) appsVars() appsVars {
	return appsVars{AppID: c.AppID, Secret: string(c.Secret), Apps: string(c.Apps), Audiences: c.Audiences, Audience: c.Audience}
}

// namesApps reports whether WXLOGIN_APPS (or its file) holds anything but
// white space: a blank value, such as a file holding only a newline,
// counts as unset.
func (c *Config) namesApps() bool { return strings.TrimSpace(string(c.Apps)) != "" }

// apps are every app served (see resolveApps).
func (c *Config) apps() []appConfig {
	return resolveApps(c.appsVars(), func(string, string, ...any) {})
}

func (c *Config) logLevel() (slog.Level, error) {
	var level slog.Level
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
		err := level.UnmarshalText([]byte(c.LogLevel))
		return level, err
	}
	return level, errors.New("unknown level")
}

func (c *Config) signer() (crypto.Signer, string, error) {
	return token.ParsePrivateKey([]byte(unescapePEM(string(c.SigningKey))))
}

func (c *Config) verifyKeys() ([]token.Key, error) {
	if c.VerifyKeys == "" {
		return nil, nil
	}
	return token.ParsePublicKeys([]byte(unescapePEM(string(c.VerifyKeys))))
}

func (c *Config) sealSecret() ([]byte, error) {
	b, err := decodeBase64(string(c.SessionKeySecret))
	switch {
	case err != nil:
		return nil, errors.New("is not valid base64")
	case len(b) != token.SecretSize:
		return nil, fmt.Errorf("decodes to %d bytes; want %d (run `wxlogin keygen`)", len(b), token.SecretSize)
	}
	return b, nil
}

// oldSealSecrets are the secrets of WXLOGIN_OLD_SESSION_KEY_SECRETS,
// checked like the current one; the position, never the value, names the
// one at fault. Empty entries (a trailing comma) are skipped.
func (c *Config) oldSealSecrets() ([][]byte, error) {
	var secrets [][]byte
	for i, v := range strings.Split(string(c.OldSessionKeySecrets), ",") {
		if strings.TrimSpace(v) == "" {
			continue
		}
		b, err := decodeBase64(v)
		switch {
		case err != nil:
			return nil, fmt.Errorf("secret %d is not valid base64", i+1)
		case len(b) != token.SecretSize:
			return nil, fmt.Errorf("secret %d decodes to %d bytes; want %d", i+1, len(b), token.SecretSize)
		}
		secrets = append(secrets, b)
	}
	return secrets, nil
}

func (c *Config) trustedProxies() ([]netip.Prefix, error) {
	var trusted []netip.Prefix
	for _, p := range c.TrustedProxies {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR or an IP address", p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		trusted = append(trusted, prefix.Masked())
	}
	return trusted, nil
}

// unescapePEM accepts a PEM written on one line with literal \n, the only
// form Docker's --env-file and many secret stores can hold.
func unescapePEM(s string) string {
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		return strings.ReplaceAll(s, `\n`, "\n")
	}
	return s
}

// decodeBase64 accepts standard or URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) { return b64.DecodeString(s) }
