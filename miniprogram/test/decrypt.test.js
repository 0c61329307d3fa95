'use strict'
const nodeTest = require('node:test')
// A broken kit may loop or hang; fail instead of waiting forever.
const test = (name, fn) => nodeTest(name, { timeout: 5000 }, fn)
const assert = require('node:assert/strict')
const { createHarness, requestsTo, problem } = require('../testing/fakewx.js')
const { WxLoginError } = require('../miniprogram_dist/index.js')

const detail = {
  errMsg: 'getWeRunData:ok',
  encryptedData: 'ZW5jcnlwdGVk',
  iv: 'aXY=',
  cloudID: 'cloud-id',
  rawData: '{"nickName":"x"}',
  signature: 'abc123'
}

// The server's answer when the session_key does not fit the data: relogin.
const staleKey = () => {
  const res = problem(400, 'decrypt_failed', 'Bad Request', 'the data does not decrypt with this session\'s key')
  res.data.relogin = true
  return res
}

test('decrypt posts encryptedData, iv, rawData, signature with the token', async () => {
  const h = createHarness()
  await h.auth.getToken()
  const out = await h.auth.decrypt(detail)
  assert.deepEqual(out, { nickName: 'decrypted', token: 'tok-1' })
  const [req] = requestsTo(h.wx, 'POST', '/v1/decrypt')
  assert.equal(req.header.Authorization, 'Bearer tok-1')
  assert.deepEqual(req.data, { encryptedData: 'ZW5jcnlwdGVk', iv: 'aXY=', rawData: '{"nickName":"x"}', signature: 'abc123' })
})

test('decrypt never calls wx.login before sending, even when the token is near expiry', async () => {
  const h = createHarness({ expiresIn: 7200 })
  await h.auth.getToken()
  h.clock.advance(7200 - 10) // well inside the refresh margin, not expired
  const out = await h.auth.decrypt({ encryptedData: 'e', iv: 'i' })
  assert.equal(out.token, 'tok-1')
  assert.equal(h.wx.calls.login, 1)
  assert.equal(h.wx.calls.checkSession, 0)
})

test('decrypt uses a stored token at cold start without wx.login or checkSession', async () => {
  const h = createHarness()
  await h.auth.login()
  const auth2 = h.newAuth()
  assert.equal((await auth2.decrypt({ encryptedData: 'e', iv: 'i' })).token, 'tok-1')
  assert.equal(h.wx.calls.login, 1)
  assert.equal(h.wx.calls.checkSession, 0)
})

test('decrypt_failed from a stale session_key: needsReauth, one fresh login after the failure, no retry', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.script['POST /v1/decrypt'] = (req) => {
    if (req.header.Authorization === 'Bearer tok-1') return staleKey()
  }
  await assert.rejects(h.auth.decrypt(detail), (err) => {
    assert.ok(err instanceof WxLoginError)
    assert.equal(err.code, 'decrypt_failed')
    assert.equal(err.status, 400)
    assert.equal(err.needsReauth, true)
    assert.equal(err.reloginError, undefined)
    return true
  })
  assert.equal(requestsTo(h.wx, 'POST', '/v1/decrypt').length, 1, 'the same data is not sent again')
  assert.equal(h.wx.calls.login, 2, 'exactly one login after the failure, finished before the rejection')
  assert.equal(h.wx.storage.get(h.key).token, 'tok-2')
  // The next user tap works with the new session.
  assert.equal((await h.auth.decrypt(detail)).token, 'tok-2')
  assert.equal(h.wx.calls.login, 2)
})

test('decrypt_failed and the re-login fails: original error, reloginError attached', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.script['POST /v1/decrypt'] = () => staleKey()
  h.wx.loginFails = true
  await assert.rejects(h.auth.decrypt(detail), (err) => {
    assert.equal(err.code, 'decrypt_failed')
    assert.equal(err.needsReauth, true)
    assert.equal(err.reloginError.code, 'wx_login_failed')
    return true
  })
})

test('decrypt with a refused token: needsReauth and one re-login, no retry', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.revoke('tok-1')
  await assert.rejects(h.auth.decrypt(detail), { status: 401, code: 'invalid_token', needsReauth: true })
  assert.equal(requestsTo(h.wx, 'POST', '/v1/decrypt').length, 1)
  assert.equal(h.wx.calls.login, 2)
})

test('decrypt with no unexpired token: needsReauth without sending, then logs in', async () => {
  const h = createHarness()
  await assert.rejects(h.auth.decrypt(detail), { status: 0, code: 'invalid_token', needsReauth: true })
  assert.equal(requestsTo(h.wx, 'POST', '/v1/decrypt').length, 0)
  assert.equal(h.wx.calls.login, 1)

  h.clock.advance(7200) // expired now
  await assert.rejects(h.auth.decrypt(detail), { code: 'invalid_token', needsReauth: true })
  assert.equal(requestsTo(h.wx, 'POST', '/v1/decrypt').length, 0)
  assert.equal(h.wx.calls.login, 2)
})

test('other decrypt errors: no needsReauth, no login', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.script['POST /v1/decrypt'] = () => problem(413, 'payload_too_large', 'Payload Too Large')
  await assert.rejects(h.auth.decrypt(detail), { status: 413, code: 'payload_too_large', needsReauth: false })
  assert.equal(h.wx.calls.login, 1)
})

test('decrypt without encryptedData (user declined): invalid_request, nothing sent', async () => {
  const h = createHarness()
  await h.auth.getToken()
  await assert.rejects(h.auth.decrypt({ errMsg: 'getWeRunData:fail auth deny' }), { code: 'invalid_request', status: 0, detail: 'getWeRunData:fail auth deny' })
  await assert.rejects(h.auth.decrypt(undefined), { code: 'invalid_request' })
  assert.equal(requestsTo(h.wx, 'POST', '/v1/decrypt').length, 0)
  assert.equal(h.wx.calls.login, 1)
})

test('decrypt_failed not caused by the session_key: no needsReauth, no login', async () => {
  const h = createHarness()
  await h.auth.getToken()
  h.server.script['POST /v1/decrypt'] = () => problem(400, 'decrypt_failed', 'Bad Request', 'iv must be base64 of 16 bytes')
  await assert.rejects(h.auth.decrypt(detail), { status: 400, code: 'decrypt_failed', needsReauth: false })
  assert.equal(h.wx.calls.login, 1, 'no wx.login: it would replace the session_key for nothing')
})

test('decrypt waits for a login in flight and sends the new token', async () => {
  const h = createHarness()
  await h.auth.getToken()
  const relogin = h.auth.login() // its wx.login has replaced the session_key
  const out = await h.auth.decrypt(detail)
  assert.equal(out.token, 'tok-2', 'data encrypted with the new key goes with the new token')
  assert.equal((await relogin).token, 'tok-2')
  assert.equal(h.wx.calls.login, 2)
  assert.deepEqual(requestsTo(h.wx, 'POST', '/v1/decrypt').map((r) => r.header.Authorization), ['Bearer tok-2'])
})
