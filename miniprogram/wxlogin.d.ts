// Type declarations of wxlogin-miniprogram, the wxlogin client kit for
// WeChat Mini Programs (miniprogram_dist/index.js). They are written
// against miniprogram-api-typings, so that wx.request options and the
// `e.detail` of WeChat's callbacks line up with the kit's parameters.

/// <reference types="miniprogram-api-typings" />

/** The `code` of an error of the wxlogin server (see its contract). */
export type ServerErrorCode =
  | 'invalid_request'
  | 'unknown_app'
  | 'login_denied'
  | 'invalid_code'
  | 'invalid_token'
  | 'user_blocked'
  | 'decrypt_failed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'upstream_error'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'not_found'
  | 'method_not_allowed'
  | 'internal_error'

/**
 * The `code` of an error the kit raises itself, with `status` 0.
 *
 * - `network_error`: wx.request failed (no HTTP answer).
 * - `wx_login_failed`: wx.login failed or gave no code.
 * - `invalid_response`: a 2xx login answer without a token.
 * - `http_error`: an error status without a problem object.
 * - `phone_quota_exhausted`: the getPhoneNumber button answered errno
 *   1400001, the app's quota of phone number verifications is used up.
 * - `phone_denied`: the user declined to share the phone number.
 * - `phone_failed`: any other getPhoneNumber failure (see `errno`, `detail`).
 * - `unknown_error`: a problem object without a `code`.
 */
export type KitErrorCode =
  | 'network_error'
  | 'wx_login_failed'
  | 'invalid_response'
  | 'http_error'
  | 'phone_quota_exhausted'
  | 'phone_denied'
  | 'phone_failed'
  | 'unknown_error'

/**
 * Every `code` a WxLoginError has for the wxlogin server's answers and the
 * kit's own failures. A problem object from your own API (an origin of
 * `apiOrigins`) keeps its own `code`: compare it as a string,
 * `(err.code as string) === 'out_of_stock'`.
 */
export type WxLoginErrorCode = ServerErrorCode | KitErrorCode

/** An RFC 9457 problem details object with wxlogin's `code` member. */
export interface Problem {
  type?: string
  title?: string
  status?: number
  detail?: string
  instance?: string
  code?: string
  /** Set on `decrypt_failed` when a fresh login would help. */
  relogin?: boolean
  [member: string]: unknown
}

/** An error carrying the server's problem, or one raised by the kit. */
export declare class WxLoginError extends Error {
  constructor(problem?: Problem)
  name: 'WxLoginError'
  /** The HTTP status; 0 when the kit raised the error without an answer. */
  status: number
  code: WxLoginErrorCode
  title: string
  detail: string
  type: string
  instance?: string
  /** The problem object as received (or as the kit built it). */
  problem: Problem
  /** Seconds from a `Retry-After` header (`rate_limited`). */
  retryAfter?: number
  /**
   * True when the user must be asked again for open data: the kit has
   * logged in again and a new tap gets data it can decrypt (`decrypt`).
   */
  needsReauth: boolean
  /** The failure of that fresh login, when it failed. */
  reloginError?: WxLoginError
  /** The `errno` of a getPhoneNumber answer (`phone_*` codes). */
  errno?: number
}

/** The part of `wx` the kit uses; the global `wx` has all of it. */
export type WxAPI = Pick<
  WechatMiniprogram.Wx,
  'login' | 'checkSession' | 'request' | 'getStorageSync' | 'setStorageSync' | 'removeStorageSync'
> &
  Partial<Pick<WechatMiniprogram.Wx, 'getAccountInfoSync'>>

/** Options of `createAuth`. Only `baseURL` is needed in a mini program. */
export interface AuthOptions {
  /** The wxlogin server, such as `https://login.example.com`. */
  baseURL: string
  /**
   * The AppID sent with every login; by default
   * `wx.getAccountInfoSync().miniProgram.appId`.
   */
  appid?: string
  /**
   * Prefix of the storage key of the token record; the key is
   * `<storageKey>:<appid>`. Default `wxlogin`.
   */
  storageKey?: string
  /** The `wx` object; the global `wx` by default (tests pass a fake). */
  wx?: WxAPI
  /**
   * `getToken` logs in again this many seconds before expiry (at most a
   * quarter of the token's lifetime). Default 300.
   */
  refreshMarginSeconds?: number
  /** Clock in milliseconds since the epoch; `Date.now` by default. */
  now?: () => number
  /** Receives the kit's warnings (never a token or a code). */
  logger?: { warn(message: string): void }
  /**
   * Origins besides baseURL's that `request` may send the token to, such
   * as `https://api.example.com`.
   */
  apiOrigins?: string[]
}

/** The token record the kit keeps in memory and in wx storage. */
export interface TokenRecord {
  token: string
  /** Milliseconds since the epoch, device clock, erring early. */
  expiresAt: number
  /** When the request for it was sent, milliseconds since the epoch. */
  issuedAt: number
  openid: string
  unionid?: string
}

/** `request` options: those of wx.request without its callbacks. */
export type RequestOptions = Omit<WechatMiniprogram.RequestOption, 'success' | 'fail' | 'complete'>

/** The data a request answers with. */
export type ResponseData = string | WechatMiniprogram.IAnyObject | ArrayBuffer

/**
 * Open data as WeChat hands it over: the `e.detail` of an open-data
 * callback, or the success result of an API such as wx.getWeRunData.
 */
export interface OpenData {
  encryptedData: string
  iv: string
  rawData?: string
  signature?: string
}

/**
 * The `e.detail` of `<button open-type="getPhoneNumber">`
 * (`WechatMiniprogram.ButtonGetPhoneNumber`): a one-time `code` on
 * success, `errMsg` always, `errno` on failure.
 */
export interface PhoneNumberDetail {
  code?: string
  errMsg?: string
  errno?: number
}

/** The phone number of the user, from POST /v1/phone. */
export interface PhoneNumber {
  /** With the country code where it is not China's, as WeChat gives it. */
  phoneNumber: string
  purePhoneNumber: string
  countryCode: string
}

/** The token's session, from GET /v1/session. */
export interface Session {
  sub: string
  openid: string
  unionid?: string
  appid: string
  /** RFC 3339. */
  expires_at: string
  /** The claims the server's claims hook added. */
  claims?: Record<string, unknown>
}

/** A login client for one wxlogin server, from `createAuth`. */
export interface Auth {
  /**
   * Logs in now: wx.login, POST /v1/login `{code, appid}`, stores the
   * token. Concurrent calls share one login. Rejects with `login_denied`
   * (never retried) when the server refuses the user.
   */
  login(): Promise<TokenRecord>
  /** A token comfortably before expiry: the stored one, or a fresh login. */
  getToken(): Promise<string>
  /**
   * wx.request with `Authorization: Bearer <token>`; `url` is a path below
   * baseURL or a URL on baseURL's origin or `apiOrigins`. Logs in again
   * and retries once on `401 invalid_token`. Rejects with a WxLoginError
   * for any status outside 2xx.
   */
  request<T extends ResponseData = WechatMiniprogram.IAnyObject>(
    options: RequestOptions
  ): Promise<WechatMiniprogram.RequestSuccessCallbackResult<T>>
  /**
   * Decrypts open data (POST /v1/decrypt), never logging in before
   * sending. On `needsReauth` ask the user again.
   */
  decrypt<T = WechatMiniprogram.IAnyObject>(detail: OpenData): Promise<T>
  /**
   * Exchanges the getPhoneNumber code (POST /v1/phone) and keeps the fresh
   * token the server answers with. Without a code it rejects with
   * `phone_quota_exhausted`, `phone_denied` or `phone_failed`.
   */
  phone(codeOrDetail: string | PhoneNumberDetail): Promise<PhoneNumber>
  /** Whether WeChat still holds the token's session_key as current. */
  checkSession(): Promise<{ valid: boolean }>
  /** The token's session: GET /v1/session. */
  session(): Promise<Session>
  /** Forgets the token, in memory and in storage. */
  logout(): void
}

/** Creates a login client for one wxlogin server. */
export declare function createAuth(options: AuthOptions): Auth
