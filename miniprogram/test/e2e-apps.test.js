'use strict'
// End to end with several apps, as a mini program developer gets the kit:
// `npm pack`, the tarball installed into a temporary project, DevTools'
// "build npm" done by hand, and that copy run against the real server
// binary in dev mode serving three apps (WXLOGIN_APPS), with a claims hook
// that refuses the third.
//
// This needs the server's several-apps, phone-token and claims-hook work
// (the contract's `appid` in the login body, /v1/phone answering a token,
// WXLOGIN_CLAIMS_URL); against a server without it, it fails.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { needs, missingCommand, run, packKit, buildNpm } = require('../testing/tools.js')
const { buildServer, startServer, createNodeWx, claimsOf } = require('../testing/server.js')

const APP_A = 'wxaaaaaaaaaaaaaaaa'
const APP_B = 'wxbbbbbbbbbbbbbbbb'
const APP_DENIED = 'wxcccccccccccccccc'

const skip = needs('go', missingCommand('go', ['version']), 'skipping the end-to-end test against the Go server') ||
  needs('npm', missingCommand('npm'), 'skipping the end-to-end test of the packed kit')

/**
 * The claims hook: checks the signature, refuses every user of
 * APP_DENIED, and gives the others a role.
 */
function startHook (secret) {
  const calls = []
  const srv = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => { body += d })
    req.on('end', () => {
      const sig = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(req.headers['wxlogin-signature'] || '')
      const want = sig && crypto.createHmac('sha256', secret).update(sig[1] + '.' + body).digest('hex')
      if (!sig || want !== sig[2]) {
        res.writeHead(401).end()
        return
      }
      const event = JSON.parse(body)
      calls.push(event)
      if (event.appid === APP_DENIED) {
        res.writeHead(403, { 'Content-Type': 'application/problem+json' })
        res.end(JSON.stringify({ title: 'Forbidden', status: 403, detail: 'account closed' }))
        return
      }
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ claims: { role: 'tester', app: event.appid } }))
    })
  })
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => resolve({
      url: 'http://127.0.0.1:' + srv.address().port + '/claims',
      calls,
      close: () => new Promise((resolve) => srv.close(resolve))
    }))
  })
}

describe('end to end: the packed kit against the server serving several apps', { skip, timeout: 300000 }, () => {
  let tmp
  let server
  let hook
  let kit

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-e2e-apps-'))
    const [bin, tarball] = await Promise.all([buildServer(tmp), packKit(tmp)])

    // A mini program project that installs the tarball, then "build npm".
    const project = path.join(tmp, 'project')
    fs.mkdirSync(project)
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({
      name: 'e2e-miniprogram',
      private: true,
      dependencies: { 'wxlogin-miniprogram': 'file:' + tarball }
    }))
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: project })
    kit = require(buildNpm(project, 'wxlogin-miniprogram'))

    const secret = crypto.randomBytes(32)
    hook = await startHook(secret)
    server = await startServer(bin, tmp, {
      WXLOGIN_DEV: 'true',
      WXLOGIN_APPS: [APP_A, APP_B, APP_DENIED].map((id) => id + ':secret-of-' + id).join(','),
      WXLOGIN_CLAIMS_URL: hook.url,
      WXLOGIN_CLAIMS_SECRET: secret.toString('base64')
    })
  })

  after(async () => {
    if (server) await server.stop()
    if (hook) await hook.close()
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true })
  })

  const authFor = (wx, options) => kit.createAuth(Object.assign({ baseURL: server.baseURL, wx, logger: { warn () {} } }, options))

  it('each app logs in as itself, with the AppID of wx.getAccountInfoSync, stored per app', async () => {
    for (const appid of [APP_A, APP_B]) {
      const wx = createNodeWx(appid)
      const auth = authFor(wx)
      const rec = await auth.login()
      const [post] = wx.exchanges.filter((x) => x.path === '/v1/login')
      assert.equal(post.body.appid, appid)
      assert.equal(post.status, 200)
      assert.equal(claimsOf(rec.token).appid, appid)
      assert.deepEqual([...wx.storage.keys()], ['wxlogin:' + appid])
      assert.equal(wx.storage.get('wxlogin:' + appid).token, rec.token)
      const s = await auth.session()
      assert.equal(s.appid, appid)
      assert.equal(s.openid, rec.openid)
      assert.deepEqual(s.claims, { role: 'tester', app: appid }, 'the hook\'s claims')
    }
  })

  it('the appid option overrides the account info; an AppID not served is unknown_app', async () => {
    const wx = createNodeWx(APP_A)
    const rec = await authFor(wx, { appid: APP_B }).login()
    assert.equal(claimsOf(rec.token).appid, APP_B)
    assert.equal(wx.storage.get('wxlogin:' + APP_B).token, rec.token)

    const other = createNodeWx('wxdddddddddddddddd')
    await assert.rejects(authFor(other).login(), (err) => {
      assert.equal(err.name, 'WxLoginError')
      assert.equal(err.status, 400)
      assert.equal(err.code, 'unknown_app')
      return true
    })
    assert.equal(other.exchanges.length, 1)
  })

  it('phone() keeps the fresh token; later requests carry it', async () => {
    const wx = createNodeWx(APP_A)
    const auth = authFor(wx)
    const first = await auth.login()
    const phone = await auth.phone({ code: 'e2e-phone-' + crypto.randomUUID(), errMsg: 'getPhoneNumber:ok' })
    assert.deepEqual(Object.keys(phone).sort(), ['countryCode', 'phoneNumber', 'purePhoneNumber'])
    const stored = wx.storage.get('wxlogin:' + APP_A)
    assert.notEqual(stored.token, first.token, 'the token was replaced')
    assert.equal(claimsOf(stored.token).appid, APP_A)
    assert.equal(stored.openid, first.openid)
    const s = await auth.session()
    assert.equal(s.openid, first.openid, 'the same user')
    const last = wx.exchanges[wx.exchanges.length - 1]
    assert.deepEqual([last.path, last.auth], ['/v1/session', 'Bearer ' + stored.token])
    assert.equal(wx.calls.login, 1)
    assert.ok(hook.calls.some((c) => c.event === 'phone' && c.appid === APP_A), 'a phone event reached the hook')
  })

  it('login_denied by the claims hook comes back as its own error, not retried', async () => {
    const wx = createNodeWx(APP_DENIED)
    const auth = authFor(wx)
    const hookCalls = hook.calls.length
    await assert.rejects(auth.request({ url: '/v1/session' }), (err) => {
      assert.ok(err instanceof kit.WxLoginError)
      assert.equal(err.status, 403)
      assert.equal(err.code, 'login_denied')
      assert.match(err.detail, /account closed/, 'the hook\'s reason is passed on')
      return true
    })
    assert.deepEqual(wx.exchanges.map((x) => [x.method, x.path, x.status]), [['POST', '/v1/login', 403]])
    assert.equal(wx.calls.login, 1)
    assert.equal(hook.calls.length, hookCalls + 1)
    assert.equal(wx.storage.size, 0)
  })
})
