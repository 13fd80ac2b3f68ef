// Test harness: a real `orgcert serve` per test (temp data dir, free port), Debian's
// chromium through playwright-core, axe-core checks, screenshots, API helpers.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../../..');
export const BIN = process.env.ORGCERT_BIN || join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'debug/orgcert');
export const ARTIFACTS = join(ROOT, 'tests/artifacts');
export const SHOTS = join(ARTIFACTS, 'screenshots');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const DEMO_CVR = '12345674';
export const ADMIN = { email: 'ulla.admin@demo-org.dk', name: 'Ulla Admin', roles: ['user_admin'] };
export const RIGHTS = { email: 'rikke.rights@demo-org.dk', name: 'Rikke Rights', roles: ['rights_admin'] };
export const ORG_ADMIN = { email: 'ole.org@demo-org.dk', name: 'Ole Org', roles: ['org_admin'] };
export const CONTACT = { email: 'carl.contact@demo-org.dk', name: '', roles: [] };

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** Runs the orgcert CLI on a data dir. */
export function cli(dir, ...args) {
  return execFileSync(BIN, [...args, '--data-dir', dir], { encoding: 'utf8', env: { ...process.env, ORGCERT_PKI_URL: 'http://pki.example.dk' } });
}

/** Starts `orgcert serve` on a temp data dir and a free port; `env` adds variables. */
export async function startServer({ env = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'orgcert-browser-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = spawn(BIN, ['serve', '--data-dir', data, '--addr', `127.0.0.1:${port}`], {
    env: { ...process.env, ORGCERT_PKI_URL: 'http://pki.example.dk', ORGCERT_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const deadline = Date.now() + 30000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`orgcert exited early:\n${log}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`orgcert did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    data,
    dir,
    log: () => log,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A test on its own server: `body(srv)` runs against a fresh `startServer()`, which is
 * stopped (and its data dir removed) whether the body passes or throws.
 */
export function serverTest(name, body) {
  return test(name, async () => {
    const srv = await startServer();
    try {
      await body(srv);
    } finally {
      await srv.stop();
    }
  });
}

let browser = null;
/** One headless Debian chromium per test file. */
export async function getBrowser() {
  if (!browser) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }
  return browser;
}

export async function closeBrowser() {
  if (browser) await browser.close();
  browser = null;
}

/**
 * A fresh browser context + page. Fails the test on CSP violations, page errors and
 * failed same-origin requests for assets.
 */
export async function newPage({ width = 1280, height = 900, locale = 'en-GB' } = {}) {
  const b = await getBrowser();
  const ctx = await b.newContext({ viewport: { width, height }, locale, acceptDownloads: true });
  const page = await ctx.newPage();
  const problems = [];
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
    if (m.type() === 'warning' && /i18n: missing/.test(text)) problems.push(text);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.problems = problems;
  page.assertClean = () => assert.deepEqual(problems, [], problems.join('\n'));
  return page;
}

/** Grants clipboard access (for "Copy to clipboard"). */
export async function allowClipboard(page, base) {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
}

const axeLog = [];
/** axe-core on the current page: no serious or critical violation. */
export async function checkA11y(page, name) {
  const res = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  axeLog.push({ page: name, url: page.url(), violations: res.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })), passes: res.passes.length });
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, `axe-${process.pid}.json`), JSON.stringify(axeLog, null, 2));
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe on ${name}`);
  return res;
}

/** Saves a screenshot under tests/artifacts/screenshots. */
export async function shot(page, name, fullPage = true) {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage });
  return path;
}

/** A token from the local sign-in route. */
export async function tokenFor(base, user, org = DEMO_CVR) {
  const r = await fetch(`${base}/_local/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ org, email: user.email, name: user.name || '', roles: user.roles || [] }),
  });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text).token;
}

/** Calls the API; returns { status, body }. */
export async function call(base, token, method, path, body) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: r.status, body: json, headers: r.headers };
}

/** Creates a profile through the API (user admin); returns the 201 body. */
export async function createProfile(base, token, body) {
  const r = await call(base, token, 'POST', '/v1/profiles', { type: 'organisation', contact_email: CONTACT.email, ...body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

/** Issues through the API as the contact; returns the 201 body. */
export async function issueViaApi(base, url, body = { accept_terms: true, p12_format: 'modern' }) {
  const tok = await tokenFor(base, CONTACT);
  const token = url.split('/issue/')[1];
  const r = await call(base, tok, 'POST', `/v1/issuance/${token}`, body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

/** The newest mail to `to` with `subject`. */
export async function lastMail(base, to, subject) {
  const r = await call(base, null, 'GET', '/_local/outbox');
  const mails = r.body.filter((m) => m.to === to && (!subject || m.subject === subject));
  assert.ok(mails.length, `no mail to ${to} (${subject})`);
  return mails[mails.length - 1];
}

/** Signs in through the local sign-in page by clicking the user's entry. */
export async function signInAs(page, user, { orgName } = {}) {
  await page.waitForURL(/\/signin/);
  await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
  const scope = orgName ? page.locator('section', { has: page.getByRole('heading', { name: new RegExp(orgName) }) }) : page;
  const label = user.name || user.email;
  await scope.getByRole('button', { name: new RegExp(`^Log in as ${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `) }).first().click();
  await page.waitForURL((u) => !u.pathname.startsWith('/signin'));
}

/** Opens a console page signed in as `user`. */
export async function openConsole(page, base, user, hash = '#/certificates', opts) {
  await page.goto(`${base}/signin?next=${encodeURIComponent(`/${hash}`)}`);
  await signInAs(page, user, opts);
  await page.locator('main h1').first().waitFor();
}

/** Checks a PKCS#12 file with OpenSSL and the password; returns `-info` text (algorithms). */
export function opensslP12(file, password, legacy = false) {
  const args = ['pkcs12', '-in', file, '-passin', `pass:${password}`, '-noout'];
  if (legacy) args.push('-legacy');
  execFileSync('openssl', args, { stdio: 'pipe' });
  // `-info` writes the algorithms to stderr.
  const info = spawnSync('openssl', ['pkcs12', '-in', file, '-passin', `pass:${password}`, '-info', '-noout', ...(legacy ? ['-legacy'] : [])], { encoding: 'utf8' });
  return `${info.stdout}${info.stderr}`;
}

/** A temp dir for downloads and keys. */
export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'orgcert-files-'));
}

export { readFileSync, existsSync, writeFileSync, join, execFileSync };
