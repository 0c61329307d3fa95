'use strict'
// login_denied: the server's claims hook refuses the user. Its own error,
// never retried, and the refused user's token is not kept.
const nodeTest = require('node:test')
// A broken kit may loop or hang; fail instead of waiting forever.
const test = (name, fn) => nodeTest(name, { timeout: 5000 }, fn)
const assert = require('node:assert/strict')
const { createHarness, requestsTo, problem } = require('../testing/fakewx.js')
const { WxLoginError } = require('../miniprogram_dist/index.js')

const denied = () => problem(403, 'login_denied', 'Forbidden', 'account closed')

function isDenied (err) {
  assert.ok(err instanceof WxLoginError)
  assert.equal(err.code, 'login_denied')
  assert.equal(err.status, 403)
  assert.equal(err.detail, 'account closed')
  assert.equal(err.needsReauth, false)
  return true
}

test('login(): login_denied, one wx.login and one POST', async () => {
  const h = createHarness()
  h.server.script['POST /v1/login'] = denied
  await assert.rejects(h.auth.login(), isDenied)
  assert.equal(h.wx.calls.login, 1)
  assert.equal(requestsTo(h.wx, 'POST', '/v1/login').length, 1)
})

test('request(): login_denied, the request is not sent and not retried', async () => {
  const h = createHarness()
  h.server.script['POST /v1/login'] = denied
  await assert.rejects(Promise.all([1, 2, 3].map(() => h.auth.request({ url: '/v1/session' }))), isDenied)
  assert.equal(requestsTo(h.wx, 'POST', '/v1/login').length, 1, 'concurrent requests share the one denial')
  assert.equal(requestsTo(h.wx, 'GET', '/v1/session').length, 0)
})

test('a refused token, then the re-login is denied: login_denied, no further try', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.revoke('tok-1')
  h.server.script['POST /v1/login'] = denied
  await assert.rejects(h.auth.request({ url: '/v1/session' }), isDenied)
  assert.equal(requestsTo(h.wx, 'POST', '/v1/login').length, 2, 'the first login and one re-login')
  assert.equal(requestsTo(h.wx, 'GET', '/v1/session').length, 1, 'no retry of the request')
  assert.equal(h.wx.storage.has(h.key), false)
})

test('a denied login forgets the stored token of that user', async () => {
  const h = createHarness({ expiresIn: 600 })
  await h.auth.login()
  h.clock.advance(500) // near expiry: getToken logs in again
  h.server.script['POST /v1/login'] = denied
  await assert.rejects(h.auth.getToken(), isDenied)
  assert.equal(h.wx.storage.has(h.key), false)
  // The next call is a new attempt of the app's own, not a retry.
  await assert.rejects(h.auth.getToken(), isDenied)
  assert.equal(requestsTo(h.wx, 'POST', '/v1/login').length, 3)
  assert.equal(requestsTo(h.wx, 'GET', '/v1/session').length, 0)
})

test('decrypt(): when the re-login after a stale key is denied, login_denied, not needsReauth', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.script['POST /v1/decrypt'] = () => {
    const res = problem(400, 'decrypt_failed', 'Bad Request', 'stale key')
    res.data.relogin = true
    return res
  }
  h.server.script['POST /v1/login'] = denied
  await assert.rejects(h.auth.decrypt({ encryptedData: 'e', iv: 'i' }), isDenied)
  assert.equal(requestsTo(h.wx, 'POST', '/v1/decrypt').length, 1)
  assert.equal(requestsTo(h.wx, 'POST', '/v1/login').length, 2)
})

test('phone(): login_denied rejects once, and the current token stays', async () => {
  const h = createHarness()
  const before = await h.auth.getToken()
  h.server.script['POST /v1/phone'] = denied
  await assert.rejects(h.auth.phone('phone-code'), isDenied)
  assert.equal(requestsTo(h.wx, 'POST', '/v1/phone').length, 1, 'not retried')
  assert.equal(requestsTo(h.wx, 'POST', '/v1/login').length, 1, 'no login after it')
  assert.equal(h.wx.storage.has(h.key), true)
  assert.equal(await h.auth.getToken(), before)
})
