'use strict'
// The declarations under `tsc --strict` against miniprogram-api-typings:
// types/page.ts (every method, as a page uses them) compiles, and every
// `// @ts-expect-error` line of types/misuse.ts is an error. typescript and
// miniprogram-api-typings are the devDependencies pinned in
// package-lock.json (`npm ci` in miniprogram/, as .ci/run does).
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { kitRoot, needs, run } = require('../testing/tools.js')

const tsc = path.join(kitRoot, 'node_modules', 'typescript', 'bin', 'tsc')
const typesDir = path.join(kitRoot, 'types')
const skip = needs('typescript', !fs.existsSync(tsc) || !fs.existsSync(path.join(kitRoot, 'node_modules', 'miniprogram-api-typings')),
  'run `npm ci` in miniprogram/ to check the type declarations')

const directive = /^(\s*)\/\/ @ts-expect-error\b.*$/

describe('wxlogin.d.ts under tsc --strict', { skip, timeout: 120000 }, () => {
  it('the page using every method compiles, and every wrong use is an error', async () => {
    await run(process.execPath, [tsc, '-p', path.join(typesDir, 'tsconfig.json')], { cwd: kitRoot })
  })

  it('types/page.ts calls every method of the auth object', () => {
    const page = fs.readFileSync(path.join(typesDir, 'page.ts'), 'utf8')
    for (const method of ['login', 'getToken', 'request', 'decrypt', 'phone', 'checkSession', 'session', 'logout']) {
      assert.match(page, new RegExp('auth\\.' + method + '\\b'), method)
    }
  })

  it('without the directives, misuse.ts fails on exactly the marked lines', async (t) => {
    // tsc already fails on an unused @ts-expect-error; this also shows that
    // each error is on its line and that nothing else in the file is wrong.
    const lines = fs.readFileSync(path.join(typesDir, 'misuse.ts'), 'utf8').split('\n')
    const expected = []
    const stripped = lines.map((line, i) => {
      if (!directive.test(line)) return line
      expected.push(i + 2) // 1-based number of the next line
      return line.replace(directive, '$1// (directive removed)')
    })
    assert.ok(expected.length >= 20, 'misuse.ts holds the wrong uses')
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-types-'))
    t.after(() => fs.rmSync(tmp, { recursive: true, force: true }))
    const file = path.join(tmp, 'misuse.ts')
    fs.writeFileSync(file, stripped.join('\n'))
    fs.writeFileSync(path.join(tmp, 'tsconfig.json'), JSON.stringify({
      extends: path.join(typesDir, 'tsconfig.json'),
      compilerOptions: { typeRoots: [path.join(kitRoot, 'node_modules')], baseUrl: typesDir },
      files: [file]
    }))
    const err = await run(process.execPath, [tsc, '-p', path.join(tmp, 'tsconfig.json')], { cwd: tmp }).then(() => null, (e) => e)
    assert.ok(err, 'tsc accepted the wrong uses')
    const got = [...new Set([...err.output.matchAll(/misuse\.ts\((\d+),\d+\): error TS\d+/g)].map((m) => Number(m[1])))]
    assert.deepEqual(got, expected, err.output)
  })
})
