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
// AppID (unless WXLOGIN_APPS names the apps) and AppSecret, a fresh ES256
// signing key and session-key secret, text logs, and the fake WeChat. The
// issuer is the local URL (issuerURL).
func (c *Config) applyDev() error {
	if c.AppID == "" && !c.namesApps() {
		c.AppID = devAppID
	}
	if c.AppID != "" && c.Secret == "" {
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

// devHTTPClient reaches the fake WeChat in process, which serves every
// app with its secret: any code logs in, and the same code again is the
// same user. Every app is bound to one Open Platform account, so answers
// carry a unionid, the same for the same code in every app.
func (c *Config) devHTTPClient() *http.Client {
	apps := c.apps()
	opts := wechattest.Options{AppID: apps[0].AppID, Secret: apps[0].Secret, UnionID: true, AllowReuse: true}
	for _, a := range apps[1:] {
		opts.Apps = append(opts.Apps, wechattest.AppConfig{AppID: a.AppID, Secret: a.Secret, UnionID: true})
	}
	return &http.Client{Transport: wechattest.New(opts).Transport()}
}

// printDevHint shows the person who started dev mode a login to try, one
// per app when several are served (a login must then name its app).
func printDevHint(w io.Writer, addr net.Addr, appids []string) {
	fmt.Fprintf(w, "\nDevelopment mode. Try:\n")
	if len(appids) == 1 {
		fmt.Fprintf(w, "  curl -s %s/v1/login -H 'Content-Type: application/json' -d '{\"code\":\"any-code-you-like\"}'\n", localURL(addr))
	} else {
		for _, id := range appids {
			fmt.Fprintf(w, "  curl -s %s/v1/login -H 'Content-Type: application/json' -d '{\"code\":\"any-code-you-like\",\"appid\":\"%s\"}'\n", localURL(addr), id)
		}
	}
	fmt.Fprintln(w)
}

// localURL is the address a person on this machine types into curl.
func localURL(addr net.Addr) string {
	_, port, _ := net.SplitHostPort(addr.String())
	return "http://localhost:" + port
}
