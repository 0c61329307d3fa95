// wxlogin example mini program.
//
// The kit comes from the npm package wxlogin-miniprogram (package.json
// depends on the local ../../miniprogram): run `npm install` in this
// folder, then DevTools' "build npm" (Tools > Build npm), which copies it to
// miniprogram_npm/. See docs/miniprogram.md.
const { createAuth } = require('wxlogin-miniprogram')

// The wxlogin server. For a local dev-mode server (WXLOGIN_DEV=true) in
// WeChat DevTools, keep http://127.0.0.1:8080 and turn off the domain check
// (project.config.json has urlCheck: false). In production this must be an
// https domain listed as a "request" domain of the mini program.
const BASE_URL = 'http://127.0.0.1:8080'

App({
  // Every login sends this mini program's AppID
  // (wx.getAccountInfoSync().miniProgram.appId): the server must serve it,
  // in WXLOGIN_APPID or WXLOGIN_APPS.
  auth: createAuth({ baseURL: BASE_URL }),

  onLaunch () {
    // Log in on launch (or reuse a stored token). Pages that call the auth
    // while this is in flight share the same login.
    this.auth.getToken().catch((err) => {
      console.warn('login failed:', err.code, err.detail)
    })
  }
})
