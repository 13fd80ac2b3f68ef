// A tiny OpenID provider for the OIDC sign-in tests: discovery, JWKS, /authorize with a
// one-click consent page, /token (authorization code + PKCE S256, public client), and
// RP-initiated logout. Tokens are ES256 JWTs carrying orgcert's claims. Every request is
// logged so that tests can check what the pages sent.
import http from 'node:http';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function jwt(privateKey, kid, claims) {
  const head = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid }));
  const body = b64url(JSON.stringify(claims));
  const sig = sign('sha256', Buffer.from(`${head}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${head}.${body}.${b64url(sig)}`;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Starts the provider on 127.0.0.1. `user`: the claims sub/email/name/org/roles;
 * `audience`: the access token's `aud`; `redirectUris`: registered redirect URIs (push
 * more later). Returns `{ issuer, origin, log, issued, redirectUris, stop() }`.
 */
export async function startFakeIdp({ clientId, audience, user, redirectUris = [] }) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const kid = b64url(randomBytes(8));
  const log = { discovery: 0, authorize: [], token: [], endSession: [] };
  const issued = [];
  const codes = new Map();
  const pendingConsent = new Map();
  let issuer = '';

  const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'Content-Type, Accept', 'Access-Control-Allow-Methods': 'GET, POST' };
  const json = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...cors });
    res.end(JSON.stringify(body));
  };
  const text = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(body);
  };
  const redirect = (res, to) => {
    res.writeHead(302, { Location: to, 'Cache-Control': 'no-store' });
    res.end();
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, issuer);
    try {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, cors);
        res.end();
        return;
      }
      if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
        log.discovery += 1;
        json(res, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          end_session_endpoint: `${issuer}/logout`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          grant_types_supported: ['authorization_code'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['none'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
          scopes_supported: ['openid', 'email', 'profile'],
        });
        return;
      }
      if (req.method === 'GET' && url.pathname === '/jwks') {
        json(res, 200, { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] });
        return;
      }
      if (req.method === 'GET' && url.pathname === '/authorize') {
        const q = Object.fromEntries(url.searchParams);
        log.authorize.push(q);
        const problems = [];
        if (q.response_type !== 'code') problems.push('response_type');
        if (q.client_id !== clientId) problems.push('client_id');
        if (!redirectUris.includes(q.redirect_uri)) problems.push('redirect_uri');
        if (q.code_challenge_method !== 'S256') problems.push('code_challenge_method');
        if (!/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge || '')) problems.push('code_challenge');
        if (!q.state) problems.push('state');
        if (problems.length) {
          text(res, 400, `invalid authorization request: ${problems.join(', ')}`);
          return;
        }
        const txn = b64url(randomBytes(12));
        pendingConsent.set(txn, q);
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fake IdP</title></head><body><main>
<h1>Fake IdP</h1><p>${escapeHtml(q.client_id)} asks to sign you in as ${escapeHtml(user.name)} (${escapeHtml(user.email)}).</p>
<form method="post" action="/authorize/approve"><input type="hidden" name="txn" value="${txn}"><button type="submit">Continue</button></form>
</main></body></html>`);
        return;
      }
      if (req.method === 'POST' && url.pathname === '/authorize/approve') {
        const txn = new URLSearchParams(await readBody(req)).get('txn');
        const q = pendingConsent.get(txn);
        pendingConsent.delete(txn);
        if (!q) {
          text(res, 400, 'unknown consent');
          return;
        }
        const code = b64url(randomBytes(24));
        codes.set(code, q);
        const back = new URL(q.redirect_uri);
        back.searchParams.set('code', code);
        back.searchParams.set('state', q.state);
        back.searchParams.set('iss', issuer);
        redirect(res, back.toString());
        return;
      }
      if (req.method === 'POST' && url.pathname === '/token') {
        const p = Object.fromEntries(new URLSearchParams(await readBody(req)));
        const entry = { ...p, origin: req.headers.origin || null, ok: false, error: null };
        log.token.push(entry);
        const q = codes.get(p.code);
        codes.delete(p.code); // one use (RFC 6749 §4.1.2)
        const fail = (error, error_description) => {
          entry.error = error;
          json(res, 400, { error, error_description });
        };
        if (p.grant_type !== 'authorization_code') return fail('unsupported_grant_type', 'grant_type');
        if (!q) return fail('invalid_grant', 'unknown or used code');
        if (p.client_id !== clientId || p.redirect_uri !== q.redirect_uri) return fail('invalid_grant', 'client or redirect_uri');
        if (!/^[A-Za-z0-9._~-]{43,128}$/.test(p.code_verifier || '')) return fail('invalid_grant', 'code_verifier syntax');
        // RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge.
        if (b64url(createHash('sha256').update(p.code_verifier, 'ascii').digest()) !== q.code_challenge) {
          return fail('invalid_grant', 'PKCE verification failed');
        }
        const now = Math.floor(Date.now() / 1000);
        const access = jwt(privateKey, kid, {
          iss: issuer, aud: audience, sub: user.sub, email: user.email, name: user.name, org: user.org, roles: user.roles,
          client_id: clientId, scope: q.scope, iat: now, exp: now + 600,
        });
        const id = jwt(privateKey, kid, {
          iss: issuer, aud: clientId, sub: user.sub, email: user.email, name: user.name, nonce: q.nonce, iat: now, exp: now + 600,
        });
        const out = { access_token: access, id_token: id, token_type: 'Bearer', expires_in: 600, scope: q.scope };
        issued.push(out);
        entry.ok = true;
        json(res, 200, out);
        return undefined;
      }
      if (req.method === 'GET' && url.pathname === '/logout') {
        const q = Object.fromEntries(url.searchParams);
        log.endSession.push(q);
        if (!redirectUris.includes(q.post_logout_redirect_uri)) {
          text(res, 400, 'post_logout_redirect_uri not registered');
          return;
        }
        redirect(res, q.post_logout_redirect_uri);
        return;
      }
      text(res, 404, 'not found');
    } catch (e) {
      text(res, 500, String(e));
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  issuer = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer,
    origin: issuer,
    log,
    issued,
    redirectUris,
    publicKey,
    stop: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(() => ok()); }),
  };
}
