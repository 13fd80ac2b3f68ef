// The pages' HTTP headers, the assets, and the two dictionaries (no browser needed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as H from '../lib/harness.js';

const ASSETS = join(H.ROOT, 'shared/web/assets');
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
let srv;
before(async () => { srv = await H.startServer(); });
after(async () => { await srv.stop(); });

test('every page carries the strict CSP, nosniff and no-store; assets have their types', async () => {
  for (const path of ['/', '/signin', '/redeem', '/directory', '/issue/some-token']) {
    const r = await fetch(`${srv.base}${path}`);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-security-policy'), CSP, path);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(r.headers.get('cache-control'), 'no-store', path);
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer', path);
    const html = await r.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `inline script on ${path}`);
    assert.doesNotMatch(html, /style=|<style/, `inline style on ${path}`);
    assert.match(html, /<meta name="orgcert-auth" content="local">/);
  }
  const types = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };
  for (const f of readdirSync(ASSETS).filter((f) => f !== 'index.html')) {
    const r = await fetch(`${srv.base}/assets/${f}`);
    assert.equal(r.status, 200, f);
    const ext = f.split('.').pop();
    if (types[ext]) assert.equal(r.headers.get('content-type'), types[ext], f);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', f);
  }
  assert.equal((await fetch(`${srv.base}/assets/../Cargo.toml`)).status, 404);
  assert.equal((await fetch(`${srv.base}/assets/nope.js`)).status, 404);
  // Answers that carry passwords or tokens are never cached.
  const login = await fetch(`${srv.base}/_local/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ org: H.DEMO_CVR, email: H.CONTACT.email }) });
  assert.equal(login.headers.get('cache-control'), 'no-store');
  const tok = (await login.json()).token;
  const api = await fetch(`${srv.base}/v1/notifications`, { headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(api.headers.get('cache-control'), 'no-store');
});

test('English and Danish have the same keys, and every key the pages use exists', async () => {
  globalThis.localStorage = { getItem: () => null, setItem: () => {} };
  if (!globalThis.navigator) globalThis.navigator = { language: 'en' };
  const { MESSAGES } = await import(join(ASSETS, 'i18n.js'));
  const en = Object.keys(MESSAGES.en).sort();
  const da = Object.keys(MESSAGES.da).sort();
  assert.deepEqual(da.filter((k) => !en.includes(k)), [], 'keys only in Danish');
  assert.deepEqual(en.filter((k) => !da.includes(k)), [], 'keys only in English');
  const used = new Set();
  for (const f of readdirSync(ASSETS).filter((f) => f.endsWith('.js'))) {
    const src = readFileSync(join(ASSETS, f), 'utf8');
    for (const m of src.matchAll(/\bt\(\s*'([^'$]+)'/g)) used.add(m[1]);
    for (const m of src.matchAll(/\['(issue\.[a-z0-9]+Title)', '(issue\.[a-z0-9]+Text)'\]/gi)) { used.add(m[1]); used.add(m[2]); }
  }
  assert.deepEqual([...used].filter((k) => !MESSAGES.en[k]), [], 'keys used but missing');
  for (const k of en) assert.ok(MESSAGES.da[k].trim().length > 0, k);
});
