// Interop: a real, unmodified non-Go client and resource server against a
// running tollgate. The Go test TestNodeInterop (engine/serve) starts the
// server and runs this file with TOLLGATE_ISSUER set; run by hand with
//   TOLLGATE_ISSUER=http://127.0.0.1:8080 node --test
// (the private_key_jwt test then skips: its client and key exist only in
// the configuration the Go test serves).
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

// openid-client's default, given a secret and no method, is
// client_secret_post; client1 declares no auth_method, so tollgate takes
// the secret in the body as well as in the header.
test("openid-client's default method: client1, which declares none, gets a token", async () => {
  const config = await client.discovery(
    new URL(issuer), 'client1', 'demo-client1-secret-not-for-production', undefined, insecure);
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

// batch-job is a private_key_jwt client the Go test adds to the example
// configuration; it passes the client's private key (a JWK) here.
const batchJobKey = process.env.TOLLGATE_BATCH_JOB_KEY;

test('private_key_jwt: batch-job authenticates with an assertion signed by its key', {
  skip: batchJobKey ? false : 'TOLLGATE_BATCH_JOB_KEY is not set (TestNodeInterop sets it)',
}, async () => {
  const key = await jose.importJWK(JSON.parse(batchJobKey), 'ES256');
  const config = await client.discovery(
    new URL(issuer), 'batch-job', undefined, client.PrivateKeyJwt(key), insecure);
  assert.ok(config.serverMetadata().token_endpoint_auth_methods_supported.includes('private_key_jwt'));
  assert.ok(config.serverMetadata().token_endpoint_auth_signing_alg_values_supported.includes('ES256'));

  for (let i = 0; i < 2; i++) { // each request signs a new assertion (new jti)
    const tokens = await client.clientCredentialsGrant(config, { audience: 'https://api.worldmappers.example' });
    const { payload } = await jose.jwtVerify(tokens.access_token, jwks, {
      issuer, audience: 'https://api.worldmappers.example', typ: 'at+jwt',
    });
    assert.equal(payload.sub, 'batch-job');
    assert.equal(payload.scope, 'read:directions');
  }

  const { privateKey: stranger } = await jose.generateKeyPair('ES256');
  const forged = await client.discovery(
    new URL(issuer), 'batch-job', undefined, client.PrivateKeyJwt(stranger), insecure);
  const err = await client.clientCredentialsGrant(forged, { audience: 'https://api.worldmappers.example' })
    .then(() => null, (e) => e);
  assert.ok(err, 'an assertion signed by another key must be refused');
  assert.equal(err.status, 401);
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
