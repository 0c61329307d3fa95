const app = getApp()
const auth = app.auth

function describe (err) {
  // Kit errors are RFC 9457 problems with a `code`.
  return (err && (err.detail || err.title || err.code)) || String(err)
}

/** What to tell the user when sharing the phone number failed. */
function phoneError (err) {
  switch (err.code) {
    case 'phone_quota_exhausted':
      // errno 1400001: the app's phone number verifications are used up
      // (top up in the MP admin console); offer another way meanwhile.
      return 'phone: not available right now, please type your number'
    case 'phone_denied':
      return 'phone: not shared (you can share it later)'
    case 'phone_failed':
      return 'phone: ' + err.detail + (err.errno !== undefined ? ' (errno ' + err.errno + ')' : '')
    case 'login_denied':
      return 'phone: this account may not log in'
    default:
      return 'phone: ' + describe(err)
  }
}

Page({
  data: {
    openid: '',
    avatarUrl: '',
    nickName: '',
    steps: null,
    phone: '',
    error: ''
  },

  onLoad () {
    this.showSession()
  },

  onShow () {
    // Refresh a token that is near expiry now, while nothing is waiting for
    // it: decrypt() never logs in before sending open data (a wx.login there
    // could replace the session_key that encrypted the data).
    auth.getToken().catch(() => {})
  },

  showSession () {
    // GET /v1/session with the Bearer token; shares the launch login.
    auth.session()
      .then((s) => this.setData({ openid: s.openid, error: '' }))
      .catch((err) => this.setData({ error: 'login: ' + describe(err) }))
  },

  // Avatar and nickname: since base library 2.21.2 the user picks them
  // (open-type="chooseAvatar", <input type="nickname">); nothing to decrypt.
  // avatarUrl is a temporary file: upload it to your own server to keep it.
  onChooseAvatar (e) {
    this.setData({ avatarUrl: e.detail.avatarUrl })
  },

  onNickname (e) {
    this.setData({ nickName: e.detail.value })
  },

  // Open data: wx.getWeRunData answers with encryptedData and iv, encrypted
  // with the session_key of the current login. Do not call wx.login (or
  // auth.login) between the tap and auth.decrypt.
  onWeRun () {
    wx.getWeRunData({
      success: (res) => {
        auth.decrypt(res)
          .then((data) => {
            const days = data.stepInfoList || []
            const today = days.length ? days[days.length - 1].step : 0
            this.setData({ steps: today, error: '' })
          })
          .catch((err) => this.openDataFailed(err))
      },
      fail: (err) => this.setData({ error: 'WeRun: ' + err.errMsg })
    })
  },

  openDataFailed (err) {
    if (err.needsReauth) {
      // The data was encrypted with a session_key the server no longer
      // holds. The kit has logged in again; a new tap gets new data.
      wx.showModal({ title: 'Please try again', content: 'Your session was renewed. Tap the button once more.', showCancel: false })
      return
    }
    this.setData({ error: 'decrypt: ' + describe(err) })
  },

  // Phone number: <button open-type="getPhoneNumber"> gives a one-time code
  // in e.detail.code, or no code and an errno. auth.phone(e.detail) sends the
  // code, keeps the fresh token the server answers with (the user is now
  // bound to the number), and tells the failures apart by err.code.
  onGetPhoneNumber (e) {
    auth.phone(e.detail)
      .then((p) => this.setData({ phone: p.phoneNumber, error: '' }))
      .catch((err) => this.setData({ error: phoneError(err) }))
  },

  onLogout () {
    auth.logout()
    this.setData({ openid: '', steps: null, phone: '' })
    this.showSession() // logs in again
  }
})
