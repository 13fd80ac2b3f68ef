// Identification via API in the console (API.md "System certificates: mutual TLS"): the
// receipt and the profile window of an `api` order show the route the IdM calls and a
// curl example; a system profile shows which certificate the system uses and when it
// last renewed itself (POST /v1/certificates/self/renew over real mutual TLS, by curl).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import * as H from '../lib/harness.js';
import { fillCreateForm, confirmOrder } from '../lib/flows.js';

after(H.closeBrowser);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** A P-256 key and a CSR for it (openssl); returns { key, csr } (paths and PEM). */
function keyAndCsr(dir, name) {
  const key = H.join(dir, `${name}.key`);
  const csr = H.join(dir, `${name}.csr`);
  H.execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', csr, '-subj', '/CN=ignored'], { stdio: 'pipe' });
  return { key, csr: H.readFileSync(csr, 'utf8') };
}

/** curl over mutual TLS with a JSON body; returns { status, body }. */
function mtlsPost(url, ca, cert, key, body) {
  const out = H.execFileSync('curl', ['-sS', '--max-time', '60', '--cacert', ca, '--cert', cert, '--key', key,
    '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body), '-w', '\n%{http_code}', url],
  { encoding: 'utf8' });
  const at = out.lastIndexOf('\n');
  return { status: Number(out.slice(at + 1)), body: JSON.parse(out.slice(0, at)) };
}

test('api orders show how the IdM issues; a system profile shows its certificate in use and its last self-renewal', async () => {
  const mport = await freePort();
  const srv = await H.startServer({ env: { ORGCERT_MTLS_ADDR: `127.0.0.1:${mport}`, ORGCERT_CA_KEY_ALGORITHM: 'ecdsa-p256' } });
  try {
    const dir = H.join(srv.dir, 'client');
    H.execFileSync('mkdir', ['-p', dir]);
    const admin = await H.tokenFor(srv.base, H.ADMIN);
    const ca = H.join(dir, 'ca.pem');
    H.writeFileSync(ca, await (await fetch(`${srv.base}/public/ca.pem`)).text());

    // The IdM's system certificate, issued by its contact from a CSR, then renewed by itself.
    const idmOrder = await H.createProfile(srv.base, admin, {
      type: 'system', name: 'IdM', issuing: 'direct', key_algorithm: 'ecdsa-p256',
      system_rights: { administration_api: false, issuance_api: true },
    });
    const first = keyAndCsr(dir, 'idm');
    const issued = await H.issueViaApi(srv.base, idmOrder.issuance_url, { accept_terms: true, csr: first.csr });
    const cert = H.join(dir, 'idm.pem');
    H.writeFileSync(cert, issued.certificate_pem);
    const next = keyAndCsr(dir, 'idm-next');
    const renewed = mtlsPost(`https://127.0.0.1:${mport}/v1/certificates/self/renew`, ca, cert, first.key, { csr: next.csr });
    assert.equal(renewed.status, 201, JSON.stringify(renewed.body));
    assert.notEqual(renewed.body.serial, issued.serial);

    // An `api` order through the console: the receipt shows the route and the example.
    const page = await H.newPage();
    await H.openConsole(page, srv.base, H.ADMIN, '#/certificates/new');
    await fillCreateForm(page, { type: 'system', name: 'Service via IdM', contact: H.CONTACT.email, identification: 'Identification via API' });
    await confirmOrder(page);
    const help = page.locator('section.api-help');
    await help.getByRole('heading', { level: 2, name: 'How your IdM issues this certificate' }).waitFor();
    const serial = await help.getAttribute('data-serial');
    assert.match(serial, /^[0-9a-f]+$/);
    await help.getByText(`POST /v1/certificates/${serial}/issue`).waitFor();
    const example = await help.getByRole('region', { name: 'Example with curl' }).textContent();
    assert.match(example, /curl --cert idm\.pem --key idm\.key --cacert ca\.pem/);
    assert.ok(example.includes(`/v1/certificates/${serial}/issue`), example);
    await H.checkA11y(page, 'receipt of an api order');
    await H.shot(page, 'console-receipt-api');

    // ... and so does its profile window, while the order is pending.
    await page.getByRole('link', { name: 'Go to the certificate profile' }).click();
    await page.getByRole('heading', { level: 1, name: 'Service via IdM' }).waitFor();
    await page.locator(`section.api-help[data-serial="${serial}"]`).getByText(`POST /v1/certificates/${serial}/issue`).waitFor();
    await H.checkA11y(page, 'profile window of an api order');

    // The IdM's profile: the renewed certificate is in use, renewed by itself.
    await page.goto(`${srv.base}/#/profiles/${idmOrder.profile.id}`);
    await page.getByRole('heading', { level: 1, name: 'IdM' }).waitFor();
    const idm = page.locator('section', { has: page.getByRole('heading', { level: 2, name: 'System certificate in use' }) });
    await idm.getByText(renewed.body.serial, { exact: true }).waitFor();
    await idm.getByText(`(renewed ${issued.serial})`).waitFor();
    const inUse = page.locator(`tr[data-serial="${renewed.body.serial}"] .in-use`);
    assert.equal(await inUse.textContent(), 'in use');
    assert.equal(await page.locator(`tr[data-serial="${issued.serial}"] .in-use`).count(), 0);
    assert.equal(await page.locator('section.api-help').count(), 0, 'no pending api order here');
    await H.checkA11y(page, 'system profile with its certificate in use');
    await H.shot(page, 'console-system-identity');

    // Danish.
    await page.getByRole('button', { name: 'Dansk' }).click();
    const idmDa = page.locator('section', { has: page.getByRole('heading', { level: 2, name: 'Systemcertifikat i brug' }) });
    await idmDa.getByText(`(fornyede ${issued.serial})`).waitFor();
    assert.equal(await page.locator(`tr[data-serial="${renewed.body.serial}"] .in-use`).textContent(), 'i brug');
    await H.checkA11y(page, 'system profile (Danish)');
    await page.goto(`${srv.base}/#/certificates`);
    await page.getByRole('heading', { level: 1, name: 'Certifikater' }).waitFor();
    const list = await H.call(srv.base, admin, 'GET', '/v1/profiles?q=Service%20via%20IdM');
    await page.goto(`${srv.base}/#/profiles/${list.body.items[0].id}`);
    const helpDa = page.locator(`section.api-help[data-serial="${serial}"]`);
    await helpDa.getByRole('heading', { level: 2, name: 'Sådan udsteder jeres IdM certifikatet' }).waitFor();
    await helpDa.getByRole('region', { name: 'Eksempel med curl' }).waitFor();
    await H.checkA11y(page, 'profile window of an api order (Danish)');
    await page.getByRole('button', { name: 'English' }).click();
  } finally {
    await srv.stop();
  }
});
