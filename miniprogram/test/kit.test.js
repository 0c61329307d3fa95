'use strict'
// The kit as a file: it runs without Node's APIs, and the example mini
// program carries an exact copy of it.
const nodeTest = require('node:test')
const test = (name, fn) => nodeTest(name, { timeout: 5000 }, fn)
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const vm = require('node:vm')
const { createFakeServer, createFakeWx } = require('../testing/fakewx.js')

const kitPath = path.join(__dirname, '..', 'wxlogin.js')
const copyPath = path.join(__dirname, '..', '..', 'examples', 'miniprogram', 'utils', 'wxlogin.js')

test('examples/miniprogram/utils/wxlogin.js is a byte-identical copy of the kit', () => {
  const kit = fs.readFileSync(kitPath)
  const copy = fs.readFileSync(copyPath)
  assert.ok(kit.equals(copy), 'run: cp miniprogram/wxlogin.js examples/miniprogram/utils/wxlogin.js')
})

test('the kit runs in a bare context: no require, process or Buffer; global wx', async () => {
  const source = fs.readFileSync(kitPath, 'utf8')
  const wx = createFakeWx({ server: createFakeServer() })
  const module = { exports: {} }
  // setTimeout is for the fake wx only; the kit itself needs none of these.
  const context = vm.createContext({ module, exports: module.exports, wx, console })
  vm.runInContext(source, context, { filename: 'wxlogin.js' })
  assert.deepEqual(Object.keys(module.exports).sort(), ['WxLoginError', 'createAuth'])
  const auth = module.exports.createAuth({ baseURL: 'https://api.example.com' }) // global wx
  const token = await auth.getToken()
  assert.equal(token, 'tok-1')
  assert.equal(wx.calls.login, 1)
  assert.equal(wx.storage.get('wxlogin').token, 'tok-1', 'default storage key')
})

test('the kit avoids syntax newer than ES2017', () => {
  // Strip comments and string literals, then look for ES2018+ syntax that
  // older WeChat runtimes reject.
  const code = fs.readFileSync(kitPath, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'/g, "''")
  assert.doesNotMatch(code, /\?\./, 'optional chaining')
  assert.doesNotMatch(code, /\?\?/, 'nullish coalescing')
  assert.doesNotMatch(code, /\.\.\./, 'spread/rest')
  assert.doesNotMatch(code, /catch\s*\{/, 'optional catch binding')
  assert.doesNotMatch(code, /\.finally\(/, 'Promise.prototype.finally')
  assert.doesNotMatch(code, /\brequire\(/, 'no dependencies')
})

test('example mini program: JSON files parse and every page has its four files', () => {
  const root = path.join(__dirname, '..', '..', 'examples', 'miniprogram')
  const app = JSON.parse(fs.readFileSync(path.join(root, 'app.json'), 'utf8'))
  const project = JSON.parse(fs.readFileSync(path.join(root, 'project.config.json'), 'utf8'))
  assert.equal(project.compileType, 'miniprogram')
  assert.ok(app.pages.length > 0)
  for (const page of app.pages) {
    for (const ext of ['js', 'wxml', 'wxss', 'json']) {
      assert.ok(fs.existsSync(path.join(root, page + '.' + ext)), page + '.' + ext)
    }
    JSON.parse(fs.readFileSync(path.join(root, page + '.json'), 'utf8'))
  }
  const appJs = fs.readFileSync(path.join(root, 'app.js'), 'utf8')
  assert.match(appJs, /require\('\.\/utils\/wxlogin\.js'\)/)
})
