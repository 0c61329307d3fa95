// wxlogin tokens verified by the npm package jose, the way a Node
// downstream service does it: discovery document → jwks_uri →
// createRemoteJWKSet → jwtVerify with issuer and audience.
//
// The Go test TestInteropNodeJose (rotation_test.go at the repository
// root) starts one wxlogin server per algorithm and passes them in
// WXLOGIN_INTEROP_SERVERS as [{"issuer", "audience", "alg"}, …].

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';

const servers = JSON.parse(process.env.WXLOGIN_INTEROP_SERVERS ?? '[]');

if (servers.length === 0) {
  test('jose interop', {
    skip: 'WXLOGIN_INTEROP_SERVERS is not set: run `go test -run TestInteropNodeJose .` at the repository root, which starts the servers',
  }, () => {});
}

for (const { issuer, audience, alg } of servers) {
  test(`jose verifies ${alg} tokens found through discovery`, async () => {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const meta = await res.json();
    assert.equal(meta.issuer, issuer, 'the discovery issuer is the iss claim, byte for byte');
    assert.ok(meta.id_token_signing_alg_values_supported.includes(alg));

    const JWKS = createRemoteJWKSet(new URL(meta.jwks_uri));
    const login = await fetch(`${issuer}/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: `node-interop-${alg}` }),
    });
    assert.equal(login.status, 200);
    const { token, openid } = await login.json();
    assert.equal(decodeProtectedHeader(token).alg, alg);

    const options = { issuer: meta.issuer, audience, algorithms: ['ES256', 'EdDSA'], requiredClaims: ['exp', 'sub'] };
    const { payload, protectedHeader } = await jwtVerify(token, JWKS, options);
    assert.equal(payload.sub, openid);
    assert.equal(protectedHeader.alg, alg);
    assert.equal(protectedHeader.typ, 'JWT');

    // jose does check what it is asked to check.
    await assert.rejects(jwtVerify(token, JWKS, { ...options, audience: 'wxsomeoneelse' }), errors.JWTClaimValidationFailed);
    await assert.rejects(jwtVerify(token, JWKS, { ...options, issuer: `${meta.issuer}/` }), errors.JWTClaimValidationFailed);
    const [header, body, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    claims.sub = 'oAttacker';
    const altered = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
    await assert.rejects(jwtVerify(altered, JWKS, options), errors.JWSSignatureVerificationFailed);
  });
}
