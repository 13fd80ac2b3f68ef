// The dialogs of the profile window (renew, revoke, delete, receipts) and what an order
// tells its caller next (delivery, the API issuance help).
import { t } from './i18n.js';
import {
  h, replace, field, alertBox, announce, withBusy, openDialog, copyText, defList, newId,
} from './dom.js';
import { api, idempotencyKey } from './api.js';
import { localPath } from './layout.js';
import { S, yesNo, typeName, statusName, rightsText, reloadProfile } from './console-core.js';
import * as auth from './auth.js';

// ---------------------------------------------------------------- receipts

/** What happens next with an order (direct link, code, mail, API). */
export function delivery(r, { inDialog = false } = {}) {
  const c = r.certificate;
  const nodes = [defList([
    [t('profile.name'), r.profile ? r.profile.name : c.name],
    [t('profile.type'), typeName(c.type)],
    [t('cert.serial'), c.serial],
    [t('list.statusCol'), statusName(c.status)],
  ])];
  if (r.issuance_url) {
    const contact = r.profile ? r.profile.contact_email : '';
    nodes.push(h('p', null, t('receipt.direct', { contact })));
    nodes.push(h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button', onclick: () => {
      auth.forget();
      location.assign(localPath(r.issuance_url));
    } }, t('receipt.issue'))));
  } else if (r.one_time_code) {
    const codeId = newId('code');
    nodes.push(h('div', { class: 'code-box' },
      h('p', { class: 'code-label', id: codeId }, t('receipt.code')),
      h('p', { class: 'code mono', 'aria-labelledby': codeId }, r.one_time_code),
      h('button', { type: 'button', class: 'button secondary', onclick: () => copyText(r.one_time_code) }, t('common.copy'))));
    nodes.push(defList([[t('redeem.reference'), r.reference]]));
    nodes.push(h('p', { class: 'alert warn' }, t('receipt.codeText', { contact: r.mailed_to, url: `${location.origin}/redeem` })));
  } else if (r.mailed_to) {
    nodes.push(h('p', { class: 'alert ok', role: inDialog ? null : 'status' }, t('receipt.mailed', { contact: r.mailed_to })));
  } else if (r.awaiting === 'api') {
    nodes.push(h('p', null, t('receipt.api')));
    nodes.push(apiIssueHelp(c.serial, inDialog ? 'h3' : 'h2'));
  } else if (r.idempotent_replay) {
    nodes.push(h('p', null, t('receipt.replay')));
  }
  return nodes;
}

// ---------------------------------------------------------------- identification via API

/** How the organisation's IdM issues an `api` order (API.md "System certificates"): the
 *  route and a curl example over mutual TLS. */
export function apiIssueHelp(serial, level = 'h2') {
  const id = newId('api-issue');
  const path = `/v1/certificates/${serial}/issue`;
  const example = [
    "jq -Rs '{csr: .}' request.csr |",
    '  curl --cert idm.pem --key idm.key --cacert ca.pem \\',
    "    -H 'Content-Type: application/json' --data-binary @- \\",
    `    https://MTLS-ADDRESS${path}`,
  ].join('\n');
  return h('section', { class: 'card api-help', 'aria-labelledby': id, 'data-serial': serial },
    h(level, { id }, t('apiIssue.title')),
    h('p', null, t('apiIssue.lead')),
    defList([[t('apiIssue.route'), h('code', { class: 'mono' }, `POST ${path}`)]]),
    h('pre', { class: 'mono code-block', tabindex: '0', role: 'region', 'aria-label': t('apiIssue.example') }, h('code', null, example)),
    h('p', { class: 'hint' }, t('apiIssue.address')),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button secondary', onclick: () => copyText(example) }, t('apiIssue.copy'))));
}

export function receiptDialog(r, title = t('title.receipt')) {
  openDialog({
    title,
    build: (close) => [h('p', null, t('receipt.lead')), delivery(r, { inDialog: true }),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button secondary', onclick: () => close(null) }, t('common.close')))],
  });
}

export async function afterOrder(r, title) {
  await reloadProfile();
  if (r.issuance_url || r.one_time_code || r.awaiting) {
    receiptDialog(r, title);
  } else if (r.mailed_to) {
    announce(t('receipt.mailed', { contact: r.mailed_to }));
  }
}

export function renewDialog(c, p) {
  const key = idempotencyKey();
  openDialog({
    title: t('renew.title'),
    wide: true,
    build: (close, dlg) => {
      const err = h('div', { class: 'error-slot' });
      const ok = h('button', { type: 'button', class: 'button' }, t('renew.ok'));
      ok.addEventListener('click', async () => {
        dlg.dataset.busy = '1';
        try {
          const r = await withBusy(ok, () => api('POST', `/v1/certificates/${c.serial}/renew`, { headers: { 'Idempotency-Key': key } }));
          delete dlg.dataset.busy;
          close('ok');
          await afterOrder(r, t('renew.title'));
        } catch (e) {
          delete dlg.dataset.busy;
          replace(err, alertBox(e.message));
        }
      });
      return [
        h('p', null, t('renew.lead', { serial: c.serial })),
        defList([
          [t('profile.name'), p.name],
          [t('profile.type'), typeName(p.type)],
          [t('org.cvr'), S.org ? S.org.cvr : null],
          [t('profile.contactEmail'), p.contact_email],
          [t('profile.certificateEmail'), p.certificate_email || ''],
          [t('profile.keyAlgorithm'), t(`key.${p.key_algorithm}`)],
          [t('profile.sealGeneration'), p.type === 'organisation' ? yesNo(p.seal_generation) : null],
          [t('rights.title'), rightsText(p.system_rights)],
          [t('create.identification'), t(`ident.${p.identification}`)],
          [t('renew.direct'), yesNo(p.issuing === 'direct')],
        ]),
        err,
        h('div', { class: 'actions' }, ok, h('button', { type: 'button', class: 'button secondary', onclick: () => close(null) }, t('common.cancel'))),
      ];
    },
  });
}

const REASONS = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn'];

export function revokeDialog(c) {
  openDialog({
    title: t('revoke.title'),
    role: 'alertdialog',
    build: (close, dlg) => {
      const err = h('div', { class: 'error-slot' });
      const reason = h('select', { name: 'reason' }, REASONS.map((r) => h('option', { value: r }, t(`reason.${r}`))));
      const ok = h('button', { type: 'button', class: 'button danger' }, t('common.ok'));
      ok.addEventListener('click', async () => {
        dlg.dataset.busy = '1';
        try {
          await withBusy(ok, () => api('POST', `/v1/certificates/${c.serial}/revoke`, { body: { reason: reason.value } }));
          delete dlg.dataset.busy;
          close('ok');
          await reloadProfile();
          announce(t('revoke.done', { serial: c.serial }));
        } catch (e) {
          delete dlg.dataset.busy;
          replace(err, alertBox(e.message));
        }
      });
      return [
        h('p', { class: 'alert warn' }, t('revoke.warning', { serial: c.serial, name: c.name })),
        field({ label: t('revoke.reason'), control: reason }),
        err,
        h('div', { class: 'actions' }, ok, h('button', { type: 'button', class: 'button secondary', onclick: () => close(null) }, t('common.cancel'))),
      ];
    },
  });
}

export function deleteDialog(c) {
  openDialog({
    title: t('delete.title'),
    role: 'alertdialog',
    build: (close, dlg) => {
      const err = h('div', { class: 'error-slot' });
      const ok = h('button', { type: 'button', class: 'button danger' }, t('common.ok'));
      ok.addEventListener('click', async () => {
        dlg.dataset.busy = '1';
        try {
          await withBusy(ok, () => api('DELETE', `/v1/certificates/${c.serial}`));
          delete dlg.dataset.busy;
          close('ok');
          await reloadProfile('#order-new');
          announce(t('delete.done', { serial: c.serial }));
        } catch (e) {
          delete dlg.dataset.busy;
          replace(err, alertBox(e.message));
        }
      });
      return [
        h('p', { class: 'alert warn' }, t('delete.warning', { serial: c.serial })),
        err,
        h('div', { class: 'actions' }, ok, h('button', { type: 'button', class: 'button secondary', onclick: () => close(null) }, t('common.cancel'))),
      ];
    },
  });
}

export async function sendAgain(c) {
  try {
    const r = await api('POST', `/v1/certificates/${c.serial}/issuance-link`);
    r.profile = S.profile.profile;
    await reloadProfile();
    if (r.issuance_url || r.one_time_code) receiptDialog(r, t('cert.sendAgain'));
    else if (r.mailed_to) announce(t('receipt.resent', { contact: r.mailed_to }));
  } catch (e) {
    announce(e.message, 'error');
  }
}
