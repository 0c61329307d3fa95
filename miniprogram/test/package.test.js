'use strict'
// The kit as an npm package: what `npm pack` ships, the package.json that
// DevTools' "build npm" reads, declarations that match the exports, and the
// example mini program installed and built as a developer does it.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vm = require('node:vm')
const { APPID, createFakeServer, createFakeWx } = require('../testing/fakewx.js')
const { kitRoot, repoRoot, needs, missingCommand, run, buildNpm } = require('../testing/tools.js')

const pkg = JSON.parse(fs.readFileSync(path.join(kitRoot, 'package.json'), 'utf8'))
const skip = needs('npm', missingCommand('npm'), 'install npm (it comes with Node) to check the package')

describe('the npm package', { skip, timeout: 120000 }, () => {
  it('npm pack ships exactly the kit, its types and package.json', async () => {
    const out = await run('npm', ['pack', '--dry-run', '--json'], { cwd: kitRoot })
    const [info] = JSON.parse(out.slice(out.indexOf('[')))
    assert.equal(info.name, 'wxlogin-miniprogram')
    assert.deepEqual(info.files.map((f) => f.path).sort(), ['miniprogram_dist/index.js', 'package.json', 'wxlogin.d.ts'])
    assert.deepEqual(info.bundled, [])
  })

  it('package.json is one DevTools builds: main in the miniprogram dir, types, license, no dependencies', () => {
    for (const field of ['name', 'version', 'main', 'miniprogram', 'files', 'license', 'types']) {
      assert.ok(pkg[field], 'package.json has ' + field)
    }
    assert.match(pkg.version, /^\d+\.\d+\.\d+$/)
    assert.equal(pkg.dependencies, undefined, 'no runtime dependencies')
    for (const name of Object.keys(pkg.peerDependencies || {})) {
      assert.equal(pkg.peerDependenciesMeta[name].optional, true, name + ' is an optional peer (types only)')
    }
    // build npm copies the miniprogram dir; require('<name>') in the mini
    // program then loads its index.js.
    assert.equal(pkg.main, pkg.miniprogram + '/index.js')
    assert.ok(fs.existsSync(path.join(kitRoot, pkg.main)))
    assert.ok(fs.existsSync(path.join(kitRoot, pkg.types)))
    assert.deepEqual(fs.readdirSync(path.join(kitRoot, pkg.miniprogram)), ['index.js'], 'nothing else is copied into the mini program')
  })

  it('wxlogin.d.ts declares every export and every method of the auth object', () => {
    const dts = fs.readFileSync(path.join(kitRoot, pkg.types), 'utf8')
    const kit = require(path.join(kitRoot, pkg.main))
    const declared = [...dts.matchAll(/^export declare (?:function|class) (\w+)/gm)].map((m) => m[1]).sort()
    assert.deepEqual(declared, Object.keys(kit).sort())
    const authBody = dts.slice(dts.indexOf('export interface Auth {'))
    const methods = [...authBody.slice(0, authBody.indexOf('\n}')).matchAll(/^ {2}(\w+)(?:<[^(]*>)?\(/gm)].map((m) => m[1]).sort()
    const auth = kit.createAuth({ baseURL: 'https://api.example.com', wx: createFakeWx({ server: createFakeServer() }) })
    assert.deepEqual(methods, Object.keys(auth).sort())
  })

  it('the example mini program: npm install, build npm, then its app and page run on the kit', async (t) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-example-'))
    t.after(() => fs.rmSync(tmp, { recursive: true, force: true }))
    const example = path.join(tmp, 'example')
    fs.cpSync(path.join(repoRoot, 'examples', 'miniprogram'), example, {
      recursive: true,
      filter: (src) => !/(^|[/\\])(node_modules|miniprogram_npm)$/.test(src)
    })
    // The copy is elsewhere: point its dependency at the kit's folder.
    const examplePkg = JSON.parse(fs.readFileSync(path.join(example, 'package.json'), 'utf8'))
    examplePkg.dependencies[pkg.name] = 'file:' + kitRoot
    fs.writeFileSync(path.join(example, 'package.json'), JSON.stringify(examplePkg))
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: example })
    const installed = path.join(example, 'node_modules', pkg.name)
    assert.equal(fs.lstatSync(installed).isSymbolicLink(), false, 'the .npmrc installs a copy, not a link')
    const entry = buildNpm(example, pkg.name)
    assert.deepEqual(fs.readFileSync(entry), fs.readFileSync(path.join(kitRoot, pkg.main)))

    // The mini program runtime: App, Page, getApp, a global wx, and a
    // require that finds npm packages in miniprogram_npm.
    const server = createFakeServer()
    const wx = createFakeWx({ server })
    Object.assign(wx, { showModal () {}, getWeRunData () {} })
    let app = null
    let page = null
    const context = vm.createContext({
      wx,
      console: { log () {}, warn () {} },
      App: (o) => { app = o },
      Page: (o) => { page = o },
      getApp: () => app
    })
    const load = (file) => {
      const module = { exports: {} }
      const requireMP = (name) => {
        const target = name.startsWith('.') ? path.resolve(path.dirname(file), name) : path.join(example, 'miniprogram_npm', name, 'index.js')
        return load(target.endsWith('.js') ? target : target + '.js')
      }
      const source = fs.readFileSync(file, 'utf8')
      vm.runInContext('(function (require, module, exports) {' + source + '\n})', context, { filename: file })(requireMP, module, module.exports)
      return module.exports
    }
    load(path.join(example, 'app.js'))
    app.onLaunch()
    load(path.join(example, 'pages', 'index', 'index.js'))
    const view = Object.assign({ data: Object.assign({}, page.data) }, page)
    view.setData = (d) => Object.assign(view.data, d)
    view.onLoad()
    await waitFor(() => view.data.openid !== '')
    assert.equal(view.data.openid, 'openid-of-tok-1')
    assert.deepEqual(server.logins.length, 1, 'the page shared the launch login')
    assert.equal(wx.requests[0].data.appid, APPID)

    view.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail no permission', errno: 1400001 } })
    await waitFor(() => view.data.error !== '')
    assert.match(view.data.error, /not available right now/)
    view.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail user deny' } })
    await waitFor(() => /not shared/.test(view.data.error))
    view.onGetPhoneNumber({ detail: { code: 'phone-code', errMsg: 'getPhoneNumber:ok' } })
    await waitFor(() => view.data.phone !== '')
    assert.equal(view.data.phone, '+86 13800000000')
    assert.equal(view.data.error, '')
    assert.equal(wx.storage.get('wxlogin:' + APPID).token, 'tok-2', 'the phone answer\'s token is kept')
  })
})

async function waitFor (cond) {
  for (let i = 0; i < 2500 && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, 2))
  assert.ok(cond(), 'the page did not get there')
}
