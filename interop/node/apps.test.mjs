// Tokens of several mini programs served by one wxlogin, verified by the
// npm package jose as Node backends do: one backend trusts every app (a
// list of audiences), another trusts one app alone.
//
// The Go test TestInteropNodeJoseTwoApps (apps_test.go at the repository
// root) starts the server and passes it in WXLOGIN_INTEROP_APPS as
// [{"issuer", "alg", "apps": [{"appid", "audience"}, …]}, …].

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

const servers = JSON.parse(process.env.WXLOGIN_INTEROP_APPS ?? '[]');

if (servers.length === 0) {
  test('jose interop, several apps', {
    skip: 'WXLOGIN_INTEROP_APPS is not set: run `go test -run TestInteropNodeJoseTwoApps .` at the repository root, which starts the server',
  }, () => {});
}

for (const { issuer, alg, apps } of servers) {
  test(`jose verifies the ${alg} tokens of ${apps.length} apps`, async () => {
    const meta = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
    const JWKS = createRemoteJWKSet(new URL(meta.jwks_uri));
    const base = { issuer: meta.issuer, algorithms: ['ES256', 'EdDSA'], requiredClaims: ['exp', 'sub'] };
    const everyApp = { ...base, audience: apps.map((a) => a.audience) };

    const seen = new Set();
    for (const { appid, audience } of apps) {
      const login = await fetch(`${issuer}/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: 'node-interop-alice', appid }),
      });
      assert.equal(login.status, 200, `login to ${appid}`);
      const { token, openid } = await login.json();
      seen.add(openid);

      // The backend of every app accepts it, and tells the app by appid.
      const { payload } = await jwtVerify(token, JWKS, everyApp);
      assert.equal(payload.appid, appid);
      assert.deepEqual(payload.aud, [audience]);
      assert.equal(payload.sub, openid);

      // A backend of this app alone accepts it; one of another app does not.
      await jwtVerify(token, JWKS, { ...base, audience });
      for (const other of apps.filter((a) => a.audience !== audience)) {
        await assert.rejects(jwtVerify(token, JWKS, { ...base, audience: other.audience }), errors.JWTClaimValidationFailed);
      }
    }
    assert.equal(seen.size, apps.length, 'the same person has another openid in every app');
  });
}
