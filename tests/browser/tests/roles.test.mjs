// Roles and the rest of the console: a rights administrator sees every page with no
// control that changes anything (and the API still refuses a forged request), audit
// paging, notifications, Danish, a 390 px phone, the public directory page.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from '../lib/harness.js';

after(H.closeBrowser);

const MUTATING = /^(Create certificate profile|Edit|Update|Order new certificate|Renew|Revoke|Delete|Send link again|Confirm order|Mark all as read)/;

async function noMutationControls(page, where) {
  const buttons = await page.locator('main button, main a.button').allTextContents();
  const bad = buttons.filter((b) => MUTATING.test(b.trim()));
  assert.deepEqual(bad, [], `mutation controls on ${where}`);
  assert.equal(await page.locator('main input[type="checkbox"], main select:not(#f-status):not(#f-type)').count(), 0, `inputs on ${where}`);
}

H.serverTest('a rights administrator sees every page read-only; a forged request is still 403', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const sys = await H.createProfile(srv.base, admin, { name: 'Read-only system', type: 'system', issuing: 'direct', key_algorithm: 'ecdsa-p256', system_rights: { issuance_api: true } });
  await H.issueViaApi(srv.base, sys.issuance_url);
  await H.call(srv.base, admin, 'POST', `/v1/profiles/${sys.profile.id}/certificates`);
  const org = await H.createProfile(srv.base, admin, { name: 'Read-only org', key_algorithm: 'ecdsa-p256', seal_generation: true });

  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.RIGHTS);
  await page.locator('table.profiles tbody tr').first().waitFor();
  await page.getByRole('button', { name: 'Export certificate profiles' }).waitFor();
  await noMutationControls(page, 'certificates');
  assert.equal(await page.getByRole('link', { name: 'Audit log' }).count(), 0);
  await H.checkA11y(page, 'certificates (rights admin)');

  await page.getByRole('link', { name: 'Read-only system' }).click();
  await page.getByRole('heading', { level: 1, name: 'Read-only system' }).waitFor();
  await page.getByRole('heading', { name: 'System Rights' }).waitFor();
  await noMutationControls(page, 'profile window');
  const menus = page.getByRole('button', { name: /^Actions for certificate/ });
  assert.equal(await menus.count(), 1, 'only the issued certificate has a menu (download)');
  await menus.first().click();
  assert.deepEqual(await page.getByRole('menuitem').allTextContents(), ['Download certificate (PEM)']);
  await page.keyboard.press('Escape');
  await H.checkA11y(page, 'profile window (rights admin)');
  await H.shot(page, 'console-profile-readonly');

  await page.goto(`${srv.base}/#/profiles/${org.profile.id}`);
  await page.getByRole('heading', { level: 1, name: 'Read-only org' }).waitFor();
  await page.getByRole('heading', { name: 'Seal generation' }).waitFor();
  await noMutationControls(page, 'organisation profile');

  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  await page.getByText('Only an organisation administrator can change these settings.').waitFor();
  await noMutationControls(page, 'settings');
  assert.equal(await page.getByRole('switch').count(), 0);
  await H.checkA11y(page, 'settings (read-only)');

  // The API refuses what the page does not offer, even with the user's own token.
  const statuses = await page.evaluate(async (profileId) => {
    const { token } = JSON.parse(sessionStorage.getItem('orgcert.session'));
    const send = (method, path, body) => fetch(path, {
      method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    }).then((r) => r.status);
    return [
      await send('POST', '/v1/profiles', { type: 'organisation', name: 'Forged', contact_email: 'x@demo-org.dk' }),
      await send('PATCH', '/v1/organisation/settings', { nemhandel_enabled: false }),
      await send('POST', `/v1/profiles/${profileId}/certificates`),
      await send('PUT', `/v1/profiles/${profileId}/seal-generation`, { enabled: false }),
    ];
  }, org.profile.id);
  assert.deepEqual(statuses, [403, 403, 403, 403]);
  assert.equal(localStorage_has_no_token(await page.evaluate(() => JSON.stringify(localStorage))), true);
  page.assertClean();
});

function localStorage_has_no_token(dump) {
  return !/eyJ/.test(dump);
}

H.serverTest('audit log pages with its cursor; notifications with unread count lead to issuance', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  for (let i = 1; i <= 13; i += 1) {
    await H.createProfile(srv.base, admin, { name: `Audit ${i}`, key_algorithm: 'ecdsa-p256' });
  }
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, '#/audit');
  const rows = page.locator('table.audit tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 25);
  await page.getByText('Certificate profile created').first().waitFor();
  await H.checkA11y(page, 'audit log');
  await H.shot(page, 'console-audit');
  await page.getByRole('button', { name: 'Show more' }).click();
  await page.waitForFunction(() => document.querySelectorAll('table.audit tbody tr').length > 25);
  const all = await H.call(srv.base, admin, 'GET', '/v1/audit?limit=500');
  assert.equal(await rows.count(), Math.min(all.body.items.length, 50));

  // The contact: 13 "email" orders → 13 unread notifications next to the name.
  const holder = await H.newPage();
  await H.openConsole(holder, srv.base, H.CONTACT, '');
  await holder.getByRole('heading', { level: 1, name: `Welcome, ${H.CONTACT.email}` }).waitFor();
  const bell = holder.getByRole('button', { name: 'Notifications 13 unread' });
  await bell.waitFor();
  await bell.click();
  const panel = holder.getByRole('region', { name: 'Notifications' });
  await panel.waitFor();
  await H.checkA11y(holder, 'notifications');
  await H.shot(holder, 'notifications');
  await panel.getByRole('link', { name: 'Open' }).first().click();
  await holder.waitForURL(/\/issue\//);
  await holder.getByRole('heading', { level: 1, name: 'Issue your certificate' }).waitFor();
  const notes = await H.call(srv.base, await H.tokenFor(srv.base, H.CONTACT), 'GET', '/v1/notifications');
  assert.equal(notes.body.unread, 12, 'opening marks that notification read');
  holder.assertClean();
  page.assertClean();
});

H.serverTest('Danish and English switch every text; a 390 px phone gets the menu button and no sideways scroll', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const order = await H.createProfile(srv.base, admin, { name: 'Phone profile', issuing: 'direct', key_algorithm: 'ecdsa-p256' });
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN);
  await page.getByRole('button', { name: 'Dansk' }).click();
  await page.getByRole('heading', { level: 1, name: 'Certifikater' }).waitFor();
  await page.getByRole('link', { name: 'Opret certifikatprofil' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'da');
  await H.checkA11y(page, 'certificates (Danish)');
  await H.shot(page, 'console-certificates-da');
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Certifikater' }).waitFor();
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('heading', { level: 1, name: 'Certificates' }).waitFor();

  const phone = await H.newPage({ width: 390, height: 844 });
  await H.openConsole(phone, srv.base, H.ADMIN);
  await phone.locator('table.profiles tbody tr').first().waitFor();
  const nav = phone.getByRole('link', { name: 'Settings' });
  assert.equal(await nav.isVisible(), false, 'the menu is folded');
  await phone.getByRole('button', { name: 'Menu' }).click();
  await nav.click();
  await phone.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  await phone.goto(`${srv.base}/#/certificates`);
  await phone.locator('table.profiles tbody tr').first().waitFor();
  assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scroll');
  await H.checkA11y(phone, 'certificates (390 px)');
  await H.shot(phone, 'mobile-certificates');
  await phone.goto(`${srv.base}/#/profiles/${order.profile.id}`);
  await phone.getByRole('heading', { level: 1, name: 'Phone profile' }).waitFor();
  assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scroll');
  await phone.getByRole('button', { name: 'Log out' }).click();
  await phone.goto(order.issuance_url);
  await H.signInAs(phone, H.CONTACT);
  await phone.getByRole('heading', { level: 1, name: 'Issue your certificate' }).waitFor();
  assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= 390), 'no horizontal scroll');
  await H.checkA11y(phone, 'issue (390 px)');
  await H.shot(phone, 'mobile-issue');
  page.assertClean();
  phone.assertClean();
});

H.serverTest('the public directory page works without login', async (srv) => {
  const page = await H.newPage();
  await page.goto(`${srv.base}/directory`);
  await page.getByRole('heading', { level: 1, name: 'Certificate directory' }).waitFor();
  assert.equal(page.url(), `${srv.base}/directory`, 'no sign-in redirect');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText('Enter at least one search criterion.').waitFor();
  await H.checkA11y(page, 'directory');
  await H.shot(page, 'directory');
  page.assertClean();
});

H.serverTest('directory search finds published certificates only, with status, revocation reason and PEM/DER downloads', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const pub = await H.createProfile(srv.base, admin, { name: 'Published seal', issuing: 'direct', publish: true, certificate_email: 'seal@demo-org.dk', key_algorithm: 'ecdsa-p256' });
  const issued = await H.issueViaApi(srv.base, pub.issuance_url);
  const hidden = await H.createProfile(srv.base, admin, { name: 'Not published', issuing: 'direct', key_algorithm: 'ecdsa-p256' });
  await H.issueViaApi(srv.base, hidden.issuance_url);
  const revoked = await H.createProfile(srv.base, admin, { name: 'Published revoked', issuing: 'direct', publish: true, key_algorithm: 'ecdsa-p256' });
  const rev = await H.issueViaApi(srv.base, revoked.issuance_url);
  assert.equal((await H.call(srv.base, admin, 'POST', `/v1/certificates/${rev.serial}/revoke`, { reason: 'superseded' })).status, 200);

  const page = await H.newPage();
  await page.goto(`${srv.base}/directory`);
  await page.getByLabel('CVR number').fill(H.DEMO_CVR);
  await page.getByRole('button', { name: 'Search' }).click();
  const cards = page.locator('.dir-results > li');
  await cards.first().waitFor();
  const names = await page.locator('.dir-results h3').allTextContents();
  assert.deepEqual(names.sort(), ['Published revoked', 'Published seal']);
  const revCard = cards.filter({ hasText: 'Published revoked' });
  assert.match(await revCard.textContent(), /Revoked/);
  assert.match(await revCard.textContent(), /\(Superseded\)/);
  await H.checkA11y(page, 'directory results');
  await H.shot(page, 'directory-results');

  await page.getByLabel('CVR number').fill('');
  await page.getByLabel('Email address').fill('seal@demo-org.dk');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText('1 certificate(s) found.').waitFor();
  const dl = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Download PEM – Published seal' }).click();
  const file = H.join(H.tempDir(), 'seal.pem');
  await (await dl).saveAs(file);
  assert.equal(H.readFileSync(file, 'utf8').trim(), issued.certificate_pem.trim());
  page.assertClean();
});
