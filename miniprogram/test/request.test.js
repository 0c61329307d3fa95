'use strict'
const nodeTest = require('node:test')
// A broken kit may loop or hang; fail instead of waiting forever.
const test = (name, fn) => nodeTest(name, { timeout: 5000 }, fn)
const assert = require('node:assert/strict')
const { APPID, createHarness, requestsTo, problem } = require('../testing/fakewx.js')
const { WxLoginError } = require('../miniprogram_dist/index.js')

const invalidToken = () => ({
  statusCode: 401,
  header: { 'WWW-Authenticate': 'Bearer' },
  data: { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'token expired', code: 'invalid_token' }
})

test('request: Bearer header, path joined to baseURL, wx.request result returned', async () => {
  const h = createHarness()
  const res = await h.auth.request({ url: '/v1/session' })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.data, { sub: 'openid-of-tok-1', openid: 'openid-of-tok-1', appid: APPID, expires_at: '2030-01-01T00:00:00Z' })
  assert.equal(typeof res.header, 'object')
  const [req] = requestsTo(h.wx, 'GET', '/v1/session')
  assert.equal(req.url, 'https://api.example.com/v1/session')
  assert.equal(req.header.Authorization, 'Bearer tok-1')

  await h.auth.request({ url: 'v1/session' })
  assert.equal(h.wx.requests.at(-1).url, 'https://api.example.com/v1/session')
})

test('request: absolute URL on an allowed origin and wx.request options pass through', async () => {
  const h = createHarness({ apiOrigins: ['https://shop.example.com'] })
  h.server.script['POST /orders'] = (req) => ({ statusCode: 201, header: {}, data: { got: req.data, auth: req.header.Authorization, x: req.header['X-Trace'] } })
  const res = await h.auth.request({ url: 'https://shop.example.com/orders', method: 'post', data: { item: 3 }, header: { 'X-Trace': 'abc' } })
  assert.equal(res.statusCode, 201)
  assert.deepEqual(res.data, { got: { item: 3 }, auth: 'Bearer tok-1', x: 'abc' })
  assert.equal(h.wx.requests.at(-1).url, 'https://shop.example.com/orders')
  // baseURL's own origin, spelled absolutely, is allowed too.
  await h.auth.request({ url: 'HTTPS://api.example.com/v1/session' })
  assert.equal(h.wx.requests.at(-1).header.Authorization, 'Bearer tok-1')
})

test('request: the token is never sent to another origin', async () => {
  const h = createHarness({ apiOrigins: ['https://shop.example.com'] })
  for (const url of [
    'https://evil.example.com/steal',
    'https://api.example.com.evil.com/x',
    'https://api.example.com@evil.com/x',
    'http://api.example.com/v1/session', // another scheme is another origin
    'https://shop.example.com:8443/orders'
  ]) {
    await assert.rejects(h.auth.request({ url }), (err) => {
      assert.ok(err instanceof WxLoginError)
      assert.equal(err.code, 'invalid_request')
      assert.equal(err.status, 0)
      return true
    }, url)
  }
  assert.equal(h.wx.requests.length, 0, 'nothing was sent')
  assert.equal(h.wx.calls.login, 0, 'no login for a request that cannot be sent')
})

test('createAuth: apiOrigins must be origins', () => {
  const { createAuth } = require('../miniprogram_dist/index.js')
  const wx = {}
  for (const bad of [['https://shop.example.com/path'], ['shop.example.com'], 'https://shop.example.com', [3]]) {
    assert.throws(() => createAuth({ baseURL: 'https://api.example.com', wx, apiOrigins: bad }), TypeError, JSON.stringify(bad))
  }
  assert.throws(() => createAuth({ baseURL: '/relative', wx }), TypeError)
  assert.doesNotThrow(() => createAuth({ baseURL: 'https://api.example.com', wx, apiOrigins: ['https://Shop.example.com/'] }))
})

test('401 invalid_token: exactly one fresh login and one retry', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.revoke('tok-1')
  const res = await h.auth.request({ url: '/v1/session' })
  assert.equal(res.statusCode, 200)
  assert.equal(res.data.openid, 'openid-of-tok-2')
  assert.equal(h.wx.calls.login, 2)
  assert.equal(requestsTo(h.wx, 'POST', '/v1/login').length, 2)
  const tries = requestsTo(h.wx, 'GET', '/v1/session')
  assert.deepEqual(tries.map((r) => r.header.Authorization), ['Bearer tok-1', 'Bearer tok-2'])
  assert.equal(h.wx.storage.get(h.key).token, 'tok-2')
})

test('401 invalid_token with a stored token: re-login is fresh, not from storage', async () => {
  const h = createHarness()
  await h.auth.login()
  h.server.revoke('tok-1')
  const auth2 = h.newAuth()
  const res = await auth2.request({ url: '/v1/session' })
  assert.equal(res.data.openid, 'openid-of-tok-2')
  assert.equal(h.wx.calls.login, 2)
})

test('a second 401 is returned, not looped', async () => {
  const h = createHarness()
  h.server.script['GET /v1/session'] = invalidToken
  await assert.rejects(h.auth.request({ url: '/v1/session' }), (err) => {
    assert.ok(err instanceof WxLoginError)
    assert.equal(err.status, 401)
    assert.equal(err.code, 'invalid_token')
    assert.equal(err.detail, 'token expired')
    return true
  })
  assert.equal(h.wx.calls.login, 2, 'first login, then exactly one re-login')
  assert.equal(requestsTo(h.wx, 'GET', '/v1/session').length, 2, 'one try, one retry')
  assert.equal(h.wx.requests.length, 4)
})

test('401 with another code is not retried', async () => {
  const h = createHarness()
  h.server.script['GET /v1/session'] = () => problem(401, 'invalid_code', 'Unauthorized')
  await assert.rejects(h.auth.request({ url: '/v1/session' }), { status: 401, code: 'invalid_code' })
  assert.equal(h.wx.calls.login, 1)
  assert.equal(requestsTo(h.wx, 'GET', '/v1/session').length, 1)
})

test('concurrent requests refused together share one re-login', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.revoke('tok-1')
  const results = await Promise.all([1, 2, 3].map(() => h.auth.request({ url: '/v1/session' })))
  assert.deepEqual(results.map((r) => r.data.openid), Array(3).fill('openid-of-tok-2'))
  assert.equal(h.wx.calls.login, 2)
  assert.equal(requestsTo(h.wx, 'GET', '/v1/session').length, 6)
})

test('a 401 arriving after another request already re-logged in reuses the new token', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.revoke('tok-1')
  h.server.script['GET /slow'] = (req) => {
    if (req.header.Authorization === 'Bearer tok-1') return Object.assign(invalidToken(), { delay: 50 })
    return { statusCode: 200, header: {}, data: { auth: req.header.Authorization } }
  }
  const [fast, slow] = await Promise.all([h.auth.request({ url: '/v1/session' }), h.auth.request({ url: '/slow' })])
  assert.equal(fast.data.openid, 'openid-of-tok-2')
  assert.equal(slow.data.auth, 'Bearer tok-2')
  assert.equal(h.wx.calls.login, 2, 'the late 401 did not start another login')
})

test('a refused token is forgotten even when the re-login fails', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.revoke('tok-1')
  h.wx.loginFails = true
  await assert.rejects(h.auth.request({ url: '/v1/session' }), { code: 'wx_login_failed' })
  assert.equal(h.wx.storage.has(h.key), false)
  h.wx.loginFails = false
  const res = await h.auth.request({ url: '/v1/session' })
  assert.equal(res.data.openid, 'openid-of-tok-2')
  assert.equal(requestsTo(h.wx, 'GET', '/v1/session').length, 2, 'tok-1 was not sent again')
})

test('server problem surfaced with status, code, title, detail, retryAfter', async () => {
  const h = createHarness()
  h.server.script['GET /v1/session'] = () => {
    const p = problem(429, 'rate_limited', 'Too Many Requests', 'slow down')
    p.header['Retry-After'] = '30'
    return p
  }
  await assert.rejects(h.auth.request({ url: '/v1/session' }), (err) => {
    assert.ok(err instanceof WxLoginError)
    assert.equal(err.status, 429)
    assert.equal(err.code, 'rate_limited')
    assert.equal(err.title, 'Too Many Requests')
    assert.equal(err.detail, 'slow down')
    assert.equal(err.retryAfter, 30)
    assert.equal(err.message, 'Too Many Requests: slow down')
    assert.deepEqual(err.problem, { type: 'about:blank', title: 'Too Many Requests', status: 429, detail: 'slow down', code: 'rate_limited' })
    return true
  })
})

test('problem delivered as a JSON string is parsed', async () => {
  const h = createHarness()
  h.server.script['GET /v1/session'] = () => ({
    statusCode: 503,
    header: {},
    data: JSON.stringify({ title: 'Service Unavailable', status: 503, code: 'upstream_unavailable' })
  })
  await assert.rejects(h.auth.request({ url: '/v1/session' }), { status: 503, code: 'upstream_unavailable', retryAfter: undefined })
})

test('non-problem error body: http_error with the status', async () => {
  const h = createHarness()
  h.server.script['GET /v1/session'] = () => ({ statusCode: 502, header: {}, data: '<html>Bad Gateway</html>' })
  await assert.rejects(h.auth.request({ url: '/v1/session' }), { status: 502, code: 'http_error', title: 'HTTP 502' })
})

test('network failure: network_error, no login, no retry', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.wx.networkDown = true
  await assert.rejects(h.auth.request({ url: '/v1/session' }), (err) => {
    assert.ok(err instanceof WxLoginError)
    assert.equal(err.code, 'network_error')
    assert.equal(err.status, 0)
    assert.match(err.detail, /request:fail timeout/)
    return true
  })
  assert.equal(h.wx.calls.login, 1)
  assert.equal(requestsTo(h.wx, 'GET', '/v1/session').length, 1)
})

test('network failure during login rejects getToken with network_error', async () => {
  const h = createHarness()
  h.wx.networkDown = true
  await assert.rejects(h.auth.getToken(), { code: 'network_error' })
})

test('session(): GET /v1/session body', async () => {
  const h = createHarness()
  assert.deepEqual(await h.auth.session(), { sub: 'openid-of-tok-1', openid: 'openid-of-tok-1', appid: APPID, expires_at: '2030-01-01T00:00:00Z' })
})

test('checkSession(): POST /v1/session/check -> {valid}', async () => {
  const h = createHarness()
  assert.deepEqual(await h.auth.checkSession(), { valid: true })
  assert.equal(requestsTo(h.wx, 'POST', '/v1/session/check').length, 1)
  h.server.script['POST /v1/session/check'] = () => ({ statusCode: 200, header: {}, data: { valid: false } })
  assert.deepEqual(await h.auth.checkSession(), { valid: false })
})

test('phone(code) and phone(e.detail): POST /v1/phone {code}', async () => {
  const h = createHarness()
  const want = { phoneNumber: '+86 13800000000', purePhoneNumber: '13800000000', countryCode: '86' }
  assert.deepEqual(await h.auth.phone('phone-code-1'), want)
  assert.deepEqual(await h.auth.phone({ code: 'phone-code-2', errMsg: 'getPhoneNumber:ok' }), want)
  const posts = requestsTo(h.wx, 'POST', '/v1/phone')
  assert.deepEqual(posts.map((r) => r.data), [{ code: 'phone-code-1' }, { code: 'phone-code-2' }])
  assert.equal(posts[0].header.Authorization, 'Bearer tok-1')
})

test('phone() without a code and without a button answer: invalid_request, nothing sent', async () => {
  const h = createHarness()
  await assert.rejects(h.auth.phone(''), { code: 'invalid_request', status: 0 })
  await assert.rejects(h.auth.phone(), { code: 'invalid_request' })
  await assert.rejects(h.auth.phone({}), { code: 'invalid_request' })
  assert.equal(h.wx.requests.length, 0)
})

test('phone(): server problem surfaced', async () => {
  const h = createHarness()
  h.server.script['POST /v1/phone'] = () => problem(502, 'upstream_error', 'Bad Gateway', 'WeChat error')
  await assert.rejects(h.auth.phone('c'), { status: 502, code: 'upstream_error', detail: 'WeChat error' })
})
