/**
 * wxlogin mini program kit.
 *
 * One dependency-free CommonJS module for WeChat Mini Programs that talks to
 * a wxlogin server: it runs wx.login, exchanges the code for a token, keeps
 * the token in memory and in wx storage, adds `Authorization: Bearer …` to
 * requests, logs in again when the token expires or is refused, and sends
 * open data and phone-number codes to the server.
 *
 * Shipped as the npm package wxlogin-miniprogram (`npm install`, then
 * DevTools' "build npm"); its types are in wxlogin.d.ts:
 *
 *   const { createAuth } = require('wxlogin-miniprogram')
 *   const auth = createAuth({ baseURL: 'https://login.example.com' })
 *   const res = await auth.request({ url: '/v1/session' })
 *
 * Every login names the app: `appid` from wx.getAccountInfoSync() (or the
 * `appid` option), so one server can serve several mini programs.
 *
 * Errors are WxLoginError objects carrying the server's RFC 9457 problem
 * (`status`, `code`, `title`, `detail`, raw `problem`). Errors raised by the
 * kit itself, before or without an HTTP answer, have `status` 0.
 *
 * Written for ES2017 (async/await, no optional chaining, no object spread)
 * and no Node.js APIs, so WeChat's runtime accepts it as is; there is no
 * build step, this file is what "build npm" copies.
 */
'use strict'

var DEFAULT_STORAGE_KEY = 'wxlogin'
var DEFAULT_REFRESH_MARGIN_SECONDS = 300
// For short-lived tokens the margin is at most this fraction of the lifetime,
// so that a 60 s token is not "near expiry" from the moment it is issued.
var MAX_MARGIN_FRACTION = 0.25

/**
 * An error carrying an RFC 9457 problem object.
 *
 * Fields: `status` (HTTP status, 0 when the kit raised the error itself),
 * `code` (the server's `code` member, or one of the kit's own codes:
 * `network_error`, `wx_login_failed`, `invalid_response`, `http_error`,
 * `invalid_request`, `invalid_token`, and the phone button's
 * `phone_quota_exhausted`, `phone_denied`, `phone_failed`), `title`,
 * `detail`, `type`, `instance`, `problem` (the raw problem object),
 * `retryAfter` (seconds, from a `Retry-After` header, or undefined),
 * `needsReauth` (true when the user must be asked again for open data, see
 * `decrypt`) and `errno` (the getPhoneNumber errno, when WeChat gave one).
 */
class WxLoginError extends Error {
  /**
   * @param {object} problem RFC 9457 problem details with a `code` member.
   */
  constructor (problem) {
    var p = problem || {}
    var title = p.title || p.code || 'Error'
    super(p.detail ? title + ': ' + p.detail : title)
    this.name = 'WxLoginError'
    this.status = typeof p.status === 'number' ? p.status : 0
    this.code = p.code || 'unknown_error'
    this.title = title
    this.detail = p.detail || ''
    this.type = p.type || 'about:blank'
    this.instance = p.instance
    this.problem = p
    this.retryAfter = undefined
    this.needsReauth = false
    this.errno = undefined
  }
}

function kitError (code, title, detail) {
  return new WxLoginError({ type: 'about:blank', status: 0, code: code, title: title, detail: detail || '' })
}

function isAbsoluteURL (url) {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url)
}

/** The origin (scheme://host[:port], lower case) of an absolute URL. */
function originOf (url) {
  var m = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)/i.exec(url)
  return m ? m[1].toLowerCase() : ''
}

function headerValue (header, name) {
  if (!header) return undefined
  var wanted = name.toLowerCase()
  var keys = Object.keys(header)
  for (var i = 0; i < keys.length; i++) {
    if (keys[i].toLowerCase() === wanted) return header[keys[i]]
  }
  return undefined
}

function parseBody (data) {
  if (typeof data !== 'string') return data
  try {
    return JSON.parse(data)
  } catch (e) {
    return data
  }
}

/** Turns a non-2xx wx.request result into a WxLoginError. */
function errorFromResponse (res) {
  var body = parseBody(res.data)
  var err
  if (body && typeof body === 'object' && typeof body.code === 'string') {
    var problem = Object.assign({}, body)
    if (typeof problem.status !== 'number') problem.status = res.statusCode
    err = new WxLoginError(problem)
    err.status = res.statusCode
  } else {
    err = new WxLoginError({
      type: 'about:blank',
      status: res.statusCode,
      code: 'http_error',
      title: 'HTTP ' + res.statusCode,
      detail: 'the server answered without a problem object'
    })
  }
  var retryAfter = headerValue(res.header, 'Retry-After')
  if (retryAfter !== undefined && /^\s*\d+\s*$/.test(String(retryAfter))) {
    err.retryAfter = Number(retryAfter)
  }
  return err
}

// The errno of a getPhoneNumber answer when the app's quota of phone number
// verifications is used up (the user saw WeChat's own notice, if any).
var ERRNO_PHONE_QUOTA = 1400001

/**
 * The error for a getPhoneNumber answer without a code: the quota used up,
 * the user's refusal, or any other failure, each with its own code.
 */
function phoneButtonError (detail) {
  var errMsg = typeof detail.errMsg === 'string' ? detail.errMsg : ''
  var err
  if (detail.errno === ERRNO_PHONE_QUOTA) {
    err = kitError('phone_quota_exhausted', 'Phone number quota used up', errMsg)
  } else if (/\b(deny|denied|cancel)/i.test(errMsg)) {
    // "getPhoneNumber:fail user deny" (older clients: "fail:user deny").
    err = kitError('phone_denied', 'Phone number declined', errMsg)
  } else {
    err = kitError('phone_failed', 'getPhoneNumber failed', errMsg || 'no code in the getPhoneNumber answer')
  }
  if (typeof detail.errno === 'number') err.errno = detail.errno
  return err
}

/** The AppID the mini program runs as, or '' where wx cannot tell. */
function accountAppID (wxAPI) {
  if (typeof wxAPI.getAccountInfoSync !== 'function') return ''
  try {
    var info = wxAPI.getAccountInfoSync()
    var id = info && info.miniProgram && info.miniProgram.appId
    return typeof id === 'string' ? id : ''
  } catch (e) {
    return ''
  }
}

function isRecord (value) {
  return !!value && typeof value === 'object' &&
    typeof value.token === 'string' && value.token !== '' &&
    typeof value.expiresAt === 'number' && isFinite(value.expiresAt)
}

/**
 * Creates a login client for one wxlogin server.
 *
 * @param {object} options
 * @param {string} options.baseURL Base URL of the wxlogin server, e.g.
 *   `https://login.example.com` (a trailing slash is ignored).
 * @param {string} [options.appid] The AppID sent with every login; defaults
 *   to `wx.getAccountInfoSync().miniProgram.appId`. Where neither gives one
 *   the login names no app, which a server serving one app accepts.
 * @param {string} [options.storageKey='wxlogin'] Prefix of the wx storage
 *   key of the stored token record `{token, expiresAt, openid, unionid?,
 *   issuedAt}` (`expiresAt` and `issuedAt` in milliseconds since the epoch,
 *   device clock). The key is `<storageKey>:<appid>`, so that a token of one
 *   app is never used as another's; a record under the bare prefix (stored
 *   by a kit that did not name the app) is removed, not adopted.
 * @param {object} [options.wx] The `wx` API object; defaults to the global
 *   `wx` (tests pass a fake).
 * @param {number} [options.refreshMarginSeconds=300] `getToken` logs in
 *   again when the token expires within this many seconds; for short token
 *   lifetimes the margin is capped at a quarter of the lifetime.
 * @param {function(): number} [options.now=Date.now] Clock in milliseconds
 *   (tests inject one).
 * @param {{warn: function}} [options.logger=console] Receives warnings
 *   (never tokens or codes).
 * @param {string[]} [options.apiOrigins=[]] Origins besides baseURL's
 *   (`https://api.example.com`) that `request` may send the token to. The
 *   token is never sent anywhere else: `request` to another absolute URL
 *   rejects with `invalid_request` without sending.
 * @returns {Auth}
 */
function createAuth (options) {
  var opts = options || {}
  if (typeof opts.baseURL !== 'string' || opts.baseURL === '') {
    throw new TypeError('createAuth: baseURL is required')
  }
  var baseURL = opts.baseURL.replace(/\/+$/, '')
  if (!isAbsoluteURL(baseURL)) throw new TypeError('createAuth: baseURL must be an absolute URL such as https://login.example.com')
  var tokenOrigins = [originOf(baseURL)]
  var extraOrigins = opts.apiOrigins || []
  if (!Array.isArray(extraOrigins)) throw new TypeError('createAuth: apiOrigins must be an array of origins')
  for (var oi = 0; oi < extraOrigins.length; oi++) {
    var origin = typeof extraOrigins[oi] === 'string' ? originOf(extraOrigins[oi]) : ''
    if (origin === '' || origin !== String(extraOrigins[oi]).replace(/\/+$/, '').toLowerCase()) {
      throw new TypeError('createAuth: apiOrigins holds ' + JSON.stringify(extraOrigins[oi]) + ', not an origin such as https://api.example.com')
    }
    tokenOrigins.push(origin)
  }
  if (opts.appid !== undefined && (typeof opts.appid !== 'string' || opts.appid === '')) {
    throw new TypeError('createAuth: appid must be a non-empty string such as wx1234567890abcdef')
  }
  var marginMs = 1000 * (typeof opts.refreshMarginSeconds === 'number'
    ? opts.refreshMarginSeconds
    : DEFAULT_REFRESH_MARGIN_SECONDS)
  var now = opts.now || Date.now
  var logger = opts.logger || (typeof console !== 'undefined' ? console : { warn: function () {} })
  /* global wx */
  var wxAPI = opts.wx || (typeof wx !== 'undefined' ? wx : null)
  if (!wxAPI) throw new TypeError('createAuth: no wx object (not in a mini program? pass options.wx)')
  var appid = opts.appid || accountAppID(wxAPI)
  var storagePrefix = opts.storageKey || DEFAULT_STORAGE_KEY
  var storageKey = appid ? storagePrefix + ':' + appid : storagePrefix

  // The current token record, and whether wx.checkSession has confirmed the
  // WeChat session behind it during this app run.
  var current = null
  var currentChecked = false
  var loginInFlight = null
  var tokenInFlight = null
  // Bumped by logout so that a login finishing afterwards is not kept.
  var generation = 0

  function warn (message) {
    try {
      if (logger && typeof logger.warn === 'function') logger.warn('[wxlogin] ' + message)
    } catch (e) { /* a broken logger must not break login */ }
  }

  function errMsgOf (e) {
    return (e && (e.errMsg || e.message)) || String(e)
  }

  function readStorage () {
    try {
      var value = wxAPI.getStorageSync(storageKey)
      return isRecord(value) ? value : null
    } catch (e) {
      warn('cannot read the stored token: ' + errMsgOf(e))
      return null
    }
  }

  function writeStorage (record) {
    try {
      wxAPI.setStorageSync(storageKey, record)
    } catch (e) {
      // The token stays in memory for this app run; the next cold start
      // logs in again.
      warn('cannot store the token, keeping it in memory only: ' + errMsgOf(e))
    }
  }

  function removeStorage () {
    try {
      wxAPI.removeStorageSync(storageKey)
    } catch (e) {
      warn('cannot remove the stored token: ' + errMsgOf(e))
    }
  }

  // A record under the bare prefix was stored without naming the app: it may
  // hold another app's token, and one silent login costs less than trusting
  // it. Best effort: a broken storage is reported where the kit reads it.
  if (storageKey !== storagePrefix) {
    try {
      if (isRecord(wxAPI.getStorageSync(storagePrefix))) wxAPI.removeStorageSync(storagePrefix)
    } catch (e) { /* see above */ }
  }

  /** The current record: memory first, else storage (adopted unchecked). */
  function loadRecord () {
    if (!current) {
      var stored = readStorage()
      if (stored) {
        current = stored
        currentChecked = false
      }
    }
    return current
  }

  function marginFor (record) {
    var lifetime = typeof record.issuedAt === 'number' ? record.expiresAt - record.issuedAt : Infinity
    return Math.min(marginMs, Math.max(0, lifetime) * MAX_MARGIN_FRACTION)
  }

  function isFresh (record) {
    return now() < record.expiresAt - marginFor(record)
  }

  function isUnexpired (record) {
    return now() < record.expiresAt
  }

  function wxCall (name, params) {
    return new Promise(function (resolve, reject) {
      wxAPI[name](Object.assign({}, params, { success: resolve, fail: reject }))
    })
  }

  /** wx.request as a promise; resolves with the success result, any status. */
  function send (params) {
    return wxCall('request', params).catch(function (e) {
      throw kitError('network_error', 'Network error', errMsgOf(e))
    })
  }

  function resolveURL (url) {
    if (isAbsoluteURL(url)) return url
    return baseURL + (url.charAt(0) === '/' ? '' : '/') + url
  }

  /** Throws unless the token may be sent to url's origin. */
  function checkOrigin (url) {
    if (tokenOrigins.indexOf(originOf(url)) < 0) {
      throw kitError('invalid_request', 'Foreign URL',
        'the token is only sent to baseURL and options.apiOrigins; use wx.request for ' + (originOf(url) || 'this URL'))
    }
  }

  function buildRequest (options, token) {
    var params = Object.assign({}, options)
    delete params.success
    delete params.fail
    delete params.complete
    params.url = resolveURL(options.url || '')
    if (token) checkOrigin(params.url)
    params.method = (options.method || 'GET').toUpperCase()
    var header = Object.assign({}, options.header)
    if (token) header.Authorization = 'Bearer ' + token
    if (params.data !== undefined && typeof params.data === 'object' && headerValue(header, 'Content-Type') === undefined) {
      header['Content-Type'] = 'application/json'
    }
    params.header = header
    return params
  }

  /** Whether a token answer ({token, expires_in}) is usable. */
  function hasToken (body) {
    return !!body && typeof body.token === 'string' && body.token !== '' &&
      typeof body.expires_in === 'number' && body.expires_in > 0
  }

  /**
   * Keeps the token of an answer sent at sentAt, unless logout came since
   * `started`: memory and storage, checked (the server just issued it).
   */
  function keepToken (body, sentAt, started, openid, unionid) {
    // Count the lifetime from before the request: the server issued the
    // token after that, so expiresAt errs on the early side.
    var record = {
      token: body.token,
      expiresAt: sentAt + body.expires_in * 1000,
      openid: openid,
      issuedAt: sentAt
    }
    if (unionid) record.unionid = unionid
    if (started === generation) {
      current = record
      currentChecked = true // a session we just created is current
      writeStorage(record)
    }
    return record
  }

  function forgetToken () {
    current = null
    currentChecked = false
    removeStorage()
  }

  function doLogin () {
    var started = generation
    var sentAt = 0
    return wxCall('login', {})
      .catch(function (e) {
        throw kitError('wx_login_failed', 'wx.login failed', errMsgOf(e))
      })
      .then(function (res) {
        if (!res || !res.code) throw kitError('wx_login_failed', 'wx.login failed', 'no code in the wx.login result')
        sentAt = now()
        var data = { code: res.code }
        if (appid) data.appid = appid
        return send(buildRequest({ url: '/v1/login', method: 'POST', data: data }))
      })
      .then(function (res) {
        if (res.statusCode < 200 || res.statusCode > 299) {
          var err = errorFromResponse(res)
          // The server (its claims hook) refused this user: the app must
          // not go on with a token of that user, and trying again cannot
          // help, so the kit never retries it.
          if (err.code === 'login_denied' && started === generation) forgetToken()
          throw err
        }
        var body = parseBody(res.data)
        if (!hasToken(body)) {
          throw kitError('invalid_response', 'Invalid login response', 'the login answer has no token or expires_in')
        }
        return Object.assign({}, keepToken(body, sentAt, started, body.openid, body.unionid))
      })
  }

  /**
   * Logs in now: wx.login, then POST /v1/login, then stores the token.
   * Concurrent calls share one login in flight. When storing fails the
   * login still succeeds and the token is kept in memory (a warning is
   * logged).
   *
   * @returns {Promise<{token: string, expiresAt: number, openid: string, unionid?: string, issuedAt: number}>}
   */
  function login () {
    if (!loginInFlight) {
      var p = doLogin()
      var clear = function () { if (loginInFlight === p) loginInFlight = null }
      p.then(clear, clear)
      loginInFlight = p
    }
    return loginInFlight
  }

  function checkWxSession () {
    return wxCall('checkSession', {}).then(function () { return true }, function () { return false })
  }

  async function obtainToken () {
    if (loginInFlight) return (await loginInFlight).token
    var record = loadRecord()
    if (record && isFresh(record)) {
      if (currentChecked) return record.token
      // A token from storage was issued in an earlier app run; the WeChat
      // session (and so the session_key sealed in the token) may have ended
      // since. Check once per app run.
      if (await checkWxSession()) {
        if (current === record) currentChecked = true
        return record.token
      }
    }
    return (await login()).token
  }

  /**
   * A token that is comfortably before expiry: the stored one (memory, else
   * storage) when its WeChat session is still valid (wx.checkSession, once
   * per app run for a stored token), otherwise a fresh login. Concurrent
   * calls share one login.
   *
   * @returns {Promise<string>}
   */
  function getToken () {
    if (!tokenInFlight) {
      var p = obtainToken()
      var clear = function () { if (tokenInFlight === p) tokenInFlight = null }
      p.then(clear, clear)
      tokenInFlight = p
    }
    return tokenInFlight
  }

  function isInvalidToken (res) {
    if (res.statusCode !== 401) return false
    var body = parseBody(res.data)
    return !!body && body.code === 'invalid_token'
  }

  /**
   * After a 401 invalid_token for `token`: a fresh login, unless another
   * caller has already replaced the token meanwhile.
   */
  async function replaceToken (token) {
    if (loginInFlight) return (await loginInFlight).token
    if (current && current.token !== token && isUnexpired(current)) return current.token
    if (current && current.token === token) {
      // Forget the refused token, so that it is not used again even if the
      // login below fails.
      forgetToken()
    }
    return (await login()).token
  }

  /**
   * wx.request with `Authorization: Bearer <token>`. `url` is a path below
   * baseURL or an absolute URL on baseURL's origin or one of
   * `options.apiOrigins`; the other wx.request options (method, data,
   * header, timeout, …) pass through. On a 401 `invalid_token` it logs in
   * again once and retries once.
   *
   * @param {object} options wx.request options (success/fail are ignored).
   * @returns {Promise<{statusCode: number, data: *, header: object}>} the
   *   wx.request success result for a 2xx answer.
   * @throws {WxLoginError} the server's problem for any other status;
   *   `network_error` when the request failed; `invalid_request` for a URL
   *   on another origin (nothing is sent).
   */
  async function request (options) {
    var opts = options || {}
    checkOrigin(resolveURL(opts.url || '')) // before any login
    var token = await getToken()
    var res = await send(buildRequest(opts, token))
    if (isInvalidToken(res)) {
      token = await replaceToken(token)
      res = await send(buildRequest(opts, token))
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw errorFromResponse(res)
    return res
  }

  async function call (method, path, data) {
    var params = { url: path, method: method }
    if (data !== undefined) params.data = data
    return parseBody((await request(params)).data)
  }

  function pickOpenData (detail) {
    var body = {}
    var fields = ['encryptedData', 'iv', 'rawData', 'signature']
    for (var i = 0; i < fields.length; i++) {
      var v = detail[fields[i]]
      if (typeof v === 'string' && v !== '') body[fields[i]] = v
    }
    return body
  }

  async function reauthAfter (err) {
    err.needsReauth = true
    try {
      await login()
    } catch (e) {
      // Asking the user again cannot help a user the server refuses.
      if (e && e.code === 'login_denied') throw e
      err.reloginError = e
    }
    throw err
  }

  /**
   * Decrypts open data: POST /v1/decrypt with the `e.detail` (or success
   * result) of a WeChat open-data callback.
   *
   * Never calls wx.login before sending: a wx.login here could replace the
   * session_key that encrypted the data. It uses the stored token even when
   * it is near expiry, as long as it has not expired.
   *
   * It waits for a login already in flight (whose wx.login has replaced
   * the session_key), so that data encrypted with the new key is sent with
   * the new token.
   *
   * When the token is refused or missing (`invalid_token`), or decryption
   * fails because of the session_key (`decrypt_failed` with the server's
   * `relogin: true`: the data was encrypted with a session_key the token
   * does not hold, most often because a later wx.login replaced it), the
   * error has `needsReauth = true`: retrying cannot help. The kit logs in
   * again before rejecting, so the caller should ask the user again (the
   * next tap gets data encrypted with the new key). It never retries by
   * itself. Other `decrypt_failed` errors (data altered or not forwarded
   * as is, another app's data) have `needsReauth = false` and no login.
   *
   * @param {{encryptedData: string, iv: string, rawData?: string, signature?: string}} detail
   * @returns {Promise<object>} the decrypted object.
   */
  async function decrypt (detail) {
    var d = detail || {}
    if (typeof d.encryptedData !== 'string' || d.encryptedData === '' || typeof d.iv !== 'string' || d.iv === '') {
      throw kitError('invalid_request', 'No open data', d.errMsg || 'encryptedData and iv are required')
    }
    if (loginInFlight) {
      try {
        await loginInFlight
      } catch (e) {
        // The stored token, if any, is judged below.
      }
    }
    var record = loadRecord()
    if (!record || !isUnexpired(record)) {
      return reauthAfter(kitError('invalid_token', 'Not logged in', 'no unexpired token; log in before asking for open data'))
    }
    var res = await send(buildRequest({ url: '/v1/decrypt', method: 'POST', data: pickOpenData(d) }, record.token))
    if (res.statusCode >= 200 && res.statusCode <= 299) return parseBody(res.data)
    var err = errorFromResponse(res)
    if (err.code === 'invalid_token' || (err.code === 'decrypt_failed' && err.problem.relogin === true)) return reauthAfter(err)
    throw err
  }

  /**
   * Exchanges a getPhoneNumber code: POST /v1/phone. The server answers
   * with a fresh token for the same user (bound to the phone number), which
   * replaces the current one, so later requests carry it; an answer without
   * a token (an older server) leaves the current token alone.
   *
   * Given the button's `e.detail` without a code, it rejects without a
   * request: `phone_quota_exhausted` (errno 1400001: the app's quota of
   * phone number verifications is used up), `phone_denied` (the user
   * declined) or `phone_failed` (any other failure), with `errno` and the
   * errMsg as `detail`.
   *
   * @param {string|{code?: string, errMsg?: string, errno?: number}} codeOrDetail
   *   the `e.detail` of `<button open-type="getPhoneNumber">`, or its code.
   * @returns {Promise<{phoneNumber: string, purePhoneNumber: string, countryCode: string}>}
   *   the answer without its token fields.
   */
  async function phone (codeOrDetail) {
    var isDetail = !!codeOrDetail && typeof codeOrDetail === 'object'
    var code = isDetail ? codeOrDetail.code : codeOrDetail
    if (typeof code !== 'string' || code === '') {
      if (isDetail && (typeof codeOrDetail.errMsg === 'string' || typeof codeOrDetail.errno === 'number')) {
        throw phoneButtonError(codeOrDetail)
      }
      throw kitError('invalid_request', 'No phone number code', 'the getPhoneNumber code is required')
    }
    var started = generation
    var sentAt = now()
    var body = await call('POST', '/v1/phone', { code: code })
    var result = Object.assign({}, body)
    delete result.token
    delete result.token_type
    delete result.expires_in
    if (hasToken(body)) {
      var before = current || {}
      keepToken(body, sentAt, started, before.openid, before.unionid)
    }
    return result
  }

  /**
   * Asks the server whether WeChat still holds the token's session_key as
   * current: POST /v1/session/check. When `valid` is false, call `login()`
   * before asking the user for open data.
   *
   * @returns {Promise<{valid: boolean}>}
   */
  async function checkSession () {
    var body = await call('POST', '/v1/session/check')
    return { valid: !!(body && body.valid === true) }
  }

  /**
   * The token's session: GET /v1/session.
   *
   * @returns {Promise<{openid: string, unionid?: string, appid: string, expires_at: string}>}
   */
  function session () {
    return call('GET', '/v1/session')
  }

  /**
   * Forgets the token (memory and storage). A login in flight finishes for
   * its callers but its token is not kept.
   */
  function logout () {
    generation++
    current = null
    currentChecked = false
    loginInFlight = null
    tokenInFlight = null
    removeStorage()
  }

  /**
   * @typedef {object} Auth
   * @property {function(): Promise<object>} login
   * @property {function(): Promise<string>} getToken
   * @property {function(object): Promise<object>} request
   * @property {function(object): Promise<object>} decrypt
   * @property {function(string|object): Promise<object>} phone
   * @property {function(): Promise<{valid: boolean}>} checkSession
   * @property {function(): Promise<object>} session
   * @property {function(): void} logout
   */
  return {
    login: login,
    getToken: getToken,
    request: request,
    decrypt: decrypt,
    phone: phone,
    checkSession: checkSession,
    session: session,
    logout: logout
  }
}

module.exports = { createAuth: createAuth, WxLoginError: WxLoginError }
