'use strict'
// The end-to-end tests' parts: the real server binary, started on a free
// loopback port, and a `wx` for Node whose requests go over fetch. Kept
// outside miniprogram/test/ so that `node --test` does not run it itself.
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const net = require('node:net')
const path = require('node:path')
const { repoRoot, run } = require('./tools.js')

function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = srv.address().port
      srv.close(() => resolve(port))
    })
  })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** go build of the server into dir; resolves with the binary's path. */
async function buildServer (dir) {
  const bin = path.join(dir, 'wxlogin')
  await run('go', ['build', '-o', bin, '.'], { cwd: repoRoot, env: process.env })
  return bin
}

/**
 * Starts the binary with env (plus WXLOGIN_ADDR and WXLOGIN_ISSUER on a
 * free port) and waits for /healthz. Resolves with {baseURL, output(),
 * stop()}.
 */
async function startServer (bin, cwd, env) {
  const port = await freePort()
  const baseURL = 'http://127.0.0.1:' + port
  const child = spawn(bin, [], {
    cwd,
    env: Object.assign({}, process.env, { WXLOGIN_ADDR: '127.0.0.1:' + port, WXLOGIN_ISSUER: baseURL }, env),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  let exited = null
  child.on('exit', (code, signal) => { exited = signal || code })
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await gone
    clearTimeout(timer)
  }
  const deadline = Date.now() + 20000
  for (;;) {
    if (exited !== null) throw new Error('the server exited (' + exited + ') before /healthz answered:\n' + output.slice(-2000))
    try {
      const r = await fetch(baseURL + '/healthz')
      await r.arrayBuffer()
      if (r.status === 200) break
    } catch (e) { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop()
      throw new Error('/healthz did not answer 200 within 20 s:\n' + output.slice(-2000))
    }
    await sleep(100)
  }
  return { baseURL, output: () => output, stop }
}

/**
 * A `wx` for Node: request over fetch, random login codes, storage in a
 * Map. With appId, getAccountInfoSync reports it; without, there is no
 * getAccountInfoSync (a base library before 2.2.2), and the kit names no
 * app.
 */
function createNodeWx (appId) {
  const wx = {
    calls: { login: 0, checkSession: 0 },
    exchanges: [], // {method, path, auth, status, code, body}
    storage: new Map(),
    login (o) {
      wx.calls.login++
      setImmediate(() => o.success({ code: 'e2e-' + crypto.randomUUID(), errMsg: 'login:ok' }))
    },
    checkSession (o) {
      wx.calls.checkSession++
      setImmediate(() => o.success({ errMsg: 'checkSession:ok' }))
    },
    request (o) {
      const method = o.method || 'GET'
      const init = { method, headers: Object.assign({}, o.header) }
      if (o.data !== undefined && method !== 'GET') {
        init.body = typeof o.data === 'string' ? o.data : JSON.stringify(o.data)
      }
      fetch(o.url, init).then(async (r) => {
        const text = await r.text()
        let data = text
        try { data = JSON.parse(text) } catch (e) { /* keep the text, as wx.request does */ }
        const header = {}
        r.headers.forEach((v, k) => { header[k] = v })
        wx.exchanges.push({
          method,
          path: new URL(o.url).pathname,
          auth: init.headers.Authorization,
          status: r.status,
          code: data && data.code,
          body: init.body === undefined ? undefined : JSON.parse(init.body)
        })
        o.success({ statusCode: r.status, data, header, errMsg: 'request:ok' })
      }, (e) => o.fail({ errMsg: 'request:fail ' + e.message }))
      return { abort () {} }
    },
    getStorageSync (key) { return wx.storage.has(key) ? structuredClone(wx.storage.get(key)) : '' },
    setStorageSync (key, value) { wx.storage.set(key, structuredClone(value)) },
    removeStorageSync (key) { wx.storage.delete(key) }
  }
  if (appId) {
    wx.getAccountInfoSync = () => ({ miniProgram: { appId, envVersion: 'develop', version: '' }, plugin: {} })
  }
  return wx
}

/** The payload of a JWS compact token, decoded (not verified). */
function claimsOf (token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
}

module.exports = { buildServer, startServer, createNodeWx, claimsOf }
