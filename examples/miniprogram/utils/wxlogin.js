/**
 * wxlogin mini program kit.
 *
 * One dependency-free CommonJS module for WeChat Mini Programs that talks to
 * a wxlogin server: it runs wx.login, exchanges the code for a token, keeps
 * the token in memory and in wx storage, adds `Authorization: Bearer …` to
 * requests, logs in again when the token expires or is refused, and sends
 * open data and phone-number codes to the server.
 *
 * Copy this file into the mini program (for example utils/wxlogin.js):
 *
 *   const { createAuth } = require('./utils/wxlogin.js')
 *   const auth = createAuth({ baseURL: 'https://login.example.com' })
 *   const res = await auth.request({ url: '/v1/session' })
 *
 * Errors are WxLoginError objects carrying the server's RFC 9457 problem
 * (`status`, `code`, `title`, `detail`, raw `problem`). Errors raised by the
 * kit itself, before or without an HTTP answer, have `status` 0.
 *
 * Written for ES2017 (async/await, no optional chaining, no object spread)
 * and no Node.js APIs, so WeChat's runtime accepts it as is.
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
 * `invalid_request`, `invalid_token`), `title`, `detail`, `type`, `instance`,
 * `problem` (the raw problem object), `retryAfter` (seconds, from a
 * `Retry-After` header, or undefined) and `needsReauth` (true when the user
 * must be asked again for open data, see `decrypt`).
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
 * @param {string} [options.storageKey='wxlogin'] wx storage key of the
 *   stored token record `{token, expiresAt, openid, unionid?, issuedAt}`
 *   (`expiresAt` and `issuedAt` in milliseconds since the epoch, device
 *   clock).
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
  var storageKey = opts.storageKey || DEFAULT_STORAGE_KEY
  var marginMs = 1000 * (typeof opts.refreshMarginSeconds === 'number'
    ? opts.refreshMarginSeconds
    : DEFAULT_REFRESH_MARGIN_SECONDS)
  var now = opts.now || Date.now
  var logger = opts.logger || (typeof console !== 'undefined' ? console : { warn: function () {} })
  /* global wx */
  var wxAPI = opts.wx || (typeof wx !== 'undefined' ? wx : null)
  if (!wxAPI) throw new TypeError('createAuth: no wx object (not in a mini program? pass options.wx)')

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
        return send(buildRequest({ url: '/v1/login', method: 'POST', data: { code: res.code } }))
      })
      .then(function (res) {
        if (res.statusCode < 200 || res.statusCode > 299) throw errorFromResponse(res)
        var body = parseBody(res.data)
        if (!body || typeof body.token !== 'string' || body.token === '' ||
            typeof body.expires_in !== 'number' || !(body.expires_in > 0)) {
          throw kitError('invalid_response', 'Invalid login response', 'the login answer has no token or expires_in')
        }
        // Count the lifetime from before the request: the server issued the
        // token after that, so expiresAt errs on the early side.
        var issuedAt = sentAt
        var record = {
          token: body.token,
          expiresAt: issuedAt + body.expires_in * 1000,
          openid: body.openid,
          issuedAt: issuedAt
        }
        if (body.unionid) record.unionid = body.unionid
        if (started === generation) {
          current = record
          currentChecked = true // a session we just created is current
          writeStorage(record)
        }
        return Object.assign({}, record)
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
      current = null
      currentChecked = false
      removeStorage()
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
   * Exchanges a getPhoneNumber code: POST /v1/phone.
   *
   * @param {string|{code: string, errMsg?: string}} codeOrDetail the
   *   `e.detail.code` of `<button open-type="getPhoneNumber">`, or `e.detail`.
   * The server answers with a fresh token for the same user (shaped by
   * its claims hook, if any): it replaces the stored one, so that later
   * requests carry the bound user.
   *
   * @returns {Promise<{phoneNumber: string, purePhoneNumber: string, countryCode: string}>}
   */
  async function phone (codeOrDetail) {
    var code = codeOrDetail && typeof codeOrDetail === 'object' ? codeOrDetail.code : codeOrDetail
    if (typeof code !== 'string' || code === '') {
      var errMsg = codeOrDetail && typeof codeOrDetail === 'object' ? codeOrDetail.errMsg : ''
      throw kitError('invalid_request', 'No phone number code', errMsg || 'the getPhoneNumber code is required')
    }
    var started = generation
    var sentAt = now()
    var body = await call('POST', '/v1/phone', { code: code })
    if (body && typeof body.token === 'string' && body.token !== '' &&
        typeof body.expires_in === 'number' && body.expires_in > 0 && started === generation && loadRecord()) {
      current = Object.assign({}, current, { token: body.token, expiresAt: sentAt + body.expires_in * 1000, issuedAt: sentAt })
      currentChecked = true
      writeStorage(current)
    }
    return { phoneNumber: body.phoneNumber, purePhoneNumber: body.purePhoneNumber, countryCode: body.countryCode }
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
