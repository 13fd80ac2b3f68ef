// Page flows shared by the tests: the create form and the holder's steps.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { checkA11y, shot } from './harness.js';

/** Fills the "Order certificate profile" form. */
export async function fillCreateForm(page, f) {
  await page.getByRole('heading', { level: 1, name: 'Order certificate profile' }).waitFor();
  if (f.type) await page.getByLabel('Types of certificates').selectOption(f.type);
  await page.getByLabel('Name of certificate profile').fill(f.name);
  await page.getByLabel("Contact person's email").fill(f.contact);
  if (f.certificateEmail) await page.getByLabel('Email address in the certificate').fill(f.certificateEmail);
  if (f.ean !== undefined) await page.getByLabel('EAN number').fill(f.ean);
  if (f.identification) await page.getByLabel('Method of identification').selectOption({ label: f.identification });
  if (f.issuing) await page.getByLabel('Issuing method').selectOption({ label: f.issuing });
  if (f.keyType) await page.getByLabel('Key type').selectOption({ label: f.keyType });
  if (f.publish) await page.getByLabel('Publish the certificate in the public certificate directory').check();
}

/** Submits the form, checks and confirms the "Confirm certificate order" dialog, waits for the receipt. */
export async function confirmOrder(page, { a11y = false, screenshot = null } = {}) {
  await page.getByRole('button', { name: 'Create certificate profile and order certificate' }).click();
  const dlg = page.getByRole('dialog', { name: 'Confirm certificate order' });
  await dlg.waitFor();
  if (a11y) await checkA11y(page, 'confirm order dialog');
  if (screenshot) await shot(page, screenshot, false);
  await dlg.getByRole('button', { name: 'Confirm order' }).click();
  await page.getByRole('heading', { level: 1, name: 'Receipt' }).waitFor();
}

/**
 * The holder's steps from "Issue your certificate" to the password page; returns the
 * password and the saved download path.
 */
export async function holderSteps(page, dir, { format = 'Standard (recommended)', a11y = false, shots = false, intro = true } = {}) {
  if (intro) {
    await page.getByRole('heading', { level: 1, name: 'Issue your certificate' }).waitFor();
    if (a11y) await checkA11y(page, 'issue: intro');
    if (shots) await shot(page, 'issue-1-intro');
    await page.getByRole('button', { name: 'Next' }).click();
  }
  await page.getByRole('heading', { level: 1, name: 'Terms & conditions' }).waitFor();
  const next = page.getByRole('button', { name: 'Next' });
  const box = page.getByLabel('Yes, I accept terms and conditions');
  if (!(await box.isChecked())) {
    assert.equal(await next.isDisabled(), true, 'Next is disabled until the terms are accepted');
    await box.check();
  }
  assert.equal(await next.isEnabled(), true);
  if (a11y) await checkA11y(page, 'issue: terms');
  if (shots) await shot(page, 'issue-2-terms');
  await next.click();
  await page.getByRole('heading', { level: 1, name: 'Choose file format' }).waitFor();
  await page.getByLabel(format, { exact: true }).check();
  if (a11y) await checkA11y(page, 'issue: format');
  if (shots) await shot(page, 'issue-3-format');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { level: 1, name: 'Password to your certificate' }).waitFor({ timeout: 60000 });
  const pw = page.getByLabel('Password', { exact: true });
  assert.equal(await pw.getAttribute('type'), 'password', 'the password is masked');
  if (shots) await shot(page, 'issue-4-password');
  await page.getByRole('button', { name: 'Show' }).click();
  assert.equal(await pw.getAttribute('type'), 'text');
  const password = await pw.inputValue();
  assert.ok(password.length >= 16, password);
  if (a11y) await checkA11y(page, 'issue: password');
  const dl = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { level: 1, name: 'Download certificate' }).waitFor();
  const download = await dl;
  const file = join(dir, download.suggestedFilename() || 'certificate.p12');
  assert.match(download.suggestedFilename(), /\.p12$/);
  await download.saveAs(file);
  assert.ok(await page.getByRole('link', { name: 'Download certificate' }).isVisible(), 'fallback button');
  if (a11y) await checkA11y(page, 'issue: download');
  if (shots) await shot(page, 'issue-5-download');
  await page.getByRole('button', { name: 'Close' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your certificate has been issued' }).waitFor();
  assert.ok(!(await page.content()).includes(password), 'the password is gone from the page after Close');
  return { password, file };
}
