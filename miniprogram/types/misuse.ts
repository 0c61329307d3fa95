// Wrong uses of the kit: each line after `// @ts-expect-error` must fail
// to compile. tsc reports an unused @ts-expect-error (TS2578), so this
// file compiles only while every one of them is an error.
import { createAuth, WxLoginError } from 'wxlogin-miniprogram'

// @ts-expect-error baseURL is required
createAuth({})
// @ts-expect-error options are required
createAuth()
// @ts-expect-error baseURL is a string
createAuth({ baseURL: 8080 })
// @ts-expect-error an unknown option (a typo of apiOrigins)
createAuth({ baseURL: 'https://login.example.com', apiOrigin: ['https://api.example.com'] })
// @ts-expect-error appid is a string
createAuth({ baseURL: 'https://login.example.com', appid: true })
// @ts-expect-error apiOrigins is a list
createAuth({ baseURL: 'https://login.example.com', apiOrigins: 'https://api.example.com' })
// @ts-expect-error wx must have the wx API
createAuth({ baseURL: 'https://login.example.com', wx: {} })

const auth = createAuth({ baseURL: 'https://login.example.com' })

async function wrong (e: WechatMiniprogram.ButtonGetPhoneNumber, werun: WechatMiniprogram.GetWeRunDataSuccessCallbackResult) {
  // @ts-expect-error getToken resolves to a string, not a record
  const t: { token: string } = await auth.getToken()
  // @ts-expect-error request needs a url
  await auth.request({ method: 'GET' })
  // @ts-expect-error wx.request's method is an upper-case HTTP method
  await auth.request({ url: '/x', method: 'FETCH' })
  // @ts-expect-error success callbacks are not taken: use the promise
  await auth.request({ url: '/x', success: () => {} })
  // @ts-expect-error decrypt needs encryptedData and iv
  await auth.decrypt({ iv: werun.iv })
  // @ts-expect-error phone takes e.detail, not the event
  await auth.phone(e)
  // @ts-expect-error the phone answer has no email
  const mail: string = (await auth.phone(e.detail)).email
  // @ts-expect-error checkSession resolves to {valid}, not a boolean
  if ((await auth.checkSession()) === true) return
  // @ts-expect-error the session's expires_at is an RFC 3339 string
  const exp: number = (await auth.session()).expires_at
  // @ts-expect-error logout returns nothing to wait for
  await auth.logout().then(() => {})
  // @ts-expect-error no such method
  await auth.refresh()
  return [t, mail, exp]
}

function codes (err: WxLoginError) {
  // @ts-expect-error not a code (it is phone_quota_exhausted)
  if (err.code === 'phone_quota') return 1
  // @ts-expect-error not a code (it is phone_denied)
  if (err.code === 'user_deny') return 2
  // @ts-expect-error status is a number
  if (err.status === '401') return 3
  // @ts-expect-error errno is a number
  const n: string = err.errno
  return n
}

export { wrong, codes }
