'use strict'
// Test doubles for the kit: a fake `wx` object and a scriptable fake wxlogin
// server. Kept outside miniprogram/test/ so that `node --test` does not run
// this file as a test of its own.

// The AppID the fake wx runs as (wx.getAccountInfoSync().miniProgram.appId).
var APPID = 'wx1234567890abcdef'

/** A manual clock in milliseconds. */
function createClock (start) {
  var t = start === undefined ? 1700000000000 : start
  return {
    now: function () { return t },
    advance: function (seconds) { t += seconds * 1000 }
  }
}

function problem (status, code, title, detail) {
  return {
    statusCode: status,
    header: { 'Content-Type': 'application/problem+json' },
    data: { type: 'about:blank', title: title, status: status, detail: detail || '', code: code }
  }
}

/**
 * A fake wxlogin server. `handle(req)` answers {method, path, url, header,
 * data} with {statusCode, data, header}. Tokens are "tok-<n>"; a token is
 * accepted when it was issued and not revoked. `script[path]` (a function
 * of req, returning an answer or undefined to fall through) overrides.
 */
function createFakeServer (options) {
  var opts = options || {}
  var server = {
    expiresIn: opts.expiresIn || 7200,
    unionid: opts.unionid,
    issued: [],
    revoked: new Set(),
    logins: [], // codes posted to /v1/login
    // Whether /v1/phone answers with a fresh token, as the server does since
    // it binds the phone number to the user (false: an older server).
    phoneToken: opts.phoneToken !== false,
    // The user each token stands for: the login code it came from, and
    // whether a phone number is bound to it.
    users: {},
    issue: function (user) {
      var token = 'tok-' + (server.issued.length + 1)
      server.issued.push(token)
      server.users[token] = user
      return token
    },
    script: {},
    revoke: function (token) { server.revoked.add(token) },
    bearer: function (req) {
      var h = req.header || {}
      var v = h.Authorization || h.authorization || ''
      return v.indexOf('Bearer ') === 0 ? v.slice(7) : ''
    },
    authorized: function (req) {
      var t = server.bearer(req)
      return server.issued.indexOf(t) >= 0 && !server.revoked.has(t)
    },
    handle: function (req) {
      var scripted = server.script[req.method + ' ' + req.path]
      if (scripted) {
        var answer = scripted(req)
        if (answer) return answer
      }
      if (req.method === 'POST' && req.path === '/v1/login') {
        if (!req.data || !req.data.code) return problem(400, 'invalid_request', 'Bad Request', 'code is required')
        server.logins.push(req.data.code)
        var token = server.issue({ code: req.data.code, appid: req.data.appid, phone: false })
        var body = { token: token, token_type: 'Bearer', expires_in: server.expiresIn, openid: 'openid-for-' + req.data.code }
        if (server.unionid) body.unionid = server.unionid
        return { statusCode: 200, header: { 'Content-Type': 'application/json' }, data: body }
      }
      if (!server.authorized(req)) {
        return {
          statusCode: 401,
          header: { 'Content-Type': 'application/problem+json', 'WWW-Authenticate': 'Bearer' },
          data: { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'token rejected', code: 'invalid_token' }
        }
      }
      var tok = server.bearer(req)
      if (req.method === 'GET' && req.path === '/v1/session') {
        var user = server.users[tok] || {}
        var session = { sub: 'openid-of-' + tok, openid: 'openid-of-' + tok, appid: user.appid || 'wxapp', expires_at: '2030-01-01T00:00:00Z' }
        if (user.phone) session.claims = { phone: true }
        return { statusCode: 200, header: {}, data: session }
      }
      if (req.method === 'POST' && req.path === '/v1/session/check') {
        return { statusCode: 200, header: {}, data: { valid: true } }
      }
      if (req.method === 'POST' && req.path === '/v1/phone') {
        var phoneAnswer = { phoneNumber: '+86 13800000000', purePhoneNumber: '13800000000', countryCode: '86' }
        if (server.phoneToken) {
          var bound = Object.assign({}, server.users[tok], { phone: true })
          phoneAnswer.token = server.issue(bound)
          phoneAnswer.token_type = 'Bearer'
          phoneAnswer.expires_in = server.expiresIn
        }
        return { statusCode: 200, header: {}, data: phoneAnswer }
      }
      if (req.method === 'POST' && req.path === '/v1/decrypt') {
        return { statusCode: 200, header: {}, data: { nickName: 'decrypted', token: tok } }
      }
      return problem(404, 'not_found', 'Not Found')
    }
  }
  return server
}

/**
 * A fake `wx`. Options: server (a createFakeServer or {handle}), baseURL
 * prefix to strip for paths, storage: initial entries, storageThrows:
 * {get, set, remove} booleans, checkSessionOk (default true), loginFails,
 * appId (what getAccountInfoSync reports; default APPID; null: a base
 * library without getAccountInfoSync).
 * Counters in `calls`; every request in `requests`.
 */
function createFakeWx (options) {
  var opts = options || {}
  var storage = new Map(Object.entries(opts.storage || {}))
  var fake = {
    calls: { login: 0, checkSession: 0, request: 0, setStorageSync: 0, removeStorageSync: 0, getAccountInfoSync: 0 },
    requests: [],
    storage: storage,
    storageThrows: Object.assign({ get: false, set: false, remove: false }, opts.storageThrows),
    checkSessionOk: opts.checkSessionOk !== false,
    loginFails: !!opts.loginFails,
    networkDown: false,
    server: opts.server,

    login: function (o) {
      fake.calls.login++
      var n = fake.calls.login
      setTimeout(function () {
        if (fake.loginFails) o.fail({ errMsg: 'login:fail network' })
        else o.success({ code: 'code-' + n, errMsg: 'login:ok' })
      }, 1)
    },
    checkSession: function (o) {
      fake.calls.checkSession++
      setTimeout(function () {
        if (fake.checkSessionOk) o.success({ errMsg: 'checkSession:ok' })
        else o.fail({ errMsg: 'checkSession:fail session time out' })
      }, 1)
    },
    request: function (o) {
      fake.calls.request++
      // A runaway kit (a retry loop) gets no more answers, so that the test
      // times out and the process can exit instead of spinning forever.
      if (fake.calls.request > 200) return { abort: function () {} }
      var u = new URL(o.url)
      // wx.request serialises object data as JSON; a round trip keeps the
      // fake honest about what is on the wire.
      var data = o.data === undefined ? undefined : JSON.parse(JSON.stringify(o.data))
      var req = { method: o.method || 'GET', url: o.url, path: u.pathname, header: Object.assign({}, o.header), data: data }
      fake.requests.push(req)
      if (fake.networkDown) {
        setTimeout(function () { o.fail({ errMsg: 'request:fail timeout' }) }, 1)
        return { abort: function () {} }
      }
      // The server sees the request now; an answer may ask for extra latency.
      var res = fake.server.handle(req)
      setTimeout(function () {
        o.success({ statusCode: res.statusCode, data: res.data, header: res.header || {}, errMsg: 'request:ok' })
      }, 1 + (res.delay || 0))
      return { abort: function () {} }
    },
    getStorageSync: function (key) {
      if (fake.storageThrows.get) throw new Error('getStorageSync:fail storage broken')
      return storage.has(key) ? JSON.parse(JSON.stringify(storage.get(key))) : ''
    },
    setStorageSync: function (key, value) {
      fake.calls.setStorageSync++
      if (fake.storageThrows.set) throw new Error('setStorageSync:fail exceed storage max size 10MB')
      storage.set(key, JSON.parse(JSON.stringify(value)))
    },
    removeStorageSync: function (key) {
      fake.calls.removeStorageSync++
      if (fake.storageThrows.remove) throw new Error('removeStorageSync:fail storage broken')
      storage.delete(key)
    }
  }
  var appId = opts.appId === undefined ? APPID : opts.appId
  if (appId !== null) {
    fake.getAccountInfoSync = function () {
      fake.calls.getAccountInfoSync++
      return { miniProgram: { appId: appId, envVersion: 'develop', version: '' }, plugin: {} }
    }
  }
  return fake
}

/** A logger that records warnings. */
function createLogger () {
  var lines = []
  return { lines: lines, warn: function () { lines.push(Array.prototype.join.call(arguments, ' ')) } }
}

module.exports = { APPID: APPID, createClock: createClock, createFakeServer: createFakeServer, createFakeWx: createFakeWx, createLogger: createLogger, problem: problem }

/**
 * Everything wired together: clock, fake server, fake wx, logger and an
 * auth from the kit. Options go to the parts (expiresIn, unionid,
 * phoneToken, storage, storageThrows, checkSessionOk, appId, appid,
 * refreshMarginSeconds, apiOrigins). `key` is the storage key the kit uses:
 * 'session:' and the AppID.
 */
function createHarness (options) {
  var opts = options || {}
  var kit = require('../miniprogram_dist/index.js')
  var clock = createClock()
  var server = createFakeServer({ expiresIn: opts.expiresIn, unionid: opts.unionid, phoneToken: opts.phoneToken })
  var wx = createFakeWx(Object.assign({ server: server }, opts))
  var logger = createLogger()
  // newAuth() is a cold start of the app: same wx (and storage), empty memory.
  function newAuth () {
    return kit.createAuth({
      baseURL: 'https://api.example.com/',
      storageKey: 'session',
      wx: wx,
      now: clock.now,
      logger: logger,
      refreshMarginSeconds: opts.refreshMarginSeconds,
      apiOrigins: opts.apiOrigins,
      appid: opts.appid
    })
  }
  var appid = opts.appid || (opts.appId === undefined ? APPID : opts.appId)
  var key = appid ? 'session:' + appid : 'session'
  return { clock: clock, server: server, wx: wx, logger: logger, auth: newAuth(), newAuth: newAuth, kit: kit, key: key }
}

/** Requests of the fake wx to one path. */
function requestsTo (wx, method, path) {
  return wx.requests.filter(function (r) { return r.method === method && r.path === path })
}

module.exports.createHarness = createHarness
module.exports.requestsTo = requestsTo
