// Points of the user's guide (issue 14): one "Notifications" in the top bar (the button
// next to the name; "show all" inside it), a link to the public directory, and a hint
// for a user without an administrator role to contact the user administrator.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from '../lib/harness.js';

after(H.closeBrowser);

H.serverTest('the top bar has one Notifications and a directory link; a plain user is told whom to ask', async (srv) => {
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN);
  const top = page.locator('header, .topbar').first();
  assert.equal(await top.getByRole('link', { name: /Notifications/ }).count(), 0, 'no Notifications menu link');
  assert.equal(await top.getByRole('button', { name: /^Notifications/ }).count(), 1, 'one Notifications button');
  await page.getByRole('button', { name: /^Notifications/ }).click();
  await page.getByRole('link', { name: 'Show all notifications' }).click();
  await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
  await H.checkA11y(page, 'notifications page (admin)');

  await page.getByRole('link', { name: 'Public directory' }).click();
  await page.waitForURL(/\/directory$/);
  await page.getByRole('heading', { level: 1, name: 'Certificate directory' }).waitFor();

  // A user without a role (the certificate holder).
  const holder = await H.newPage();
  await H.openConsole(holder, srv.base, H.CONTACT, '#/');
  await holder.getByText('You have no administrator role in this organisation. To order or manage certificates, contact your user administrator.').waitFor();
  assert.equal(await holder.getByRole('link', { name: 'Public directory' }).count(), 1);
  await H.checkA11y(holder, 'home of a user without a role');
  await holder.getByRole('button', { name: 'Dansk' }).click();
  await holder.getByText('Du har ingen administratorrolle i denne organisation. Kontakt din brugeradministrator for at bestille eller administrere certifikater.').waitFor();
  assert.equal(await holder.getByRole('link', { name: 'Offentligt certifikatkatalog' }).count(), 1);
  await H.checkA11y(holder, 'home of a user without a role (Danish)');
});

H.serverTest('"Edit" sits at the top of Master data, above the list', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const made = await H.createProfile(srv.base, admin, { name: 'Edit placement', key_algorithm: 'ecdsa-p256' });
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, `#/profiles/${made.profile.id}`);
  await page.getByRole('heading', { level: 1, name: 'Edit placement' }).waitFor();
  const section = page.locator('section', { has: page.getByRole('heading', { name: 'Master data' }) });
  const edit = section.getByRole('button', { name: 'Edit' });
  const list = section.locator('dl').first();
  const [eb, lb] = [await edit.boundingBox(), await list.boundingBox()];
  assert.ok(eb && lb && eb.y < lb.y, `Edit (${eb?.y}) above the list (${lb?.y})`);
  await H.checkA11y(page, 'profile window with Edit at the top');
});

H.serverTest('unticking "publish" in Master data takes the issued certificate out of the directory, as the hint says', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const made = await H.createProfile(srv.base, admin, { name: 'Directory follows', issuing: 'direct', key_algorithm: 'ecdsa-p256', publish: true });
  const issued = await H.issueViaApi(srv.base, made.issuance_url);
  const count = async () => (await H.call(srv.base, null, 'GET', `/public/certificates?serial=${issued.serial}`)).body.items.length;
  assert.equal(await count(), 1);
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, `#/profiles/${made.profile.id}`);
  await page.getByRole('heading', { level: 1, name: 'Directory follows' }).waitFor();
  await page.getByRole('button', { name: 'Edit' }).click();
  const box = page.getByRole('checkbox', { name: 'Publish the certificate in the public certificate directory' });
  await page.getByText('This applies to all certificates of the profile, also those already issued: unticking it removes them from the directory at once.').waitFor();
  await H.checkA11y(page, 'master data edit with the publish hint');
  await box.uncheck();
  await page.getByRole('button', { name: 'Update' }).click();
  await page.getByRole('button', { name: 'Edit' }).waitFor();
  assert.equal(await count(), 0, 'out of the directory after unticking');
});

H.serverTest('a one-time-code order shows the contact a notification next to the name that leads to the redeem page', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const made = await H.createProfile(srv.base, admin, { name: 'Code in the app', identification: 'one_time_code', key_algorithm: 'ecdsa-p256' });
  const holder = await H.newPage();
  await H.openConsole(holder, srv.base, H.CONTACT, '');
  const bell = holder.getByRole('button', { name: 'Notifications 1 unread' });
  await bell.click();
  const panel = holder.getByRole('region', { name: 'Notifications' });
  await panel.getByText('Download an organisation certificate').first().waitFor();
  const text = await panel.textContent();
  assert.ok(!text.includes(made.one_time_code), 'no code in the notification');
  await H.checkA11y(holder, 'notification of a one-time-code order');
  // The notification's link leads to the redeem page, where the reference goes.
  await panel.getByRole('link', { name: /^Open/ }).first().click();
  await holder.waitForURL(/\/redeem$/);
});

H.serverTest('after seals are turned off for the organisation, the profile window still offers the seal box to switch it off (no dead end)', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const orgAdmin = await H.tokenFor(srv.base, H.ORG_ADMIN);
  const made = await H.createProfile(srv.base, admin, { name: 'Sealed', key_algorithm: 'ecdsa-p256', seal_generation: true });
  let r = await H.call(srv.base, orgAdmin, 'PATCH', '/v1/organisation/settings', { seal_generation_allowed: false });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await H.call(srv.base, admin, 'POST', `/v1/profiles/${made.profile.id}/certificates`);
  assert.equal(r.status, 422, 'the dead end the box gets the user out of');

  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, `#/profiles/${made.profile.id}`);
  await page.getByRole('heading', { level: 1, name: 'Sealed' }).waitFor();
  await page.getByText('Your organisation no longer allows seal generation, so this profile cannot order or renew certificates while it is on. Switch it off here.').waitFor();
  await H.checkA11y(page, 'profile with a seal the organisation no longer allows');
  const box = page.getByRole('checkbox', { name: 'Certificate profile may be used to create seal for the organisation' });
  assert.equal(await box.isChecked(), true);
  // A click, not uncheck(): switching it off takes the box away (the organisation no longer
  // allows seals), and uncheck() would look for the box again to confirm its state.
  await box.click();
  await box.waitFor({ state: 'detached' });
  await page.getByText('Your organisation does not allow seal generation. An organisation administrator can allow it under Settings.').waitFor();
  r = await H.call(srv.base, admin, 'POST', `/v1/profiles/${made.profile.id}/certificates`);
  assert.equal(r.status, 201, JSON.stringify(r.body));
});

H.serverTest('after Local IdP is turned off for the organisation, the profile window still offers the right to switch it off', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const orgAdmin = await H.tokenFor(srv.base, H.ORG_ADMIN);
  let r = await H.call(srv.base, orgAdmin, 'PATCH', '/v1/organisation/settings', { local_idp_enabled: true });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const made = await H.createProfile(srv.base, admin, { name: 'Local IdP user', key_algorithm: 'ecdsa-p256', system_rights: { local_idp: true } });
  r = await H.call(srv.base, orgAdmin, 'PATCH', '/v1/organisation/settings', { local_idp_enabled: false });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await H.call(srv.base, admin, 'POST', `/v1/profiles/${made.profile.id}/certificates`);
  assert.equal(r.status, 422, 'the dead end');

  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, `#/profiles/${made.profile.id}`);
  await page.getByRole('heading', { level: 1, name: 'Local IdP user' }).waitFor();
  await page.getByText('Your organisation has turned Local IdP off: while this right is on, the profile cannot order or renew certificates. Switch it off here.').waitFor();
  await H.checkA11y(page, 'profile with a Local IdP right the organisation turned off');
  // A click, not uncheck(): the box goes away once the right is off (see the seal test above).
  await page.getByRole('checkbox', { name: 'Local IdP rights' }).click();
  await page.getByRole('checkbox', { name: 'Local IdP rights' }).waitFor({ state: 'detached' });
  r = await H.call(srv.base, admin, 'POST', `/v1/profiles/${made.profile.id}/certificates`);
  assert.equal(r.status, 201, JSON.stringify(r.body));
});

H.serverTest('"Create certificate profile" follows the last profile with up to 8, and sits above the list with 9 or more', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const page = await H.newPage();
  const where = async () => {
    await page.reload();
    await page.locator('table.profiles tbody tr').first().waitFor();
    const link = await page.getByRole('link', { name: 'Create certificate profile' }).boundingBox();
    const table = await page.locator('table.profiles').boundingBox();
    return link.y > table.y + table.height ? 'after' : link.y < table.y ? 'above' : 'inside';
  };
  for (let i = 1; i <= 8; i += 1) {
    await H.createProfile(srv.base, admin, { name: `Placement ${i}`, key_algorithm: 'ecdsa-p256' });
  }
  await H.openConsole(page, srv.base, H.ADMIN);
  assert.equal(await where(), 'after', 'with 8 profiles: after the last one');
  await H.checkA11y(page, 'certificates with 8 profiles');
  await H.createProfile(srv.base, admin, { name: 'Placement 9', key_algorithm: 'ecdsa-p256' });
  assert.equal(await where(), 'above', 'with 9 profiles: above the list');
});

H.serverTest('"System Rights" and "Seal generation" are menus tapped to expand', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const sys = await H.createProfile(srv.base, admin, { name: 'Menus system', type: 'system', key_algorithm: 'ecdsa-p256' });
  const org = await H.createProfile(srv.base, admin, { name: 'Menus org', key_algorithm: 'ecdsa-p256' });
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, `#/profiles/${sys.profile.id}`);
  await page.getByRole('heading', { level: 1, name: 'Menus system' }).waitFor();
  const api = page.getByRole('checkbox', { name: 'Administration API' });
  assert.equal(await api.isVisible(), false, 'collapsed at first');
  await page.getByText('System Rights', { exact: true }).click();
  await api.waitFor();
  await H.checkA11y(page, 'system rights expanded');
  // Saving redraws the window; the menu stays open.
  await api.check();
  await page.getByText('The system rights have been updated.').waitFor();
  assert.equal(await page.getByRole('checkbox', { name: 'Administration API' }).isVisible(), true);

  await page.goto(`${srv.base}/#/profiles/${org.profile.id}`);
  await page.getByRole('heading', { level: 1, name: 'Menus org' }).waitFor();
  const seal = page.getByRole('checkbox', { name: 'Certificate profile may be used to create seal for the organisation' });
  assert.equal(await seal.isVisible(), false, 'collapsed at first');
  await page.getByText('Seal generation', { exact: true }).click();
  await seal.waitFor();
  await H.checkA11y(page, 'seal generation expanded');
});

H.serverTest('one\'s own profile: the name in the top bar leads to Master data with one\'s roles', async (srv) => {
  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN);
  await page.getByRole('link', { name: H.ADMIN.name }).click();
  await page.getByRole('heading', { level: 1, name: 'My profile' }).waitFor();
  await page.getByRole('heading', { name: 'Master data' }).waitFor();
  await page.locator('dd', { hasText: 'User administrator' }).waitFor();
  await page.locator('dd', { hasText: H.ADMIN.email }).waitFor();
  await H.checkA11y(page, 'own profile (admin)');

  const holder = await H.newPage();
  await H.openConsole(holder, srv.base, H.CONTACT, '#/me');
  await holder.getByRole('heading', { level: 1, name: 'My profile' }).waitFor();
  await holder.locator('dd', { hasText: 'No administrator role' }).waitFor();
  await holder.getByRole('button', { name: 'Dansk' }).click();
  await holder.getByRole('heading', { level: 1, name: 'Min profil' }).waitFor();
  await holder.locator('dd', { hasText: 'Ingen administratorrolle' }).waitFor();
  await H.checkA11y(holder, 'own profile without a role (Danish)');
});
