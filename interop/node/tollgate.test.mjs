// Interop: a real, unmodified non-Go client and resource server against a
// running tollgate. The Go test TestNodeInterop (engine/serve) starts the
// server and runs this file with TOLLGATE_ISSUER set; run by hand with
//   TOLLGATE_ISSUER=http://127.0.0.1:8080 node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import * as jose from 'jose';

const issuer = process.env.TOLLGATE_ISSUER;
if (!issuer) {
  throw new Error('TOLLGATE_ISSUER is not set: start tollgate and point this test at it');
}
// tollgate serves plain HTTP on loopback in tests; openid-client refuses
// that unless told.
const insecure = issuer.startsWith('http:') ? { execute: [client.allowInsecureRequests] } : {};
const jwks = jose.createRemoteJWKSet(new URL('/.well-known/jwks.json', issuer));

test('Auth0-style: gift-deliveries gets world-mappers with client_secret_post', async () => {
  const config = await client.discovery(
    new URL(issuer), 'gift-deliveries', undefined,
    client.ClientSecretPost('demo-gift-deliveries-secret-not-for-production'), insecure);
  assert.equal(config.serverMetadata().issuer, issuer);
  assert.ok(config.serverMetadata().grant_types_supported.includes('client_credentials'));

  const tokens = await client.clientCredentialsGrant(config, {
    scope: 'read:directions',
    audience: 'https://api.worldmappers.example',
  });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.equal(tokens.refresh_token, undefined);

  const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, {
    issuer,
    audience: 'https://api.worldmappers.example',
    typ: 'at+jwt',
  });
  assert.equal(protectedHeader.typ, 'at+jwt');
  assert.ok(protectedHeader.kid);
  assert.equal(payload.sub, 'gift-deliveries');
  assert.equal(payload.client_id, 'gift-deliveries');
  assert.equal(payload.scope, 'read:directions');
  assert.equal(typeof payload.aud, 'string');
  assert.ok(payload.jti);
});

test('single application: client1 gets a token for itself with client_secret_basic', async () => {
  const config = await client.discovery(
    new URL(issuer), 'client1', undefined,
    client.ClientSecretBasic('demo-client1-secret-not-for-production'), insecure);
  const tokens = await client.clientCredentialsGrant(config);
  const { payload } = await jose.jwtVerify(tokens.access_token, jwks, { issuer, audience: 'client1', typ: 'at+jwt' });
  assert.equal(payload.sub, 'client1');
});

test('impersonation: Client1 as User1 gets Server2', async () => {
  const config = await client.discovery(
    new URL(issuer), 'Client1', undefined,
    client.ClientSecretBasic('demo-Client1-secret-not-for-production'), insecure);
  const tokens = await client.clientCredentialsGrant(config, { scope: 'Server2' });
  const { payload } = await jose.jwtVerify(tokens.access_token, jwks, { issuer, audience: 'Server2', typ: 'at+jwt' });
  assert.equal(payload.sub, 'User1');
  assert.deepEqual(payload.act, { sub: 'Client1' });
});

test('a wrong secret is an OAuth error the client library understands', async () => {
  const config = await client.discovery(
    new URL(issuer), 'gift-deliveries', undefined,
    client.ClientSecretPost('wrong'), insecure);
  // A 401 carries a WWW-Authenticate challenge (RFC 6749 §5.2), which
  // openid-client surfaces as such; the body is still the OAuth error.
  const err = await client.clientCredentialsGrant(config, { audience: 'https://api.worldmappers.example' })
    .then(() => null, (e) => e);
  assert.ok(err, 'a wrong secret must be refused');
  assert.equal(err.status, 401);
  const body = err.error ? { error: err.error } : await err.response.json();
  assert.equal(body.error, 'invalid_client');
});

test('a token from elsewhere does not verify against tollgate\'s JWKS', async () => {
  const { privateKey } = await jose.generateKeyPair('ES256');
  const forged = await new jose.SignJWT({ client_id: 'gift-deliveries' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'forged' })
    .setIssuer(issuer).setAudience('https://api.worldmappers.example').setSubject('gift-deliveries')
    .setIssuedAt().setExpirationTime('5m').sign(privateKey);
  await assert.rejects(jose.jwtVerify(forged, jwks, { issuer, typ: 'at+jwt' }));
});
