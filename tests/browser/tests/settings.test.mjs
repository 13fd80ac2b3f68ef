// The create form follows the organisation: P/SE selects only with several numbers, EAN
// only with NemHandel, seal only when allowed, Local IdP only when activated; the org
// administrator switches them in Settings.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from '../lib/harness.js';

after(H.closeBrowser);

const SMALL = '25313763';

async function formFields(page) {
  await page.getByRole('heading', { level: 1, name: 'Order certificate profile' }).waitFor();
  await page.getByLabel('Name of certificate profile').waitFor();
  const has = async (label) => (await page.getByLabel(new RegExp(`^${label}`)).count()) > 0;
  return {
    p: await has('P number'),
    se: await has('SE number'),
    ean: await has('EAN number'),
    seal: await has('Certificate may be used to create seal for the organisation'),
    localIdp: await has('Local IdP rights'),
  };
}

H.serverTest('conditional fields: several vs one P/SE number, NemHandel, seals and Local IdP switched in Settings', async (srv) => {
  H.cli(srv.data, 'org', 'add', '--cvr', SMALL, '--name', 'Small ApS', '--p-number', '1000000009');
  const page = await H.newPage();

  // Demo organisation: two P and two SE numbers, NemHandel on, seals allowed.
  await H.openConsole(page, srv.base, H.ADMIN, '#/certificates/new', { orgName: 'Demo Organisation' });
  assert.deepEqual(await formFields(page), { p: true, se: true, ean: true, seal: true, localIdp: false });
  const pOptions = await page.getByLabel(/^P number/).locator('option').allTextContents();
  assert.deepEqual(pOptions.slice(1), ['1000000001', '1000000002']);
  // System certificates: API services instead of seal.
  await page.getByLabel('Types of certificates').selectOption('system');
  assert.equal(await page.getByLabel('Certificate may be used to create seal for the organisation').count(), 0);
  await page.getByLabel('Administration API').waitFor();
  await page.getByLabel('Issuance API').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-type', 'focus stays on the changed control');
  // Identification via API: the issuing method is fixed.
  await page.getByLabel('Method of identification').selectOption({ label: 'Identification via API' });
  assert.equal(await page.getByLabel('Issuing method').count(), 0);
  await page.getByText('Issuing via API').waitFor();
  await page.getByText('cannot be changed').waitFor();
  await page.getByLabel('Method of identification').selectOption({ label: 'User login' });
  const issuing = await page.getByLabel('Issuing method').locator('option').allTextContents();
  assert.deepEqual(issuing.sort(), ['Proceed directly to issuance', 'Send email with link']);

  // Small ApS: one P number, no SE, NemHandel off, seals not allowed.
  await page.getByRole('button', { name: 'Log out' }).click();
  await H.openConsole(page, srv.base, H.ADMIN, '#/certificates/new', { orgName: 'Small ApS' });
  assert.deepEqual(await formFields(page), { p: false, se: false, ean: false, seal: false, localIdp: false });

  // The organisation administrator switches NemHandel, seals and Local IdP on.
  await page.getByRole('button', { name: 'Log out' }).click();
  await H.openConsole(page, srv.base, H.ORG_ADMIN, '#/settings', { orgName: 'Small ApS' });
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Certificates' }).count(), 0, 'an org admin has no certificate list');
  assert.equal(await page.getByRole('switch').count(), 4);
  await H.checkA11y(page, 'settings (org admin)');
  await H.shot(page, 'console-settings');
  for (const name of ['NemHandel (EAN)', 'Seal generation', 'Local IdP']) {
    await page.getByRole('switch', { name }).check();
    await page.getByText('The settings have been saved.').first().waitFor();
  }
  const org = await H.call(srv.base, await H.tokenFor(srv.base, H.ORG_ADMIN, SMALL), 'GET', '/v1/organisation');
  assert.deepEqual(org.body.settings, { organisation_certificates_enabled: true, seal_generation_allowed: true, local_idp_enabled: true, nemhandel_enabled: true });

  await page.getByRole('button', { name: 'Log out' }).click();
  await H.openConsole(page, srv.base, H.ADMIN, '#/certificates/new', { orgName: 'Small ApS' });
  assert.deepEqual(await formFields(page), { p: false, se: false, ean: true, seal: true, localIdp: true });
  await H.checkA11y(page, 'create form (all options)');

  // Switch seals off again: the seal box disappears.
  await page.getByRole('button', { name: 'Log out' }).click();
  await H.openConsole(page, srv.base, H.ORG_ADMIN, '#/settings', { orgName: 'Small ApS' });
  await page.getByRole('switch', { name: 'Seal generation' }).uncheck();
  await page.getByText('The settings have been saved.').first().waitFor();
  await page.getByRole('button', { name: 'Log out' }).click();
  await H.openConsole(page, srv.base, H.ADMIN, '#/certificates/new', { orgName: 'Small ApS' });
  assert.equal((await formFields(page)).seal, false);
  page.assertClean();
});
