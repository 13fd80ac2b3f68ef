// The profile window: master data and its edit form, system rights, seal generation,
// the system's identity and the certificates with their actions.
import { t } from './i18n.js';
import {
  h, field, checkbox, alertBox, announce, withBusy, menuButton, showFieldErrors, clearFieldErrors, saveBlob, fmtTime, defList,
} from './dom.js';
import { api, idempotencyKey } from './api.js';
import {
  S, isUserAdmin, yesNo, typeName, statusBadge, issuingName, VIEWS, LOADERS, draw, ensureOrg, reloadProfile,
} from './console-core.js';
import {
  apiIssueHelp, afterOrder, renewDialog, revokeDialog, deleteDialog, sendAgain,
} from './console-dialogs.js';

const byIssuedDesc = (a, b) => (b.issued_at || '').localeCompare(a.issued_at || '')
  || (b.renewal_of === a.serial ? 1 : 0) - (a.renewal_of === b.serial ? 1 : 0);

/** The certificate a system uses now: the newest issued one. */
function currentSystemCert(certs) {
  return certs.filter((c) => c.status === 'issued').sort(byIssuedDesc)[0] || null;
}

/** A system profile's identity: which certificate the system uses and when it last
 *  renewed itself (a successor ordered by its predecessor, `system:<serial>`). */
function systemIdentity(p, certs) {
  if (p.type !== 'system') return null;
  const id = 'sec-idm';
  const current = currentSystemCert(certs);
  const renewed = certs
    .filter((c) => c.issued_at && c.renewal_of && c.ordered_by === `system:${c.renewal_of}`)
    .sort(byIssuedDesc)[0];
  return h('section', { class: 'card', 'aria-labelledby': id },
    h('h2', { id }, t('idm.title')),
    defList([
      [t('idm.current'), current ? h('span', { class: 'mono' }, current.serial) : t('idm.none')],
      [t('idm.validTo'), current ? fmtTime(current.not_after, false) : null],
      [t('idm.lastRenewal'), renewed ? t('idm.renewedAt', { when: fmtTime(renewed.issued_at), serial: renewed.renewal_of }) : t('idm.never')],
    ]),
    h('p', { class: 'hint' }, t('idm.hint')));
}

LOADERS.profile = async (r) => {
  await ensureOrg();
  S.profile = await api('GET', `/v1/profiles/${encodeURIComponent(r.id)}`);
};

function masterData(p, org) {
  const sectionId = 'sec-master';
  const rows = [
    [t('profile.name'), p.name],
    [t('profile.type'), typeName(p.type)],
    [t('profile.contactEmail'), p.contact_email],
    [t('profile.contactName'), p.contact_name || ''],
    [t('profile.certificateEmail'), p.certificate_email || ''],
    [t('profile.pNumber'), org.p_numbers.length > 1 || p.p_number ? p.p_number || '' : null],
    [t('profile.seNumber'), org.se_numbers.length > 1 || p.se_number ? p.se_number || '' : null],
    [t('profile.ean'), org.settings.nemhandel_enabled || p.ean ? p.ean || '' : null],
    [t('create.identification'), t(`ident.${p.identification}`)],
    [t('create.issuing'), issuingName(p.identification, p.issuing)],
    [t('profile.keyAlgorithm'), t(`key.${p.key_algorithm}`)],
    [t('profile.p12Format'), t(`p12.${p.p12_format}`)],
    [t('create.publishing'), yesNo(p.publish)],
    [t('profile.id'), h('span', { class: 'mono' }, p.id)],
  ];
  let body;
  if (S.editing) {
    body = editForm(p, org);
  } else {
    // "Edit" at the top of Master data, where the guide places it (not below the list).
    body = [
      isUserAdmin() ? h('div', { class: 'actions actions-top' }, h('button', { type: 'button', class: 'button secondary', id: 'edit-master',
        onclick: () => { S.editing = { ...p }; S.stale = false; draw(false); document.getElementById('m-name')?.focus(); } }, t('profile.edit'))) : null,
      defList(rows)];
  }
  return h('section', { class: 'card', 'aria-labelledby': sectionId },
    h('h2', { id: sectionId }, t('profile.masterData')), body);
}

function editForm(p, org) {
  const e = S.editing;
  const bind = (k) => (ev) => { e[k] = ev.target.type === 'checkbox' ? ev.target.checked : ev.target.value; };
  const input = (k, type = 'text') => h('input', { id: `m-${k}`, name: k, type, value: e[k] || '', oninput: bind(k), autocomplete: 'off' });
  const select = (k, list) => {
    const s = h('select', { id: `m-${k}`, name: k, onchange: bind(k) }, [['', t('create.none')], ...list.map((x) => [x, x])].map(([v, l]) => h('option', { value: v }, l)));
    s.value = e[k] || '';
    return s;
  };
  const optional = t('common.optional');
  const staleBox = S.stale ? alertBox(t('profile.stale'), 'error',
    h('button', { type: 'button', class: 'button secondary', onclick: () => { S.editing = null; S.stale = false; reloadProfile('#edit-master'); } }, t('profile.reload'))) : null;
  // The directory follows this flag for every certificate of the profile (say so).
  const pub = checkbox({ label: t('create.publish'), name: 'publish', checked: !!e.publish, onchange: bind('publish'), hint: t('profile.publishAll') });
  const update = h('button', { type: 'submit', class: 'button' }, t('profile.update'));
  const form = h('form', { class: 'form', novalidate: true },
    staleBox,
    field({ label: t('profile.name'), control: input('name'), name: 'name', required: true }),
    field({ label: t('profile.contactEmail'), control: input('contact_email', 'email'), name: 'contact_email', required: true }),
    field({ label: t('profile.contactName'), control: input('contact_name'), name: 'contact_name', optionalText: optional }),
    field({ label: t('profile.certificateEmail'), control: input('certificate_email', 'email'), name: 'certificate_email', optionalText: optional }),
    org.p_numbers.length > 1 ? field({ label: t('profile.pNumber'), control: select('p_number', org.p_numbers), name: 'p_number', optionalText: optional }) : null,
    org.se_numbers.length > 1 ? field({ label: t('profile.seNumber'), control: select('se_number', org.se_numbers), name: 'se_number', optionalText: optional }) : null,
    org.settings.nemhandel_enabled ? field({ label: t('profile.ean'), control: input('ean'), name: 'ean', optionalText: optional }) : null,
    pub,
    h('div', { class: 'actions' }, update,
      h('button', { type: 'button', class: 'button secondary', onclick: () => { S.editing = null; S.stale = false; draw(false); document.getElementById('edit-master')?.focus(); } }, t('common.cancel'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    const body = { version: p.version };
    for (const k of ['name', 'contact_email']) {
      if ((e[k] || '').trim() !== p[k]) body[k] = (e[k] || '').trim();
    }
    for (const k of ['contact_name', 'certificate_email', 'p_number', 'se_number', 'ean']) {
      const v = (e[k] || '').trim();
      if (v !== (p[k] || '')) body[k] = v === '' ? null : v;
    }
    if (!!e.publish !== !!p.publish) body.publish = !!e.publish;
    if (Object.keys(body).length === 1) { S.editing = null; draw(false); document.getElementById('edit-master')?.focus(); return; }
    try {
      const updated = await withBusy(update, () => api('PATCH', `/v1/profiles/${p.id}`, { body }));
      S.profile.profile = updated;
      S.editing = null;
      draw(false);
      document.getElementById('edit-master')?.focus();
      announce(t('profile.updated'));
    } catch (err) {
      if (err.status === 409) {
        S.stale = true;
        draw(false);
        document.querySelector('.alert.error button')?.focus();
      } else if (err.errors.length) {
        const unmatched = showFieldErrors(form, err.errors);
        if (unmatched.length) announce(err.message, 'error');
      } else {
        announce(err.message, 'error');
      }
    }
  });
  queueMicrotask(() => { if (S.stale) document.querySelector('.alert.error button')?.focus(); });
  return form;
}

// "System Rights" and "Seal generation" are menus the user taps to expand (the guide);
// they stay as the user left them across redraws, and open by themselves when they hold
// something to act on.
const OPEN = {};
function expandable(id, title, body, openNow = false) {
  const details = h('details', { id: `${id}-menu`, open: OPEN[id] || openNow || null },
    h('summary', null, h('h2', { id }, title)), body);
  details.addEventListener('toggle', () => { OPEN[id] = details.open; });
  return h('section', { class: 'card', 'aria-labelledby': id }, details);
}

function rightsSection(p, org) {
  // Local IdP rights stay visible (to switch them off) on a profile that has them after
  // the organisation turned Local IdP off: otherwise it could not order or renew.
  const idpStuck = !org.settings.local_idp_enabled && p.system_rights.local_idp;
  const idpShown = org.settings.local_idp_enabled || p.system_rights.local_idp;
  const show = p.type === 'system' || idpShown;
  if (!show) return null;
  const id = 'sec-rights';
  const r = p.system_rights;
  let body;
  if (!isUserAdmin()) {
    body = defList([
      p.type === 'system' ? [t('rights.administration_api'), yesNo(r.administration_api)] : [null, null],
      p.type === 'system' ? [t('rights.issuance_api'), yesNo(r.issuance_api)] : [null, null],
      idpShown ? [t('rights.local_idp'), yesNo(r.local_idp)] : [null, null],
    ].filter(([k]) => k));
  } else {
    const boxes = [];
    const save = async (ev) => {
      const box = ev.target;
      const next = { ...p.system_rights };
      for (const b of boxes) next[b.name] = b.el.querySelector('input').checked;
      try {
        S.profile.profile = await api('PUT', `/v1/profiles/${p.id}/system-rights`, { body: next });
        announce(t('rights.saved'));
        draw(false);
        document.querySelector(`#sec-rights-body input[name="${box.name}"]`)?.focus();
      } catch (e) {
        box.checked = !box.checked;
        announce(e.message, 'error');
      }
    };
    if (p.type === 'system') {
      boxes.push({ name: 'administration_api', el: checkbox({ label: t('rights.administration_api'), hint: t('rights.administrationHint'), name: 'administration_api', checked: r.administration_api, onchange: save }) });
      boxes.push({ name: 'issuance_api', el: checkbox({ label: t('rights.issuance_api'), hint: t('rights.issuanceHint'), name: 'issuance_api', checked: r.issuance_api, onchange: save }) });
    }
    if (idpShown) {
      boxes.push({ name: 'local_idp', el: checkbox({ label: t('rights.local_idp'), hint: idpStuck ? t('rights.localIdpOffNow') : t('rights.localIdpHint'), name: 'local_idp', checked: r.local_idp, onchange: save }) });
    }
    for (const b of boxes) b.el.querySelector('input').name = b.name;
    body = h('div', { id: 'sec-rights-body' }, h('p', { class: 'hint' }, t('rights.autoSave')), boxes.map((b) => b.el));
  }
  return expandable(id, t('rights.title'), body, idpStuck);
}

function sealSection(p, org) {
  if (p.type !== 'organisation') return null;
  const id = 'sec-seal';
  let body;
  // Also when the organisation no longer allows seals but this profile still has one:
  // the box is the way out (a profile with seal generation cannot order or renew then).
  const stuck = !org.settings.seal_generation_allowed && p.seal_generation;
  if (isUserAdmin() && (org.settings.seal_generation_allowed || stuck)) {
    const save = async (ev) => {
      const box = ev.target;
      try {
        S.profile.profile = await api('PUT', `/v1/profiles/${p.id}/seal-generation`, { body: { enabled: box.checked } });
        announce(t('seal.saved'));
        draw(false);
        document.querySelector('#sec-seal-body input')?.focus();
      } catch (e) {
        box.checked = !box.checked;
        announce(e.message, 'error');
      }
    };
    body = h('div', { id: 'sec-seal-body' }, h('p', { class: 'hint' }, t('seal.hint')),
      stuck ? alertBox(t('seal.offNow'), 'warn') : null,
      checkbox({ label: t('seal.label'), checked: p.seal_generation, onchange: save, name: 'seal_generation' }));
  } else {
    body = [defList([[t('seal.label'), yesNo(p.seal_generation)]]),
      org.settings.seal_generation_allowed ? null : h('p', { class: 'hint' }, t('seal.notAllowed'))];
  }
  return expandable(id, t('seal.title'), body, stuck && isUserAdmin());
}

function certActions(c, p) {
  const items = [];
  if (isUserAdmin()) {
    if (c.status === 'issued') {
      items.push({ label: t('cert.renew'), onSelect: () => renewDialog(c, p) });
      items.push({ label: t('cert.revoke'), onSelect: () => revokeDialog(c), danger: true });
    }
    if (c.status === 'pending') {
      if (c.issuing !== 'api' && c.identification !== 'api') items.push({ label: t('cert.sendAgain'), onSelect: () => sendAgain(c) });
      items.push({ label: t('cert.delete'), onSelect: () => deleteDialog(c), danger: true });
    }
  }
  if (c.certificate_pem) {
    items.push({ label: t('cert.downloadPem'), onSelect: () => saveBlob(new Blob([c.certificate_pem], { type: 'application/x-pem-file' }), `${c.serial}.pem`) });
  }
  if (!items.length) return null;
  return menuButton({ label: t('cert.actions', { serial: c.serial }), items });
}

function certificatesSection(p, certs) {
  const id = 'sec-certs';
  const inUse = p.type === 'system' ? currentSystemCert(certs) : null;
  const rows = certs.map((c) => h('tr', { 'data-serial': c.serial },
    h('td', { 'data-label': t('cert.serial') }, h('span', { class: 'mono serial' }, c.serial),
      inUse && inUse.serial === c.serial ? h('span', { class: 'hint block in-use' }, t('idm.inUse')) : null,
      c.renewal_of ? h('span', { class: 'hint block' }, t('cert.renews', { serial: c.renewal_of })) : null),
    h('td', { 'data-label': t('list.statusCol') }, statusBadge(c.status),
      c.revocation_reason ? h('span', { class: 'reason' }, ` ${t('cert.reasonShort', { reason: t(`reason.${c.revocation_reason}`) })}`) : null),
    h('td', { 'data-label': t('cert.ordered') }, fmtTime(c.ordered_at, false)),
    h('td', { 'data-label': c.status === 'revoked' ? t('cert.revokedAt') : t('cert.validTo') },
      c.status === 'revoked' ? fmtTime(c.revoked_at) : fmtTime(c.not_after, false)),
    h('td', { class: 'actions-cell' }, certActions(c, p))));
  const table = certs.length
    ? h('table', { class: 'table certs' },
      h('caption', { class: 'visually-hidden' }, t('cert.caption', { name: p.name })),
      h('thead', null, h('tr', null, [t('cert.serial'), t('list.statusCol'), t('cert.ordered'), t('cert.validTo')].map((x) => h('th', { scope: 'col' }, x)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('cert.actionsCol'))))),
      h('tbody', null, rows))
    : h('p', { class: 'empty' }, t('cert.none'));
  const order = isUserAdmin()
    ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button', id: 'order-new', onclick: (ev) => orderNew(p, ev.currentTarget) }, t('cert.orderNew')))
    : null;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, t('cert.title')), table, order);
}

VIEWS.profile = () => {
  const { profile: p, certificates } = S.profile;
  const org = S.org;
  return h('div', { class: 'page' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/certificates' }, t('nav.certificates'))),
    h('h1', null, p.name),
    h('p', { class: 'lead' }, t('profile.lead', { type: typeName(p.type) }), ' ', statusBadge(p.status)),
    masterData(p, org),
    rightsSection(p, org),
    sealSection(p, org),
    systemIdentity(p, certificates),
    certificatesSection(p, certificates),
    certificates.filter((c) => c.status === 'pending' && c.identification === 'api').map((c) => apiIssueHelp(c.serial)),
    h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: '#/certificates' }, t('common.close'))));
};

async function orderNew(p, button) {
  try {
    const r = await withBusy(button, () => api('POST', `/v1/profiles/${p.id}/certificates`, { headers: { 'Idempotency-Key': idempotencyKey() } }));
    await afterOrder(r, t('cert.orderNew'));
    if (!document.querySelector('dialog')) document.getElementById('order-new')?.focus();
  } catch (e) {
    announce(e.message, 'error');
  }
}
