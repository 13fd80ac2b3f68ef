// The audit page checks the chain of the events it shows in the browser (SHA-256 via
// Web Crypto over RFC 8785 canonical JSON): it shows the head hash — the same the CLI's
// `orgcert audit verify` prints — and "Verified"; a changed event is named instead.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from '../lib/harness.js';

after(H.closeBrowser);

test('the audit page shows the verified head hash; a changed event is named', async () => {
  const srv = await H.startServer();
  try {
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
  } finally {
    await srv.stop();
  }
});
