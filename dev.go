package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/wxlogin/wxlogin/token"
	"github.com/wxlogin/wxlogin/wechat/wechattest"
)

// Everything development mode (WXLOGIN_DEV or -dev) adds is in this file.

// devAppID is the AppID dev mode uses when none is set.
const devAppID = "wxdevfake000000000"

// devWeChatURL is the base URL of the fake WeChat dev mode answers with
// in process (see devHTTPClient); nothing is sent to it on the network.
const devWeChatURL = "http://wechat.fake"

// devWarning is logged at start-up in dev mode.
const devWarning = "DEVELOPMENT MODE: WeChat is faked in process and keys are generated at start-up; tokens from this server prove nothing. Never run this in production."

// applyDev fills what dev mode provides and the operator did not set: an
// AppID and AppSecret, a fresh ES256 signing key and session-key secret,
// text logs, and the fake WeChat. The issuer is the local URL (issuerURL).
func (c *Config) applyDev() error {
	if c.AppID == "" {
		c.AppID = devAppID
	}
	if c.Secret == "" {
		c.Secret = "dev-secret"
	}
	if c.SigningKey == "" {
		pemKey, err := token.GenerateKey(token.ES256)
		if err != nil {
			return err
		}
		c.SigningKey = Secret(pemKey)
	}
	if c.SessionKeySecret == "" {
		b := make([]byte, token.SecretSize)
		rand.Read(b)
		c.SessionKeySecret = Secret(base64.StdEncoding.EncodeToString(b))
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	c.WeChatBaseURL = devWeChatURL
	return nil
}

// issuerURL is WXLOGIN_ISSUER or, in dev mode without it, the local URL
// of the listener at addr.
func (c *Config) issuerURL(addr net.Addr) string {
	if c.Issuer == "" && c.Dev {
		return localURL(addr)
	}
	return c.Issuer
}

// devHTTPClient reaches the fake WeChat in process: any code logs in, and
// the same code again is the same user.
func (c *Config) devHTTPClient() *http.Client {
	fake := wechattest.New(wechattest.Options{AppID: c.AppID, Secret: string(c.Secret), AllowReuse: true})
	return &http.Client{Transport: fake.Transport()}
}

// printDevHint shows the person who started dev mode a login to try.
func printDevHint(w io.Writer, addr net.Addr) {
	fmt.Fprintf(w, "\nDevelopment mode. Try:\n  curl -s %s/v1/login -H 'Content-Type: application/json' -d '{\"code\":\"any-code-you-like\"}'\n\n", localURL(addr))
}

// localURL is the address a person on this machine types into curl.
func localURL(addr net.Addr) string {
	_, port, _ := net.SplitHostPort(addr.String())
	return "http://localhost:" + port
}
