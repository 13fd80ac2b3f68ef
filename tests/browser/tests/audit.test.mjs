// The audit page checks the chain of the events it shows in the browser (SHA-256 via
// Web Crypto over RFC 8785 canonical JSON): it shows the head hash — the same the CLI's
// `orgcert audit verify` prints — and "Verified"; a changed event is named instead.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from '../lib/harness.js';

after(H.closeBrowser);

H.serverTest('the audit page shows the verified head hash; a changed event is named', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  for (let i = 1; i <= 3; i += 1) {
    await H.createProfile(srv.base, admin, { name: `Chain ${i}`, key_algorithm: 'ecdsa-p256' });
  }
  const exp = await fetch(`${srv.base}/v1/audit/export`, { headers: { Authorization: `Bearer ${admin}` } });
  assert.equal(exp.status, 200);
  const lines = (await exp.text()).trim().split('\n').map((l) => JSON.parse(l));
  const head = lines[lines.length - 1].hash;
  const cliOut = H.cli(srv.data, 'audit', 'verify', '--org', H.DEMO_CVR);
  assert.match(cliOut, new RegExp(`hash ${head}`));

  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, '#/audit');
  await page.locator('#audit-chain').waitFor();
  await page.getByText(/^Verified: the \d+ chained events shown were checked in this browser\.$/).waitFor();
  assert.equal((await page.locator('#audit-head').textContent()).trim(), head);
  await H.checkA11y(page, 'audit log with chain status');
  await H.shot(page, 'console-audit-chain');

  // Danish.
  await page.getByRole('button', { name: 'Dansk' }).click();
  await page.getByText(/^Verificeret: de \d+ kædede hændelser/).waitFor();
  await H.checkA11y(page, 'audit log with chain status (Danish)');
  await page.getByRole('button', { name: 'English' }).click();

  // The same page with one event's actor changed in transit: the browser names it.
  const victim = lines[lines.length - 2];
  const tampered = await H.newPage();
  await tampered.route('**/v1/audit?*', async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    for (const e of body.items) if (e.id === victim.id) e.actor = 'mallory@example.dk';
    await route.fulfill({ response: res, json: body });
  });
  await H.openConsole(tampered, srv.base, H.ADMIN, '#/audit');
  const alert = tampered.getByRole('alert');
  await alert.waitFor();
  const text = await alert.textContent();
  assert.ok(text.includes(victim.id) && text.includes(`seq ${victim.seq}`), text);
  assert.equal(await tampered.locator('#audit-head').count(), 0);
  await H.checkA11y(tampered, 'audit log with a broken chain');
});

H.serverTest('the audit log names every action in words (no raw action codes), in English and Danish', async (srv) => {
  const admin = await H.tokenFor(srv.base, H.ADMIN);
  const orgAdmin = await H.tokenFor(srv.base, H.ORG_ADMIN);
  const sys = await H.createProfile(srv.base, admin, { name: 'Words system', type: 'system', issuing: 'direct', key_algorithm: 'ecdsa-p256' });
  const issued = await H.issueViaApi(srv.base, sys.issuance_url);
  let r = await H.call(srv.base, admin, 'PUT', `/v1/profiles/${sys.profile.id}/system-rights`, { issuance_api: true });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const org = await H.createProfile(srv.base, admin, { name: 'Words org', key_algorithm: 'ecdsa-p256' });
  r = await H.call(srv.base, admin, 'PUT', `/v1/profiles/${org.profile.id}/seal-generation`, { enabled: true });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await H.call(srv.base, orgAdmin, 'PATCH', '/v1/organisation/settings', { nemhandel_enabled: true });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // A renewal reminder: run the job as of five days before the certificate expires.
  const cert = await H.call(srv.base, admin, 'GET', `/v1/certificates/${issued.serial}`);
  const notAfter = new Date(cert.body.not_after ?? cert.body.certificate?.not_after);
  assert.ok(!Number.isNaN(notAfter.getTime()), JSON.stringify(cert.body));
  H.cli(srv.data, 'job', 'run', 'renewal-reminders', '--now', new Date(notAfter.getTime() - 5 * 86400000).toISOString());
  // The reminder is also a lifecycle event with its threshold.
  const events = await H.call(srv.base, admin, 'GET', '/v1/events?limit=500');
  const expiring = events.body.items.filter((e) => e.type === 'certificate.expiring');
  assert.equal(expiring.length, 1, JSON.stringify(events.body.items.map((e) => e.type)));
  assert.equal(expiring[0].detail.threshold_days, 7);

  const page = await H.newPage();
  await H.openConsole(page, srv.base, H.ADMIN, '#/audit');
  await page.locator('table.audit tbody tr').first().waitFor();
  const raw = /^[a-z_]+(\.[a-z_]+)+$/;
  for (const lang of ['en', 'da']) {
    if (lang === 'da') {
      await page.getByRole('button', { name: 'Dansk' }).click();
      await page.getByRole('heading', { level: 1, name: 'Revisionslog' }).waitFor();
    }
    const actions = (await page.locator('table.audit tbody td[data-label]:nth-child(3)').allTextContents()).map((x) => x.trim());
    assert.ok(actions.length >= 10, actions.join(' | '));
    assert.deepEqual(actions.filter((a) => raw.test(a)), [], `raw action codes (${lang})`);
    const want = lang === 'en'
      ? ['Organisation created', 'System rights changed', 'Seal generation changed', 'Settings changed', 'Renewal reminder sent']
      : ['Organisation oprettet', 'Systemrettigheder ændret', 'Seglgenerering ændret', 'Indstillinger ændret', 'Påmindelse om fornyelse sendt'];
    for (const w of want) assert.ok(actions.includes(w), `${w} in ${actions.join(' | ')}`);
  }
  await H.checkA11y(page, 'audit log in words (Danish)');
});
