'use strict'
// Helpers for the tests that run npm, tsc and the Go server. Kept outside
// miniprogram/test/ so that `node --test` does not run this file itself.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const kitRoot = path.resolve(__dirname, '..')
const repoRoot = path.resolve(kitRoot, '..')

/**
 * A node:test skip reason when a tool is missing, or false. Under
 * WXLOGIN_REQUIRE_NODE (set by CI) nothing is skipped: the test runs and
 * fails, since CI must run it.
 */
function needs (what, missing, hint) {
  if (!missing || process.env.WXLOGIN_REQUIRE_NODE) return false
  return what + ' is missing: ' + hint
}

function missingCommand (cmd, args) {
  return !!spawnSync(cmd, args || ['--version']).error
}

/** Runs cmd to completion; resolves with its output, rejects on failure. */
function run (cmd, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, options)
    let output = ''
    child.stdout.on('data', (d) => { output += d })
    child.stderr.on('data', (d) => { output += d })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(output)
      else reject(Object.assign(new Error(cmd + ' ' + args.join(' ') + ' failed (exit ' + code + '):\n' + output), { output, exitCode: code }))
    })
  })
}

/** npm pack of the kit into dir; resolves with the tarball's path. */
async function packKit (dir) {
  const out = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: kitRoot })
  const [info] = JSON.parse(out.slice(out.indexOf('[')))
  return path.join(dir, info.filename)
}

/**
 * What DevTools' "build npm" does with a mini program npm package: copies
 * the directory its package.json names in `miniprogram` to
 * miniprogram_npm/<name>/, where the mini program's require('<name>')
 * finds index.js. Returns that index.js.
 */
function buildNpm (projectDir, name) {
  const pkgDir = path.join(projectDir, 'node_modules', name)
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'))
  const dest = path.join(projectDir, 'miniprogram_npm', name)
  fs.cpSync(path.join(pkgDir, pkg.miniprogram || 'miniprogram_dist'), dest, { recursive: true })
  return path.join(dest, 'index.js')
}

module.exports = { kitRoot, repoRoot, needs, missingCommand, run, packKit, buildNpm }
