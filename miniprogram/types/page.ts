// A TypeScript page using every method of the kit, as a mini program
// written against miniprogram-api-typings would. It must compile with
// `tsc --strict`; it is never run.
import { createAuth, WxLoginError, Auth, PhoneNumber, Session, TokenRecord } from 'wxlogin-miniprogram'

const auth: Auth = createAuth({ baseURL: 'https://login.example.com' })

// Every option, with a wx that is the global one.
createAuth({
  baseURL: 'https://login.example.com',
  appid: 'wx1234567890abcdef',
  storageKey: 'wxlogin',
  wx,
  refreshMarginSeconds: 600,
  now: Date.now,
  logger: console,
  apiOrigins: ['https://api.example.com']
})

interface Order {
  id: string
  total: number
}

/** What a page shows for each error of the phone button. */
function phoneMessage (err: WxLoginError): string {
  switch (err.code) {
    case 'phone_quota_exhausted':
      return 'Phone verification is not available right now: type your number instead.'
    case 'phone_denied':
      return 'You can share your phone number later.'
    case 'phone_failed':
      return 'Could not get the phone number (' + (err.errno === undefined ? err.detail : String(err.errno)) + ').'
    case 'login_denied':
      return 'This account may not log in.'
    default:
      return err.title
  }
}

Page({
  data: { openid: '', phone: '', steps: 0, error: '' },

  async onLoad () {
    const record: TokenRecord = await auth.login()
    const token: string = await auth.getToken()
    const s: Session = await auth.session()
    const valid: boolean = (await auth.checkSession()).valid
    this.setData({ openid: record.openid + s.openid + token.length + String(valid) + s.appid + s.expires_at })
    if (s.claims !== undefined && typeof s.claims.role === 'string') this.setData({ error: s.claims.role })

    const res = await auth.request<Order>({ url: '/orders/1', method: 'GET', header: { 'X-Trace': 'a' }, timeout: 5000 })
    const total: number = res.data.total
    const status: number = res.statusCode
    this.setData({ steps: total + status + res.data.id.length })
    const text = await auth.request<string>({ url: '/hello', dataType: 'text' })
    this.setData({ error: text.data })
  },

  onWeRun () {
    wx.getWeRunData({
      success: (res) => {
        auth.decrypt<{ stepInfoList: { step: number }[] }>(res)
          .then((data) => this.setData({ steps: data.stepInfoList[0].step }))
          .catch((err: unknown) => {
            if (err instanceof WxLoginError && err.needsReauth) this.setData({ error: 'tap again' })
          })
      }
    })
  },

  onGetPhoneNumber (e: WechatMiniprogram.ButtonGetPhoneNumber) {
    auth.phone(e.detail)
      .then((p: PhoneNumber) => this.setData({ phone: p.phoneNumber + p.purePhoneNumber + p.countryCode }))
      .catch((err: unknown) => {
        if (!(err instanceof WxLoginError)) throw err
        this.setData({ error: phoneMessage(err) })
        if (err.status === 429 && err.retryAfter !== undefined) this.setData({ error: 'wait ' + err.retryAfter + ' s' })
        if (err.reloginError !== undefined) this.setData({ error: err.reloginError.code })
      })
    auth.phone(e.detail.code).catch(() => {})
  },

  onLogout () {
    auth.logout()
    const e = new WxLoginError({ code: 'invalid_token', status: 401, title: 'Unauthorized' })
    this.setData({ error: e.message + e.problem.code + e.name })
  }
})
