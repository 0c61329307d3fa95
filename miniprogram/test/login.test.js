'use strict'
const nodeTest = require('node:test')
// A broken kit may loop or hang; fail instead of waiting forever.
const test = (name, fn) => nodeTest(name, { timeout: 5000 }, fn)
const assert = require('node:assert/strict')
const { APPID, createHarness, requestsTo, createFakeWx, createFakeServer } = require('../testing/fakewx.js')
const { createAuth, WxLoginError } = require('../miniprogram_dist/index.js')

test('createAuth requires baseURL', () => {
  assert.throws(() => createAuth({ wx: createFakeWx() }), TypeError)
  assert.throws(() => createAuth({ baseURL: '', wx: createFakeWx() }), TypeError)
})

test('login: wx.login, POST /v1/login {code, appid}, stores {token, expiresAt, openid, unionid}', async () => {
  const h = createHarness({ unionid: 'union-1' })
  const t0 = h.clock.now()
  const rec = await h.auth.login()

  assert.equal(h.wx.calls.login, 1)
  const posts = requestsTo(h.wx, 'POST', '/v1/login')
  assert.equal(posts.length, 1)
  assert.equal(posts[0].url, 'https://api.example.com/v1/login')
  assert.deepEqual(posts[0].data, { code: 'code-1', appid: APPID })
  assert.equal(posts[0].header.Authorization, undefined, 'login carries no token')
  assert.match(posts[0].header['Content-Type'], /^application\/json/)

  const expected = { token: 'tok-1', expiresAt: t0 + 7200 * 1000, openid: 'openid-for-code-1', unionid: 'union-1', issuedAt: t0 }
  assert.deepEqual(rec, expected)
  assert.deepEqual(h.wx.storage.get(h.key), expected)
})

test('login without unionid stores no unionid', async () => {
  const h = createHarness()
  await h.auth.login()
  const stored = h.wx.storage.get(h.key)
  assert.equal(stored.token, 'tok-1')
  assert.equal('unionid' in stored, false)
})

test('N concurrent getToken share one login: one wx.login, one POST', async () => {
  const h = createHarness()
  const tokens = await Promise.all(Array.from({ length: 7 }, () => h.auth.getToken()))
  assert.deepEqual(tokens, Array(7).fill('tok-1'))
  assert.equal(h.wx.calls.login, 1)
  assert.equal(requestsTo(h.wx, 'POST', '/v1/login').length, 1)
})

test('concurrent login() calls share one login; a later call logs in afresh', async () => {
  const h = createHarness()
  const [a, b, c] = await Promise.all([h.auth.login(), h.auth.login(), h.auth.getToken()])
  assert.equal(a.token, 'tok-1')
  assert.equal(b.token, 'tok-1')
  assert.equal(c, 'tok-1')
  assert.equal(h.wx.calls.login, 1)
  const d = await h.auth.login()
  assert.equal(d.token, 'tok-2')
  assert.equal(h.wx.calls.login, 2)
})

test('getToken reuses the token in memory without wx.checkSession or login', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.clock.advance(3600)
  assert.equal(await h.auth.getToken(), 'tok-1')
  assert.equal(await h.auth.getToken(), 'tok-1')
  assert.equal(h.wx.calls.login, 1)
  assert.equal(h.wx.calls.checkSession, 0, 'a token from our own login needs no check')
})

test('cold start: stored token used after one successful wx.checkSession', async () => {
  const h = createHarness()
  await h.auth.login()
  const auth2 = h.newAuth()
  const tokens = await Promise.all([auth2.getToken(), auth2.getToken()])
  assert.deepEqual(tokens, ['tok-1', 'tok-1'])
  assert.equal(await auth2.getToken(), 'tok-1')
  assert.equal(h.wx.calls.checkSession, 1, 'checked once per app run')
  assert.equal(h.wx.calls.login, 1, 'no new login')
})

test('cold start: wx.checkSession fails -> fresh login', async () => {
  const h = createHarness()
  await h.auth.login()
  h.wx.checkSessionOk = false
  const auth2 = h.newAuth()
  assert.equal(await auth2.getToken(), 'tok-2')
  assert.equal(h.wx.calls.checkSession, 1)
  assert.equal(h.wx.calls.login, 2)
  assert.equal(h.wx.storage.get(h.key).token, 'tok-2')
})

test('refresh: default margin is 5 minutes before expiry', async () => {
  const h = createHarness({ expiresIn: 7200 })
  await h.auth.getToken()
  h.clock.advance(7200 - 301)
  assert.equal(await h.auth.getToken(), 'tok-1', 'still comfortably valid')
  h.clock.advance(2) // 299 s left
  assert.equal(await h.auth.getToken(), 'tok-2', 'within the margin: fresh login')
  assert.equal(h.wx.calls.login, 2)
})

test('refresh: short TTLs use a quarter of the lifetime as margin', async () => {
  const h = createHarness({ expiresIn: 60 })
  await h.auth.getToken()
  assert.equal(await h.auth.getToken(), 'tok-1', 'a 60 s token is not near expiry when issued')
  h.clock.advance(44) // 16 s left, margin 15 s
  assert.equal(await h.auth.getToken(), 'tok-1')
  h.clock.advance(2) // 14 s left
  assert.equal(await h.auth.getToken(), 'tok-2')
  assert.equal(h.wx.calls.login, 2)
})

test('refresh: refreshMarginSeconds option', async () => {
  const h = createHarness({ expiresIn: 7200, refreshMarginSeconds: 600 })
  await h.auth.getToken()
  h.clock.advance(7200 - 601)
  assert.equal(await h.auth.getToken(), 'tok-1')
  h.clock.advance(2)
  assert.equal(await h.auth.getToken(), 'tok-2')
})

test('expired stored token at cold start -> login without checkSession', async () => {
  const h = createHarness()
  await h.auth.login()
  h.clock.advance(7201)
  const auth2 = h.newAuth()
  assert.equal(await auth2.getToken(), 'tok-2')
  assert.equal(h.wx.calls.checkSession, 0)
})

test('setStorageSync throws: login succeeds, token kept in memory, warning has no token', async () => {
  const h = createHarness({ storageThrows: { set: true } })
  const rec = await h.auth.login()
  assert.equal(rec.token, 'tok-1')
  assert.equal(h.wx.calls.setStorageSync, 1)
  assert.equal(h.wx.storage.has(h.key), false)
  assert.equal(await h.auth.getToken(), 'tok-1')
  assert.equal(h.wx.calls.login, 1)
  assert.equal(h.logger.lines.length, 1)
  assert.match(h.logger.lines[0], /memory/)
  assert.doesNotMatch(h.logger.lines.join('\n'), /tok-1|code-1/)
})

test('getStorageSync throws: getToken logs in', async () => {
  const h = createHarness({ storageThrows: { get: true } })
  assert.equal(await h.auth.getToken(), 'tok-1')
  assert.equal(h.wx.calls.login, 1)
  assert.equal(h.logger.lines.length, 1)
})

test('garbage in storage is ignored', async () => {
  for (const value of ['', 'tok-x', { token: 'tok-x' }, { token: 'tok-x', expiresAt: 'soon' }, { token: '', expiresAt: 1 }]) {
    const server = createFakeServer()
    const wx = createFakeWx({ server, storage: { ['session:' + APPID]: value } })
    const auth = createAuth({ baseURL: 'https://api.example.com', storageKey: 'session', wx, logger: { warn () {} } })
    assert.equal(await auth.getToken(), 'tok-1', JSON.stringify(value))
    assert.equal(wx.calls.login, 1)
    assert.equal(wx.calls.checkSession, 0)
  }
})

test('wx.login fails: WxLoginError wx_login_failed, and the next call tries again', async () => {
  const h = createHarness()
  h.wx.loginFails = true
  await assert.rejects(h.auth.getToken(), (err) => {
    assert.ok(err instanceof WxLoginError)
    assert.ok(err instanceof Error)
    assert.equal(err.code, 'wx_login_failed')
    assert.equal(err.status, 0)
    assert.match(err.detail, /login:fail/)
    return true
  })
  assert.equal(requestsTo(h.wx, 'POST', '/v1/login').length, 0)
  h.wx.loginFails = false
  assert.equal(await h.auth.getToken(), 'tok-1')
  assert.equal(h.wx.calls.login, 2)
})

test('server refuses the code: the problem object is surfaced', async () => {
  const h = createHarness()
  h.server.script['POST /v1/login'] = () => ({
    statusCode: 401,
    header: { 'content-type': 'application/problem+json' },
    data: { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'the login code is invalid or already used', code: 'invalid_code' }
  })
  await assert.rejects(h.auth.login(), (err) => {
    assert.ok(err instanceof WxLoginError)
    assert.equal(err.name, 'WxLoginError')
    assert.equal(err.status, 401)
    assert.equal(err.code, 'invalid_code')
    assert.equal(err.title, 'Unauthorized')
    assert.equal(err.detail, 'the login code is invalid or already used')
    assert.equal(err.problem.code, 'invalid_code')
    assert.equal(err.needsReauth, false)
    return true
  })
  assert.equal(h.wx.storage.has(h.key), false)
  assert.equal(h.wx.calls.login, 1, 'no automatic retry of a refused code')
})

test('login answer without a token: invalid_response', async () => {
  const h = createHarness()
  h.server.script['POST /v1/login'] = () => ({ statusCode: 200, header: {}, data: { token_type: 'Bearer', expires_in: 7200 } })
  await assert.rejects(h.auth.login(), { code: 'invalid_response', status: 0 })
  h.server.script['POST /v1/login'] = () => ({ statusCode: 200, header: {}, data: '<html>proxy page</html>' })
  await assert.rejects(h.auth.login(), { code: 'invalid_response' })
})

test('logout forgets memory and storage; the next getToken logs in', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.auth.logout()
  assert.equal(h.wx.calls.removeStorageSync, 1)
  assert.equal(h.wx.storage.has(h.key), false)
  assert.equal(await h.auth.getToken(), 'tok-2')
  assert.equal(h.wx.calls.login, 2)
})

test('logout during a login in flight: that login resolves but is not kept', async () => {
  const h = createHarness()
  const pending = h.auth.login()
  h.auth.logout()
  assert.equal((await pending).token, 'tok-1')
  assert.equal(h.wx.storage.has(h.key), false)
  assert.equal(await h.auth.getToken(), 'tok-2')
})

test('logout with a throwing removeStorageSync still forgets the token in memory', async () => {
  const h = createHarness({ storageThrows: { remove: true } })
  await h.auth.getToken()
  h.auth.logout()
  assert.equal(h.logger.lines.length, 1)
  h.wx.storage.delete(h.key) // as if another run had cleared it
  assert.equal(await h.auth.getToken(), 'tok-2')
})
