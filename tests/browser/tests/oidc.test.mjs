// OIDC sign-in (the AWS shape's auth mode), against a fake provider in this process: the
// local server serves the pages with ORGCERT_WEB_AUTH=oidc. Its API does not accept the
// provider's tokens, so API calls are answered by playwright's route; what is checked is
// the browser side: the S256 challenge, the state, the code exchange with the verifier,
// where the tokens are kept, the return to the original page, the bearer header, logout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as H from '../lib/harness.js';
import { startFakeIdp } from '../lib/fake-idp.js';

const CLIENT_ID = 'orgcert-console';
const USER = { sub: 'u-1001', email: 'carl.contact@demo-org.dk', name: 'Carl Contact', org: H.DEMO_CVR, roles: [] };
const INFO = {
  name: 'Invoice signing', type: 'organisation', cvr: H.DEMO_CVR, organisation: 'Demo Org A/S',
  certificate_email: null, seal_generation: false, key_algorithm: 'rsa-3072', p12_format: 'modern',
};

let idp;
let srv;
before(async () => {
  idp = await startFakeIdp({ clientId: CLIENT_ID, audience: 'orgcert-api', user: USER });
  srv = await H.startServer({
    env: { ORGCERT_WEB_AUTH: 'oidc', ORGCERT_OIDC_ISSUER: idp.issuer, ORGCERT_OIDC_CLIENT_ID: CLIENT_ID },
  });
  idp.redirectUris.push(`${srv.base}/signin`);
});
after(async () => {
  await H.closeBrowser();
  await srv?.stop();
  await idp?.stop();
});

const storage = (page) => page.evaluate(() => ({
  session: sessionStorage.getItem('orgcert.session'),
  pending: sessionStorage.getItem('orgcert.oidc.pending'),
  local: Object.fromEntries(Object.entries(localStorage)),
  cookie: document.cookie,
}));

test('OIDC mode: the shell names the provider and the CSP lets the pages reach only it', async () => {
  const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    + `connect-src 'self' ${idp.origin}; frame-ancestors 'none'; base-uri 'none'; form-action 'self' ${idp.origin}`;
  for (const path of ['/', '/signin', '/issue/x', '/assets/auth.js']) {
    const r = await fetch(`${srv.base}${path}`);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-security-policy'), csp, path);
  }
  const html = await (await fetch(`${srv.base}/signin`)).text();
  assert.match(html, /<meta name="orgcert-auth" content="oidc">/);
  assert.ok(html.includes(`<meta name="orgcert-oidc-issuer" content="${idp.issuer}">`), html);
  assert.ok(html.includes(`<meta name="orgcert-oidc-client-id" content="${CLIENT_ID}">`), html);
  assert.ok(html.includes('<meta name="orgcert-oidc-scopes" content="openid email profile">'), html);
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
});

test('log in with code + PKCE: S256, state, verifier, sessionStorage only, back to /issue/..., bearer, log out', async () => {
  const page = await H.newPage();
  const apiCalls = [];
  await page.route(`${srv.base}/v1/**`, async (route) => {
    const req = route.request();
    apiCalls.push({ path: new URL(req.url()).pathname, authorization: await req.headerValue('authorization') });
    if (new URL(req.url()).pathname === '/v1/issuance/tok-123') {
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(INFO) });
    } else {
      await route.fulfill({ status: 404, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Not Found', status: 404 }) });
    }
  });

  // A holder opens the mail link: not signed in, so off to the provider (through /signin).
  await page.goto(`${srv.base}/issue/tok-123`);
  await page.waitForURL((u) => u.origin === idp.origin && u.pathname === '/authorize');
  const authz = idp.log.authorize.at(-1);
  assert.equal(authz.response_type, 'code');
  assert.equal(authz.client_id, CLIENT_ID);
  assert.equal(authz.redirect_uri, `${srv.base}/signin`);
  assert.equal(authz.scope, 'openid email profile');
  assert.equal(authz.code_challenge_method, 'S256');
  assert.match(authz.code_challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(authz.state.length >= 20, 'state has at least 128 bits');
  assert.ok(authz.nonce.length >= 20, 'nonce');
  assert.equal(apiCalls.length, 0, 'no API call without a token');

  // One click on the provider's consent page; back on the issuance page, signed in.
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${srv.base}/issue/tok-123`);
  await page.getByRole('heading', { level: 1, name: 'Issue your certificate' }).waitFor();
  await page.getByText('Invoice signing').waitFor();

  // The code went back with the verifier whose S256 hash is the challenge.
  const tok = idp.log.token.at(-1);
  assert.equal(tok.ok, true, tok.error);
  assert.equal(tok.grant_type, 'authorization_code');
  assert.equal(tok.client_id, CLIENT_ID);
  assert.equal(tok.redirect_uri, `${srv.base}/signin`);
  assert.match(tok.code_verifier, /^[A-Za-z0-9._~-]{43,128}$/);
  assert.equal(createHash('sha256').update(tok.code_verifier).digest('base64url'), authz.code_challenge);
  assert.equal(tok.origin, srv.base, 'a CORS request from the pages');
  assert.equal(idp.log.token.length, 1, 'one exchange');

  // Tokens in sessionStorage only; the login in flight is gone; the code is not in the URL.
  const { access_token: access, id_token: idToken } = idp.issued.at(-1);
  const st = await storage(page);
  const kept = JSON.parse(st.session);
  assert.equal(kept.token, access);
  assert.equal(kept.idToken, idToken);
  assert.equal(kept.claims.email, USER.email);
  assert.equal(st.pending, null);
  for (const [k, v] of Object.entries(st.local)) assert.ok(!v.includes(access) && !v.includes(idToken) && !v.includes('eyJ'), `localStorage ${k}`);
  assert.equal(st.cookie, '');
  for (const c of await page.context().cookies()) assert.ok(!c.value.includes('eyJ'), `cookie ${c.name}`);
  assert.equal(new URL(page.url()).search, '');

  // The API request carried exactly that access token.
  const issuance = apiCalls.find((c) => c.path === '/v1/issuance/tok-123');
  assert.ok(issuance, JSON.stringify(apiCalls));
  assert.equal(issuance.authorization, `Bearer ${access}`);
  assert.ok(apiCalls.every((c) => c.authorization === `Bearer ${access}`), JSON.stringify(apiCalls));
  // The name shown comes from the ID token.
  await page.locator('.user-name').getByText(USER.name).waitFor();
  await H.checkA11y(page, 'oidc: issuance page after login');

  // Log out: the tab forgets the tokens, the provider ends its session and sends us back.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${srv.base}/signin`);
  const end = idp.log.endSession.at(-1);
  assert.ok(end, 'end_session_endpoint used');
  assert.equal(end.id_token_hint, idToken);
  assert.equal(end.client_id, CLIENT_ID);
  assert.equal(end.post_logout_redirect_uri, `${srv.base}/signin`);
  await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  const after = await storage(page);
  assert.equal(after.session, null);
  assert.equal(after.pending, null);
  await H.checkA11y(page, 'oidc: logged out');
  await H.shot(page, 'oidc-signin');
  page.assertClean();
});

test('refused answers: a state this tab did not start (code not spent), a provider error (Try again returns to the page), an API that rejects the new token (no loop)', async () => {
  const page = await H.newPage();
  const exchanges = idp.log.token.length;

  // Forged answer: no login in flight in this tab.
  await page.goto(`${srv.base}/signin?code=forged&state=forged`);
  await page.getByRole('alert').getByText(/does not belong to a login started in this window/).waitFor();
  assert.equal(new URL(page.url()).search, '', 'the code leaves the address bar');
  // A login in flight, but an answer with another state.
  await page.goto(`${srv.base}/signin?next=/directory`);
  await page.waitForURL((u) => u.origin === idp.origin);
  await page.goto(`${srv.base}/signin?code=forged&state=${'x'.repeat(22)}`);
  await page.getByRole('alert').getByText(/does not belong to a login started in this window/).waitFor();
  assert.equal(idp.log.token.length, exchanges, 'no code was exchanged');
  assert.equal((await storage(page)).session, null);

  // The provider refuses: its error is shown; "Try again" logs in and returns to /directory.
  await page.goto(`${srv.base}/signin?next=/directory`);
  await page.waitForURL((u) => u.origin === idp.origin);
  const { state } = idp.log.authorize.at(-1);
  await page.goto(`${srv.base}/signin?error=access_denied&error_description=${encodeURIComponent('The user cancelled')}&state=${state}`);
  await page.getByRole('alert').getByText('The login was not completed: The user cancelled').waitFor();
  await H.checkA11y(page, 'oidc: provider error');
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.waitForURL((u) => u.origin === idp.origin && u.pathname === '/authorize');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${srv.base}/directory`);
  assert.equal(idp.log.token.at(-1).ok, true);
  assert.ok(JSON.parse((await storage(page)).session).token);

  // The API refuses the brand-new token (say, a wrong audience): the page asks instead of
  // looping back to the provider.
  await page.route(`${srv.base}/v1/**`, (route) => route.fulfill({
    status: 401, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Unauthorized', status: 401 }),
  }));
  const logins = idp.log.authorize.length;
  await page.goto(`${srv.base}/issue/tok-9`);
  await page.waitForURL(`${srv.base}/signin?next=${encodeURIComponent('/issue/tok-9')}&rejected=1`);
  await page.getByRole('alert').getByText(/did not accept your login/).waitFor();
  await page.getByRole('button', { name: 'Try again' }).waitFor();
  assert.equal(idp.log.authorize.length, logins, 'no automatic login');
  assert.equal((await storage(page)).session, null);
  page.assertClean();
});
