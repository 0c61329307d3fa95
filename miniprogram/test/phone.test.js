'use strict'
// phone(): the fresh token of the answer, and the button's failures.
const nodeTest = require('node:test')
// A broken kit may loop or hang; fail instead of waiting forever.
const test = (name, fn) => nodeTest(name, { timeout: 5000 }, fn)
const assert = require('node:assert/strict')
const { createHarness, requestsTo } = require('../testing/fakewx.js')
const { WxLoginError } = require('../miniprogram_dist/index.js')

test('phone() keeps the fresh token of the answer: later requests carry the bound user', async () => {
  const h = createHarness({ unionid: 'union-1' })
  const before = await h.auth.login()
  h.clock.advance(60)
  const t1 = h.clock.now()
  const p = await h.auth.phone({ code: 'phone-code', errMsg: 'getPhoneNumber:ok' })
  assert.deepEqual(p, { phoneNumber: '+86 13800000000', purePhoneNumber: '13800000000', countryCode: '86' }, 'no token fields in the answer')
  const stored = h.wx.storage.get(h.key)
  assert.deepEqual(stored, { token: 'tok-2', expiresAt: t1 + 7200 * 1000, openid: before.openid, unionid: 'union-1', issuedAt: t1 })
  assert.equal(await h.auth.getToken(), 'tok-2')
  const s = await h.auth.session()
  assert.deepEqual(s.claims, { phone: true }, 'the session is the bound one')
  assert.equal(requestsTo(h.wx, 'GET', '/v1/session')[0].header.Authorization, 'Bearer tok-2')
  assert.equal(h.wx.calls.login, 1, 'no login for the new token')
  // A cold start finds the new token.
  assert.equal(await h.newAuth().getToken(), 'tok-2')
})

test('phone() against a server that answers without a token keeps the current one', async () => {
  const h = createHarness({ phoneToken: false })
  await h.auth.login()
  await h.auth.phone('phone-code')
  assert.equal(h.wx.storage.get(h.key).token, 'tok-1')
  assert.equal(await h.auth.getToken(), 'tok-1')
})

test('logout while phone() is in flight: the fresh token is not kept', async () => {
  const h = createHarness()
  await h.auth.login()
  const pending = h.auth.phone('phone-code')
  await new Promise((resolve) => setImmediate(resolve))
  h.auth.logout()
  await pending
  assert.equal(h.wx.storage.has(h.key), false)
  assert.equal(await h.auth.getToken(), 'tok-3', 'a new login, not the phone answer\'s tok-2')
})

const buttonErrors = [
  ['errno 1400001: the quota is used up', { errMsg: 'getPhoneNumber:fail no permission', errno: 1400001 }, 'phone_quota_exhausted', 1400001],
  ['the user declines', { errMsg: 'getPhoneNumber:fail user deny' }, 'phone_denied', undefined],
  ['the user declines (older clients)', { errMsg: 'getPhoneNumber:fail:user deny', errno: 0 }, 'phone_denied', 0],
  ['the privacy agreement is not accepted', { errMsg: 'getPhoneNumber:fail privacy permission is not authorized', errno: 104 }, 'phone_failed', 104],
  ['the app may not use the button', { errMsg: 'getPhoneNumber:fail api scope is not declared in the privacy agreement', errno: 112 }, 'phone_failed', 112],
  ['no code in an "ok" answer', { errMsg: 'getPhoneNumber:ok' }, 'phone_failed', undefined]
]

for (const [name, detail, code, errno] of buttonErrors) {
  test('phone button error, ' + name + ': ' + code + ', nothing sent', async () => {
    const h = createHarness()
    await h.auth.login()
    const sent = h.wx.requests.length
    await assert.rejects(h.auth.phone(detail), (err) => {
      assert.ok(err instanceof WxLoginError)
      assert.equal(err.code, code)
      assert.equal(err.status, 0)
      assert.equal(err.errno, errno)
      assert.equal(err.detail, detail.errMsg)
      assert.equal(err.needsReauth, false)
      return true
    })
    assert.equal(h.wx.requests.length, sent)
    assert.equal(h.wx.storage.get(h.key).token, 'tok-1', 'the token is untouched')
  })
}

test('the three phone button failures have three different codes', async () => {
  const h = createHarness()
  const codes = new Set()
  for (const detail of [buttonErrors[0][1], buttonErrors[1][1], buttonErrors[3][1]]) {
    await h.auth.phone(detail).catch((err) => codes.add(err.code))
  }
  assert.equal(codes.size, 3)
})
