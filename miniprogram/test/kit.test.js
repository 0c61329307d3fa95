'use strict'
// The kit as a file: it runs without Node's APIs, and the example mini
// program takes it from the package, not from a copy.
const nodeTest = require('node:test')
const test = (name, fn) => nodeTest(name, { timeout: 5000 }, fn)
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const vm = require('node:vm')
const { APPID, createFakeServer, createFakeWx } = require('../testing/fakewx.js')

const kitPath = path.join(__dirname, '..', 'miniprogram_dist', 'index.js')
const exampleRoot = path.join(__dirname, '..', '..', 'examples', 'miniprogram')

test('the kit runs in a bare context: no require, process or Buffer; global wx', async () => {
  const source = fs.readFileSync(kitPath, 'utf8')
  const wx = createFakeWx({ server: createFakeServer() })
  const module = { exports: {} }
  // setTimeout is for the fake wx only; the kit itself needs none of these.
  const context = vm.createContext({ module, exports: module.exports, wx, console })
  vm.runInContext(source, context, { filename: 'index.js' })
  assert.deepEqual(Object.keys(module.exports).sort(), ['WxLoginError', 'createAuth'])
  const auth = module.exports.createAuth({ baseURL: 'https://api.example.com' }) // global wx
  const token = await auth.getToken()
  assert.equal(token, 'tok-1')
  assert.equal(wx.calls.login, 1)
  assert.equal(wx.storage.get('wxlogin:' + APPID).token, 'tok-1', 'default storage key, per app')
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
  const app = JSON.parse(fs.readFileSync(path.join(exampleRoot, 'app.json'), 'utf8'))
  const project = JSON.parse(fs.readFileSync(path.join(exampleRoot, 'project.config.json'), 'utf8'))
  assert.equal(project.compileType, 'miniprogram')
  assert.ok(app.pages.length > 0)
  for (const page of app.pages) {
    for (const ext of ['js', 'wxml', 'wxss', 'json']) {
      assert.ok(fs.existsSync(path.join(exampleRoot, page + '.' + ext)), page + '.' + ext)
    }
    JSON.parse(fs.readFileSync(path.join(exampleRoot, page + '.json'), 'utf8'))
  }
})

test('example mini program: takes the kit from the package, keeps no copy', () => {
  const kitPkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'))
  const pkg = JSON.parse(fs.readFileSync(path.join(exampleRoot, 'package.json'), 'utf8'))
  assert.deepEqual(pkg.dependencies, { [kitPkg.name]: 'file:../../miniprogram' })
  assert.match(fs.readFileSync(path.join(exampleRoot, 'app.js'), 'utf8'), new RegExp("require\\('" + kitPkg.name + "'\\)"))
  assert.equal(fs.existsSync(path.join(exampleRoot, 'utils', 'wxlogin.js')), false, 'the old copy is gone')
})
