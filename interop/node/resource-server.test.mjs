// Interop: Auth0's express-oauth2-jwt-bearer, unmodified, protects an
// Express API with tollgate's tokens, as docs/howto/protect-an-api.md
// shows. The Go test TestHowtoExpressAcceptsTollgateTokens (docs/) starts
// tollgate on the example configuration and runs this file with
// TOLLGATE_ISSUER set; by hand, against make run:
//   TOLLGATE_ISSUER=http://127.0.0.1:8080 node --test resource-server.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { auth, requiredScopes } from 'express-oauth2-jwt-bearer';

const issuer = process.env.TOLLGATE_ISSUER;
if (!issuer) {
  throw new Error('TOLLGATE_ISSUER is not set: start tollgate and point this test at it');
}

// The API of the how-to: World Mappers, audience https://api.worldmappers.example.
const app = express();
app.use(auth({ issuerBaseURL: issuer, audience: 'https://api.worldmappers.example' }));
app.get('/directions', requiredScopes('read:directions'), (req, res) => {
  res.json({ caller: req.auth.payload.sub });
});
app.get('/geocode', requiredScopes('read:geocode'), (req, res) => {
  res.json({ caller: req.auth.payload.sub });
});
// The middleware's errors carry their status and WWW-Authenticate header.
app.use((err, req, res, next) => res.status(err.status ?? 500).set(err.headers ?? {}).end());

let server;
let api;
before(async () => {
  server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  api = `http://127.0.0.1:${server.address().port}`;
});
after(() => server.close());

async function token(body) {
  const res = await fetch(new URL('/oauth2/token', issuer), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', ...body }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).access_token;
}

const giftDeliveries = {
  client_id: 'gift-deliveries',
  client_secret: 'demo-gift-deliveries-secret-not-for-production',
  audience: 'https://api.worldmappers.example',
};

test('a tollgate token for the API, with the scope the route requires, is accepted', async () => {
  const t = await token({ ...giftDeliveries, scope: 'read:directions' });
  const res = await fetch(`${api}/directions`, { headers: { Authorization: `Bearer ${t}` } });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { caller: 'gift-deliveries' });
});

test('a token without the route\'s scope is 403 insufficient_scope', async () => {
  const t = await token(giftDeliveries);
  const res = await fetch(`${api}/geocode`, { headers: { Authorization: `Bearer ${t}` } });
  assert.equal(res.status, 403);
  assert.match(res.headers.get('www-authenticate'), /insufficient_scope/);
});

test('a tollgate token for another audience is 401', async () => {
  const t = await token({ client_id: 'client1', client_secret: 'demo-client1-secret-not-for-production' });
  const res = await fetch(`${api}/directions`, { headers: { Authorization: `Bearer ${t}` } });
  assert.equal(res.status, 401);
});

test('no token is 401', async () => {
  const res = await fetch(`${api}/directions`);
  assert.equal(res.status, 401);
});
