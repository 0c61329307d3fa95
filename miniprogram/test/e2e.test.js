'use strict'
// End to end: builds the Go server, starts it in dev mode (fake WeChat that
// accepts any code) and runs the kit against it with a `wx` over fetch.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { createAuth } = require('../miniprogram_dist/index.js')
const { buildServer, startServer, createNodeWx } = require('../testing/server.js')

const goMissing = spawnSync('go', ['version']).error
const skip = goMissing ? 'go is not on PATH: skipping the end-to-end test against the Go server' : false

// One app, and a wx without getAccountInfoSync: the kit sends no appid,
// which a server serving a single app accepts. Several apps, with the
// packed package: e2e-apps.test.js.
describe('end to end against the Go server in dev mode', { skip, timeout: 300000 }, () => {
  let tmp
  let server
  let baseURL

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-e2e-'))
    const bin = await buildServer(tmp)
    server = await startServer(bin, tmp, { WXLOGIN_DEV: 'true' })
    baseURL = server.baseURL
  })

  after(async () => {
    if (server) await server.stop()
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  })

  it('login, authenticated request, 401 re-login, session check, phone, decrypt_failed, logout', async () => {
    const wx = createNodeWx()
    const auth = createAuth({ baseURL, storageKey: 'wxlogin', wx, logger: { warn () {} } })

    // login
    const rec = await auth.login()
    assert.equal(typeof rec.token, 'string')
    assert.equal(rec.token.split('.').length, 3, 'a JWS compact token')
    assert.ok(rec.openid, 'openid in the login answer')
    assert.ok(rec.expiresAt > Date.now())
    assert.equal(wx.calls.login, 1)
    assert.equal(wx.storage.get('wxlogin').token, rec.token)

    // authenticated request: same openid
    const res = await auth.request({ url: '/v1/session' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.data.openid, rec.openid)
    assert.equal(typeof res.data.appid, 'string')
    assert.ok(!Number.isNaN(Date.parse(res.data.expires_at)), 'expires_at is RFC 3339')
    assert.deepEqual(await auth.session(), res.data)
    assert.equal(wx.calls.login, 1, 'the token was reused')

    // An invalid token in storage (a bad signature), picked up at a cold
    // start, triggers exactly one re-login and one retry.
    const sig = rec.token.slice(rec.token.lastIndexOf('.') + 1)
    const badSig = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)
    const bad = rec.token.slice(0, rec.token.lastIndexOf('.') + 1) + badSig
    wx.storage.set('wxlogin', { token: bad, expiresAt: Date.now() + 3600000, openid: rec.openid, issuedAt: Date.now() })
    const auth2 = createAuth({ baseURL, storageKey: 'wxlogin', wx, logger: { warn () {} } })
    const before = wx.exchanges.length
    const res2 = await auth2.request({ url: '/v1/session' })
    assert.equal(res2.statusCode, 200)
    const exchanges = wx.exchanges.slice(before).map((x) => [x.method, x.path, x.status, x.code])
    assert.deepEqual(exchanges, [
      ['GET', '/v1/session', 401, 'invalid_token'],
      ['POST', '/v1/login', 200, undefined],
      ['GET', '/v1/session', 200, undefined]
    ])
    assert.equal(wx.calls.login, 2)
    const stored = wx.storage.get('wxlogin')
    assert.notEqual(stored.token, bad)
    assert.equal(res2.data.openid, stored.openid)

    // session check: WeChat (the dev fake) still holds the session_key
    assert.deepEqual(await auth2.checkSession(), { valid: true })

    // phone number: the dev fake accepts any getPhoneNumber code; the
    // fresh token of the answer replaces the stored one
    const beforePhone = wx.storage.get('wxlogin').token
    const phone = await auth2.phone({ code: 'e2e-phone-' + crypto.randomUUID(), errMsg: 'getPhoneNumber:ok' })
    assert.deepEqual(Object.keys(phone).sort(), ['countryCode', 'phoneNumber', 'purePhoneNumber'])
    assert.notEqual(wx.storage.get('wxlogin').token, beforePhone)
    assert.equal((await auth2.session()).openid, stored.openid)
    assert.match(phone.purePhoneNumber, /^\d+$/)
    assert.equal(typeof phone.countryCode, 'string')

    // Open data encrypted with another key: decrypt_failed, needsReauth,
    // one fresh login afterwards, the data is not sent twice.
    const loginsBefore = wx.calls.login
    const decryptsBefore = wx.exchanges.filter((x) => x.path === '/v1/decrypt').length
    await assert.rejects(auth2.decrypt({
      encryptedData: crypto.randomBytes(32).toString('base64'),
      iv: crypto.randomBytes(16).toString('base64')
    }), (err) => {
      assert.equal(err.status, 400)
      assert.equal(err.code, 'decrypt_failed')
      assert.equal(err.needsReauth, true)
      assert.equal(err.problem.status, 400)
      return true
    })
    assert.equal(wx.exchanges.filter((x) => x.path === '/v1/decrypt').length, decryptsBefore + 1)
    assert.equal(wx.calls.login, loginsBefore + 1)

    // logout forgets the token
    auth2.logout()
    assert.equal(wx.storage.has('wxlogin'), false)
  })

  it('a server error surfaces the problem object', async () => {
    const wx = createNodeWx()
    const auth = createAuth({ baseURL, wx, logger: { warn () {} } })
    // Missing fields: invalid_request (400) as application/problem+json.
    await assert.rejects(auth.request({ url: '/v1/decrypt', method: 'POST', data: {} }), (err) => {
      assert.equal(err.name, 'WxLoginError')
      assert.equal(err.status, 400)
      assert.equal(err.code, 'invalid_request')
      assert.equal(err.problem.status, 400)
      assert.equal(typeof err.title, 'string')
      return true
    })
    assert.equal(wx.calls.login, 1, 'a 400 does not trigger a re-login')
  })
})
