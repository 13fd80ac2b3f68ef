// The console's certificate pages: the profile window's menus, master data, rights,
// seal, search/filter/pagination/export, and server validation errors at the field.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from '../lib/harness.js';
import { fillCreateForm } from '../lib/flows.js';

after(H.closeBrowser);

const row = (page, serial) => page.locator(`tr[data-serial="${serial}"]`);
const menuFor = (page, serial) => page.getByRole('button', { name: `Actions for certificate ${serial}` });

async function issuedProfile(base, admin, body) {
  const order = await H.createProfile(base, admin, { issuing: 'email', key_algorithm: 'ecdsa-p256', ...body });
  const mail = await H.lastMail(base, H.CONTACT.email);
  await H.issueViaApi(base, mail.links[0]);
  return order;
}

H.serverTest('renew, send link again, delete a pending order, revoke with a reason, order new — through the menus', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const order = await issuedProfile(srv.base, admin, { name: 'Lifecycle profile' });
  const serial = order.certificate.serial;
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, `#/profiles/${order.profile.id}`);
  await page.getByRole('heading', { level: 1, name: 'Lifecycle profile' }).waitFor();
  await H.checkA11y(page, 'profile window');
  await H.shot(page, 'console-profile');

  // Renew (keyboard: Enter opens the menu, arrows move, Enter selects).
  await menuFor(page, serial).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('menuitem', { name: 'Renew certificate' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Renew certificate');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), `Actions for certificate ${serial}`, 'Escape returns focus to the menu button');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  const renew = page.getByRole('dialog', { name: 'Renew certificate' });
  await renew.waitFor();
  const directRow = renew.locator('dl > div', { hasText: 'Proceed directly to issuance' });
  assert.match(await directRow.textContent(), /No$/);
  await H.checkA11y(page, 'renew dialog');
  await H.shot(page, 'console-renew-dialog', false);
  // Tab stays inside the dialog; Escape closes it and focus returns to the menu button.
  for (let i = 0; i < 6; i += 1) {
    await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(() => !!document.activeElement.closest('dialog')), 'focus is trapped in the dialog');
  }
  await page.keyboard.press('Escape');
  await renew.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), `Actions for certificate ${serial}`);
  await menuFor(page, serial).click();
  await page.getByRole('menuitem', { name: 'Renew certificate' }).click();
  await renew.getByRole('button', { name: 'Renew' }).click();
  await page.getByText(`An email has been sent to ${H.CONTACT.email}.`).first().waitFor();
  await page.locator('tbody tr').nth(1).waitFor();
  const renewal = await page.locator('tbody tr').first().getAttribute('data-serial');
  assert.notEqual(renewal, serial);
  assert.match(await row(page, renewal).textContent(), /Pending/);
  assert.match(await row(page, renewal).textContent(), new RegExp(`renews ${serial}`));

  // Send link again, then delete the pending order.
  await menuFor(page, renewal).click();
  await page.getByRole('menuitem', { name: 'Send link again' }).click();
  await page.getByText(`The link has been sent again to ${H.CONTACT.email}.`).waitFor();
  await menuFor(page, renewal).click();
  await page.getByRole('menuitem', { name: 'Delete certificate' }).click();
  const del = page.getByRole('alertdialog', { name: 'Delete certificate order' });
  await del.waitFor();
  await H.checkA11y(page, 'delete order dialog');
  await del.getByRole('button', { name: 'OK' }).click();
  await row(page, renewal).waitFor({ state: 'detached' });

  // Revoke with a reason; the reason shows in the list.
  await menuFor(page, serial).click();
  await page.getByRole('menuitem', { name: 'Revoke' }).click();
  const rev = page.getByRole('alertdialog', { name: 'Revoke certificate' });
  await rev.waitFor();
  await rev.getByLabel('Reason for revocation').selectOption({ label: 'Key compromise' });
  await H.checkA11y(page, 'revoke dialog');
  await H.shot(page, 'console-revoke-dialog', false);
  await rev.getByRole('button', { name: 'OK' }).click();
  await row(page, serial).getByText('(Key compromise)').waitFor();
  assert.match(await row(page, serial).textContent(), /Revoked/);
  const api = await H.call(srv.base, admin, 'GET', `/v1/certificates/${serial}`);
  assert.equal(api.body.revocation_reason, 'keyCompromise');
  // ...and in the CRL (rebuilt in the background right after the revocation), read by OpenSSL.
  const dir = H.tempDir();
  let crlText = '';
  for (let i = 0; i < 50 && !crlText.toLowerCase().includes(serial); i++) {
    const crl = await fetch(`${srv.base}/public/crl`);
    assert.equal(crl.status, 200);
    H.writeFileSync(H.join(dir, 'crl.der'), Buffer.from(await crl.arrayBuffer()));
    crlText = H.execFileSync('openssl', ['crl', '-inform', 'DER', '-in', H.join(dir, 'crl.der'), '-noout', '-text']).toString();
    if (!crlText.toLowerCase().includes(serial)) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(crlText.toLowerCase().includes(serial), 'the revoked serial is in the CRL');
  assert.match(crlText, /Key Compromise/);

  // Order new certificate.
  await page.getByRole('button', { name: 'Order new certificate' }).click();
  await page.getByText(`An email has been sent to ${H.CONTACT.email}.`).first().waitFor();
  await page.locator('tbody tr').nth(1).waitFor();
  assert.match(await page.locator('tbody tr').first().textContent(), /Pending/);
  page.assertClean();
});

H.serverTest('master data Edit → Update, a stale version offers reload; system rights and seal save automatically', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const org = await H.createProfile(srv.base, admin, { name: 'Editable', key_algorithm: 'ecdsa-p256' });
  const sys = await H.createProfile(srv.base, admin, { name: 'Rights system', type: 'system', key_algorithm: 'ecdsa-p256' });
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, `#/profiles/${org.profile.id}`);
  await page.getByRole('heading', { level: 1, name: 'Editable' }).waitFor();
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel("Contact person's name").fill('Carl Contact');
  await H.checkA11y(page, 'master data edit');
  await page.getByRole('button', { name: 'Update' }).click();
  await page.getByText('The master data has been updated.').waitFor();
  await page.locator('dd', { hasText: 'Carl Contact' }).waitFor();

  // Someone else changes the profile while we edit.
  await page.getByRole('button', { name: 'Edit' }).click();
  const cur = await H.call(srv.base, admin, 'GET', `/v1/profiles/${org.profile.id}`);
  const other = await H.call(srv.base, admin, 'PATCH', `/v1/profiles/${org.profile.id}`, { version: cur.body.profile.version, name: 'Renamed elsewhere' });
  assert.equal(other.status, 200);
  await page.getByLabel('Name of certificate profile').fill('My rename');
  await page.getByRole('button', { name: 'Update' }).click();
  await page.getByText(/Someone else has changed this certificate profile/).waitFor();
  await H.checkA11y(page, 'stale version');
  await H.shot(page, 'console-stale-version', false);
  await page.getByRole('button', { name: 'Reload' }).click();
  await page.locator('dd', { hasText: 'Renamed elsewhere' }).waitFor();

  // Seal generation (organisation certificate), a menu tapped to expand; saved on change.
  await page.getByText('Seal generation', { exact: true }).click();
  await page.getByLabel('Certificate profile may be used to create seal for the organisation').check();
  await page.getByText('Seal generation has been updated.').waitFor();
  assert.equal((await H.call(srv.base, admin, 'GET', `/v1/profiles/${org.profile.id}`)).body.profile.seal_generation, true);

  // System rights (system certificate), saved on change.
  await page.goto(`${srv.base}/#/profiles/${sys.profile.id}`);
  await page.getByRole('heading', { level: 1, name: 'Rights system' }).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Seal generation' }).count(), 0, 'no seal section for system certificates');
  await page.getByText('System Rights', { exact: true }).click();
  await page.getByLabel('Administration API').check();
  await page.getByText('The system rights have been updated.').waitFor();
  const rights = (await H.call(srv.base, admin, 'GET', `/v1/profiles/${sys.profile.id}`)).body.profile.system_rights;
  assert.deepEqual(rights, { administration_api: true, issuance_api: false, local_idp: false });
  page.assertClean();
});

H.serverTest('search, status and type filters, cursor pagination and the CSV export', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  for (let i = 1; i <= 12; i += 1) {
    await H.createProfile(srv.base, admin, { name: `Profile ${String(i).padStart(2, '0')}`, key_algorithm: 'ecdsa-p256' });
  }
  await H.createProfile(srv.base, admin, { name: 'Payroll system', type: 'system', key_algorithm: 'ecdsa-p256' });
  await issuedProfile(srv.base, admin, { name: 'Issued one' });
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN);
  const rows = page.locator('table.profiles tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 10);
  await H.checkA11y(page, 'certificates list');
  await H.shot(page, 'console-certificates');
  const firstPage = await rows.allTextContents();
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByText('Page 2').waitFor();
  assert.equal(await rows.count(), 4);
  assert.equal((await rows.allTextContents()).filter((r) => firstPage.includes(r)).length, 0, 'page 2 has other profiles');
  assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.getByText('Page 1').waitFor();

  await page.getByLabel('Search in certificate profiles').fill('payroll');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll('table.profiles tbody tr').length === 1);
  assert.match(await rows.first().textContent(), /Payroll system/);
  await page.getByLabel('Search in certificate profiles').fill('');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByLabel('Type', { exact: true }).selectOption('system');
  await page.waitForFunction(() => document.querySelectorAll('table.profiles tbody tr').length === 1);
  assert.match(await rows.first().textContent(), /System certificate/);
  await page.getByLabel('Type', { exact: true }).selectOption('');
  await page.getByLabel('Status', { exact: true }).selectOption('issued');
  // The type-filtered list also had one row: wait for the new answer, not just the count.
  await rows.filter({ hasText: 'Issued one' }).waitFor();
  assert.equal(await rows.count(), 1);

  const dl = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export certificate profiles' }).click();
  const d = await dl;
  assert.equal(d.suggestedFilename(), 'certificate-profiles.csv');
  const file = H.join(H.tempDir(), 'export.csv');
  await d.saveAs(file);
  const csv = H.readFileSync(file, 'utf8');
  const lines = csv.trim().split(/\r?\n/);
  assert.equal(lines.length, 1 + 14, csv);
  assert.match(csv, /Profile 07/);
  assert.match(csv, /Payroll system/);
  page.assertClean();
});

H.serverTest('the create form shows mandatory-field errors and the server validation errors at each field', async (srv) => {
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, '#/certificates/new');
  await page.getByRole('heading', { level: 1, name: 'Order certificate profile' }).waitFor();
  await page.getByRole('button', { name: 'Create certificate profile and order certificate' }).click();
  await page.locator('[data-field="name"] .field-error', { hasText: 'This field is mandatory.' }).waitFor();
  assert.equal(await page.getByRole('dialog').count(), 0, 'no confirmation with missing mandatory fields');

  await fillCreateForm(page, { name: 'N'.repeat(70), contact: H.CONTACT.email, certificateEmail: 'søren@demo-org.dk', ean: '1234' });
  await page.getByRole('button', { name: 'Create certificate profile and order certificate' }).click();
  await page.getByRole('dialog', { name: 'Confirm certificate order' }).getByRole('button', { name: 'Confirm order' }).click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  for (const f of ['name', 'certificate_email', 'ean']) {
    const err = page.locator(`[data-field="${f}"] .field-error`);
    await err.waitFor();
    assert.ok((await err.textContent()).length > 3, f);
    assert.equal(await page.locator(`[data-field="${f}"] input`).getAttribute('aria-invalid'), 'true', f);
  }
  await page.getByRole('heading', { name: 'Please correct the following' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.name), 'name', 'focus moves to the first invalid field');
  await H.checkA11y(page, 'create form with errors');
  await H.shot(page, 'console-create-errors');
  assert.equal((await H.call(srv.base, await H.tokenFor(srv.base, H.ADMIN), 'GET', '/v1/profiles')).body.items.length, 0);
  page.assertClean();
});
