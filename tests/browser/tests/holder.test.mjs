// Holder flows end to end: an administrator orders in the console, the contact issues
// and downloads; OpenSSL opens the file with the password the page showed.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from '../lib/harness.js';
import { fillCreateForm, confirmOrder, holderSteps } from '../lib/flows.js';

after(H.closeBrowser);

H.serverTest('email: order in the console, mail link, contact logs in, terms, password, .p12 opens', async (srv) => {
  const admin = await H.newPage();
  await admin.goto(`${srv.base}/`);
  await admin.waitForURL(/\/signin\?next=/);
  await admin.getByRole('button', { name: /^Log in as Ulla Admin/ }).first().waitFor();
  await H.checkA11y(admin, 'sign-in');
  await H.shot(admin, 'signin');
  await H.signInAs(admin, H.ADMIN);
  await admin.getByRole('heading', { level: 1, name: 'Certificates' }).waitFor();
  await admin.getByRole('link', { name: 'Create certificate profile' }).click();
  await H.checkA11y(admin, 'create form');
  await H.shot(admin, 'console-create');
  await fillCreateForm(admin, { name: 'Invoice signing', contact: H.CONTACT.email, certificateEmail: 'invoices@demo-org.dk' });
  await confirmOrder(admin, { a11y: true, screenshot: 'console-confirm-order' });
  await admin.getByText(`An email has been sent to ${H.CONTACT.email}.`).waitFor();
  await H.checkA11y(admin, 'receipt (email)');
  admin.assertClean();

  const mail = await H.lastMail(srv.base, H.CONTACT.email, 'Download an organisation certificate');
  const link = mail.links[0];
  assert.match(link, /\/issue\//);
  const holder = await H.newPage();
  await H.allowClipboard(holder, srv.base);
  await holder.goto(link);
  await H.signInAs(holder, H.CONTACT);
  assert.equal(new URL(holder.url()).pathname, new URL(link).pathname, 'back on the issuance page after login');
  await holder.getByRole('heading', { level: 1, name: 'Issue your certificate' }).waitFor();
  await holder.getByText('Invoice signing').waitFor();
  await holder.getByText(H.DEMO_CVR).waitFor();
  const dir = H.tempDir();
  const { password, file } = await holderSteps(holder, dir, { a11y: true, shots: true });
  assert.match(H.opensslP12(file, password), /AES-256-CBC/i, 'modern PBES2 / AES-256');
  await H.checkA11y(holder, 'issue: done');
  await H.shot(holder, 'issue-6-done');
  holder.assertClean();
});

H.serverTest('direct: "Issue certificate" on the receipt, log in as the contact, legacy file opens with -legacy', async (srv) => {
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, '#/certificates/new');
  await fillCreateForm(page, { name: 'Direct legacy', contact: H.CONTACT.email, issuing: 'Proceed directly to issuance', keyType: 'ECDSA P-256' });
  await confirmOrder(page);
  await H.checkA11y(page, 'receipt (direct)');
  await page.getByRole('button', { name: 'Issue certificate' }).click();
  await H.signInAs(page, H.CONTACT);
  assert.match(page.url(), /\/issue\//);
  const dir = H.tempDir();
  const { password, file } = await holderSteps(page, dir, { format: 'Legacy' });
  const info = H.opensslP12(file, password, true);
  assert.match(info, /3-KeyTripleDES/i, 'legacy PBE-SHA1-3DES');
  page.assertClean();
});

H.serverTest('direct: the ordering administrator taps "Issue certificate", logs in again and issues (the guide)', async (srv) => {
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, '#/certificates/new');
  await fillCreateForm(page, { name: 'Direct by admin', contact: H.CONTACT.email, issuing: 'Proceed directly to issuance', keyType: 'ECDSA P-256' });
  await confirmOrder(page);
  await page.getByText(/log in again and issue the certificate/).waitFor();
  await page.getByRole('button', { name: 'Issue certificate' }).click();
  await H.signInAs(page, H.ADMIN);
  assert.match(page.url(), /\/issue\//);
  await page.getByRole('heading', { level: 1, name: 'Issue your certificate' }).waitFor();
  await page.getByText('Direct by admin').waitFor();
  const { password, file } = await holderSteps(page, H.tempDir());
  assert.match(H.opensslP12(file, password), /AES-256-CBC/i);
  page.assertClean();
});

H.serverTest('one-time code: the code is shown once with Copy; the contact redeems it (a wrong code shows attempts left)', async (srv) => {
  const admin = await H.newPage();
  await H.allowClipboard(admin, srv.base);
  await H.openConsole(admin, srv.base, H.ADMIN, '#/certificates/new');
  await fillCreateForm(admin, { name: 'Code signing', contact: H.CONTACT.email, identification: 'One-time code' });
  assert.equal(await admin.getByLabel('Issuing method').count(), 0, 'one-time code has a single, fixed issuing method');
  await admin.getByText('Send reference number by email').waitFor();
  await confirmOrder(admin);
  const code = (await admin.locator('.code').textContent()).trim();
  await admin.getByRole('button', { name: 'Copy to clipboard' }).click();
  assert.equal(await admin.evaluate(() => navigator.clipboard.readText()), code);
  await H.checkA11y(admin, 'receipt (one-time code)');
  await H.shot(admin, 'console-receipt-code');
  const mail = await H.lastMail(srv.base, H.CONTACT.email, 'Download an organisation certificate');
  const reference = mail.text.match(/reference number is (\S+)\./)[1];
  assert.ok(!mail.text.includes(code), 'the code is not mailed');

  const holder = await H.newPage();
  await holder.goto(`${srv.base}/redeem`);
  await H.signInAs(holder, H.CONTACT);
  await holder.getByRole('heading', { level: 1, name: 'Issue your certificate' }).waitFor();
  await H.checkA11y(holder, 'redeem');
  await H.shot(holder, 'redeem');
  await holder.getByLabel('Reference number').fill(reference);
  await holder.getByLabel('One-time code').fill('WRONGCODE');
  await holder.getByRole('button', { name: 'Next' }).click();
  await holder.getByLabel('Yes, I accept terms and conditions').check();
  await holder.getByRole('button', { name: 'Next' }).click();
  await holder.getByRole('button', { name: 'Next' }).click();
  const err = holder.locator('[data-field="code"] .field-error');
  await err.waitFor();
  assert.match(await err.textContent(), /4 attempts left/);
  assert.equal(await holder.getByLabel('One-time code').getAttribute('aria-invalid'), 'true');
  await H.checkA11y(holder, 'redeem: wrong code');
  await holder.getByLabel('One-time code').fill(code);
  await holder.getByRole('button', { name: 'Next' }).click();
  const dir = H.tempDir();
  const { password, file } = await holderSteps(holder, dir, { intro: false });
  H.opensslP12(file, password);
  holder.assertClean();
});

H.serverTest('CSR: upload a PEM request, the certificate PEM is shown and downloadable', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const order = await H.createProfile(srv.base, admin, { name: 'CSR system', type: 'system', issuing: 'direct' });
  const dir = H.tempDir();
  const key = H.join(dir, 'key.pem');
  const csr = H.join(dir, 'req.csr');
  H.execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=ignored', '-keyout', key, '-out', csr], { stdio: 'pipe' });
  const page = await H.newPage();
  await page.goto(order.issuance_url);
  await H.signInAs(page, H.CONTACT);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Yes, I accept terms and conditions').check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('I have a certificate signing request').check();
  await page.getByLabel('Or upload the request from a file').setInputFiles(csr);
  await page.waitForFunction(() => document.querySelector('textarea[name="csr"]').value.includes('BEGIN CERTIFICATE REQUEST'));
  await H.checkA11y(page, 'issue: CSR');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your certificate' }).waitFor();
  const pem = await page.getByLabel('Certificate (PEM)').inputValue();
  assert.match(pem, /BEGIN CERTIFICATE/);
  const certFile = H.join(dir, 'cert.pem');
  H.writeFileSync(certFile, pem);
  const certKey = H.execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-pubkey'], { encoding: 'utf8' });
  const reqKey = H.execFileSync('openssl', ['pkey', '-in', key, '-pubout'], { encoding: 'utf8' });
  assert.equal(certKey, reqKey, 'the certificate carries the CSR key');
  const dl = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download certificate', exact: true }).click();
  const d = await dl;
  assert.match(d.suggestedFilename(), /\.pem$/);
  await H.checkA11y(page, 'issue: certificate PEM');
  await H.shot(page, 'issue-csr-pem');
  page.assertClean();
});

H.serverTest('used, replaced and unknown links, a wrong user and a locked code each get their page', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const used = await H.createProfile(srv.base, admin, { name: 'Used link', issuing: 'direct', key_algorithm: 'ecdsa-p256' });
  await H.issueViaApi(srv.base, used.issuance_url);
  const replaced = await H.createProfile(srv.base, admin, { name: 'Replaced link', issuing: 'direct' });
  const again = await H.call(srv.base, admin, 'POST', `/v1/certificates/${replaced.certificate.serial}/issuance-link`);
  assert.equal(again.status, 200);

  const page = await H.newPage();
  await page.goto(used.issuance_url);
  await H.signInAs(page, H.CONTACT);
  await page.getByRole('heading', { level: 1, name: 'This certificate has already been issued' }).waitFor();
  await H.checkA11y(page, 'issue: used link');
  await H.shot(page, 'issue-error-used');

  await page.goto(replaced.issuance_url);
  await page.getByRole('heading', { level: 1, name: 'This link is no longer valid' }).waitFor();
  await page.getByText(/replaced by a newer one/).first().waitFor();
  await H.checkA11y(page, 'issue: replaced link');

  await page.goto(`${srv.base}/issue/not-a-real-token`);
  await page.getByRole('heading', { level: 1, name: 'This link is not valid' }).waitFor();
  await H.checkA11y(page, 'issue: unknown link');

  // Neither the contact nor the administrator who placed the direct order.
  const wrong = await H.newPage();
  await wrong.goto(again.body.issuance_url);
  await H.signInAs(wrong, H.RIGHTS);
  await wrong.getByRole('heading', { level: 1, name: 'This certificate is for someone else' }).waitFor();
  await wrong.getByText(`You are logged in as ${H.RIGHTS.email}`).waitFor();
  await H.checkA11y(wrong, 'issue: wrong user');
  await H.shot(wrong, 'issue-error-wrong-user');
  await wrong.getByRole('button', { name: 'Log in as another user' }).click();
  await H.signInAs(wrong, H.CONTACT);
  await wrong.getByRole('heading', { level: 1, name: 'Issue your certificate' }).waitFor();

  // Four wrong codes through the API, the fifth in the page: locked.
  const otc = await H.createProfile(srv.base, admin, { name: 'Locked code', identification: 'one_time_code' });
  const contact = await H.tokenFor(srv.base, H.CONTACT);
  for (let i = 0; i < 4; i += 1) {
    const r = await H.call(srv.base, contact, 'POST', '/v1/issuance/redeem', { reference: otc.reference, code: 'NOPE', accept_terms: true });
    assert.equal(r.status, 422);
  }
  await page.goto(`${srv.base}/redeem`);
  await page.getByLabel('Reference number').fill(otc.reference);
  await page.getByLabel('One-time code').fill('NOPE');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Yes, I accept terms and conditions').check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { level: 1, name: 'The order is locked' }).waitFor();
  await H.checkA11y(page, 'redeem: locked');
  page.assertClean();
  wrong.assertClean();
});
