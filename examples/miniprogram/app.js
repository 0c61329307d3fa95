// wxlogin example mini program.
//
// utils/wxlogin.js is a copy of miniprogram/wxlogin.js (WeChat's runtime
// cannot require files outside the project directory). After changing the
// kit, copy it again:
//   cp miniprogram/wxlogin.js examples/miniprogram/utils/wxlogin.js
const { createAuth } = require('./utils/wxlogin.js')

// The wxlogin server. For a local dev-mode server (WXLOGIN_DEV=true) in
// WeChat DevTools, keep http://127.0.0.1:8080 and turn off the domain check
// (project.config.json has urlCheck: false). In production this must be an
// https domain listed as a "request" domain of the mini program.
const BASE_URL = 'http://127.0.0.1:8080'

App({
  auth: createAuth({ baseURL: BASE_URL, storageKey: 'wxlogin' }),

  onLaunch () {
    // Log in on launch (or reuse a stored token). Pages that call the auth
    // while this is in flight share the same login.
    this.auth.getToken().catch((err) => {
      console.warn('login failed:', err.code, err.detail)
    })
  }
})
