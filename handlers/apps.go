package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/wxlogin/wxlogin/token"
)

// App is one mini program (or mini game) the server serves, and what acts
// for it. A login names its app; every endpoint behind a token acts for
// the token's app.
type App struct {
	AppID   string
	WeChat  WeChat  // its code exchange
	Tokens  Issuer  // signs its tokens and opens their session keys
	UserAPI UserAPI // its calls with its access token; nil answers internal_error
}

// newApps indexes d.Apps by AppID.
func newApps(d Deps) (map[string]*App, error) {
	apps := make(map[string]*App, len(d.Apps))
	for _, a := range d.Apps {
		if a.AppID == "" || apps[a.AppID] != nil {
			return nil, errors.New("handlers: an app's AppID is empty or given twice")
		}
		if a.UserAPI == nil {
			a.UserAPI = noUserAPI{}
		}
		apps[a.AppID] = &a
	}
	return apps, nil
}

// loginApp is the app a login names in its appid field (nil when the
// field is absent), before any upstream call: with a single app the
// field may be left out.
func (s *server) loginApp(ctx context.Context, appid *string) (*App, error) {
	if appid == nil {
		if s.only != nil {
			setApp(ctx, s.only.AppID)
			return s.only, nil
		}
		return nil, errorf(CodeInvalidRequest, `field "appid" is required: this server serves several mini programs; send wx.getAccountInfoSync().miniProgram.appId`)
	}
	if *appid == "" {
		return nil, errorf(CodeInvalidRequest, `field "appid" must not be empty`)
	}
	a := s.apps[*appid]
	if a == nil {
		// The AppID is not logged or echoed: it is any text a client sent.
		return nil, errorf(CodeUnknownApp, `field "appid" names a mini program this server does not serve`)
	}
	setApp(ctx, a.AppID)
	return a, nil
}

// bearerApp verifies the request's bearer token and returns its claims
// and its app, which every endpoint behind a token acts for:
// unknown_app when that app is no longer served.
func (s *server) bearerApp(r *http.Request) (*token.Claims, *App, error) {
	c, err := s.bearer(r)
	if err != nil {
		return nil, nil, err
	}
	a := s.apps[c.AppID]
	if a == nil {
		return nil, nil, errorf(CodeUnknownApp, "this token's mini program (its appid claim) is no longer served here")
	}
	return c, a, nil
}

// setApp records the app a request acts for, for its log line and the
// login metrics.
func setApp(ctx context.Context, appid string) {
	if info := infoOf(ctx); info != nil {
		info.app = appid
	}
}
