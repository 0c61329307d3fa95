'use strict'
// Several apps on one server: the AppID sent with each login, and the
// storage key that holds it.
const nodeTest = require('node:test')
// A broken kit may loop or hang; fail instead of waiting forever.
const test = (name, fn) => nodeTest(name, { timeout: 5000 }, fn)
const assert = require('node:assert/strict')
const { APPID, createHarness, requestsTo, createFakeServer, createFakeWx } = require('../testing/fakewx.js')
const { createAuth } = require('../miniprogram_dist/index.js')

test('every login sends the AppID of wx.getAccountInfoSync()', async () => {
  const h = createHarness()
  await h.auth.login()
  await h.auth.login()
  const posts = requestsTo(h.wx, 'POST', '/v1/login')
  assert.deepEqual(posts.map((r) => r.data), [{ code: 'code-1', appid: APPID }, { code: 'code-2', appid: APPID }])
  assert.equal(h.wx.calls.getAccountInfoSync, 1, 'asked once, at createAuth')
  // The re-login after a refused token names the app too.
  h.server.revoke('tok-2')
  await h.auth.request({ url: '/v1/session' })
  assert.equal(requestsTo(h.wx, 'POST', '/v1/login')[2].data.appid, APPID)
})

test('the appid option overrides the account info', async () => {
  const h = createHarness({ appid: 'wxbbbbbbbbbbbbbbbb' })
  await h.auth.login()
  assert.deepEqual(requestsTo(h.wx, 'POST', '/v1/login')[0].data, { code: 'code-1', appid: 'wxbbbbbbbbbbbbbbbb' })
  assert.equal(h.wx.calls.getAccountInfoSync, 0)
  assert.equal(h.wx.storage.get('session:wxbbbbbbbbbbbbbbbb').token, 'tok-1')
  assert.equal(h.wx.storage.has('session:' + APPID), false)
})

test('createAuth: appid must be a non-empty string', () => {
  for (const bad of ['', 42, true, null]) {
    assert.throws(() => createAuth({ baseURL: 'https://api.example.com', wx: createFakeWx(), appid: bad }), TypeError, JSON.stringify(bad))
  }
})

test('without getAccountInfoSync (or when it throws) the login names no app and the key is the bare prefix', async () => {
  const h = createHarness({ appId: null })
  await h.auth.login()
  assert.deepEqual(requestsTo(h.wx, 'POST', '/v1/login')[0].data, { code: 'code-1' })
  assert.equal(h.key, 'session')
  assert.equal(h.wx.storage.get('session').token, 'tok-1')

  const wx = createFakeWx({ server: createFakeServer() })
  wx.getAccountInfoSync = () => { throw new Error('getAccountInfoSync:fail') }
  const auth = createAuth({ baseURL: 'https://api.example.com', wx, logger: { warn () {} } })
  await auth.login()
  assert.deepEqual(wx.requests[0].data, { code: 'code-1' })
})

test('the token is stored under <storageKey>:<appid>, and each app finds only its own', async () => {
  const server = createFakeServer()
  const wx = createFakeWx({ server })
  const a = createAuth({ baseURL: 'https://api.example.com', wx, appid: 'wxaaaaaaaaaaaaaaaa' })
  const b = createAuth({ baseURL: 'https://api.example.com', wx, appid: 'wxbbbbbbbbbbbbbbbb' })
  assert.equal(await a.getToken(), 'tok-1')
  assert.equal(await b.getToken(), 'tok-2', 'B does not take A\'s token')
  assert.deepEqual([...wx.storage.keys()].sort(), ['wxlogin:wxaaaaaaaaaaaaaaaa', 'wxlogin:wxbbbbbbbbbbbbbbbb'])
  // Cold start: each app picks up its own stored token.
  const a2 = createAuth({ baseURL: 'https://api.example.com', wx, appid: 'wxaaaaaaaaaaaaaaaa' })
  assert.equal(await a2.getToken(), 'tok-1')
  assert.equal(wx.calls.login, 2)
  b.logout()
  assert.deepEqual([...wx.storage.keys()], ['wxlogin:wxaaaaaaaaaaaaaaaa'], 'logout forgets only its own app')
})

test('a record under the old key (no AppID) is removed, not adopted', async () => {
  const old = { token: 'tok-old', expiresAt: 1700000000000 + 3600000, openid: 'o', issuedAt: 1700000000000 }
  const h = createHarness({ storage: { session: old, unrelated: 'kept' } })
  assert.equal(h.wx.storage.has('session'), false, 'removed at createAuth')
  assert.equal(h.wx.storage.get('unrelated'), 'kept')
  assert.equal(await h.auth.getToken(), 'tok-1', 'a fresh login, not the old token')
  assert.equal(h.wx.calls.checkSession, 0)
  assert.equal(requestsTo(h.wx, 'GET', '/v1/session').length, 0)
})

test('a value under the old key that is no token record is left alone', () => {
  const h = createHarness({ storage: { session: 'the app\'s own value' } })
  assert.equal(h.wx.storage.get('session'), 'the app\'s own value')
  assert.equal(h.wx.calls.removeStorageSync, 0)
})
