// The administration console: Menu > Certificates (list, search, create, profile window),
// Settings, Audit, and notifications. What is shown follows the caller's roles: a rights
// administrator sees everything read-only, with no control that would change anything.
import { t } from './i18n.js';
import {
  h, replace, field, checkbox, alertBox, announce, withBusy, openDialog, menuButton,
  showFieldErrors, clearFieldErrors, saveBlob, copyText, fmtTime, defList, newId,
} from './dom.js';
import { api, idempotencyKey } from './api.js';
import * as auth from './auth.js';
import { verifyPage } from './auditchain.js';
import { renderTopbar, setMain, refreshNotifications, onNotifications, noteItem, markRead, localPath } from './layout.js';

const PAGE_SIZE = 10;
const S = {
  org: null,
  list: { q: '', status: '', type: '', cursors: [null], page: 0, data: null },
  form: null,
  formErrors: [],
  receipt: null,
  profile: null,
  editing: null,
  stale: false,
  audit: null,
  auditCheck: null,
  error: null,
};

const isUserAdmin = () => auth.hasRole('user_admin');
const canReadProfiles = () => auth.hasRole('user_admin') || auth.hasRole('rights_admin');
const canReadAudit = () => auth.hasRole('user_admin') || auth.hasRole('org_admin');
const isAdmin = () => auth.roles().length > 0;

const yesNo = (b) => (b ? t('common.yes') : t('common.no'));
const typeName = (k) => t(`type.${k}`);
const statusName = (s) => (s ? t(`status.${s}`) : t('status.none'));
const statusBadge = (s) => h('span', { class: `status status-${s || 'none'}` }, statusName(s));

function allowedIssuing(identification) {
  return { user_login: ['email', 'direct'], one_time_code: ['email'], api: ['api'] }[identification] || ['email'];
}

function issuingName(identification, issuing) {
  if (identification === 'one_time_code') return t('issuing.code');
  return t(`issuing.${issuing}`);
}

function rightsText(r) {
  const names = [];
  if (r.administration_api) names.push(t('rights.administration_api'));
  if (r.issuance_api) names.push(t('rights.issuance_api'));
  if (r.local_idp) names.push(t('rights.local_idp'));
  return names.length ? names.join(', ') : t('common.none');
}

// ---------------------------------------------------------------- routing

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const parts = hash.split('/').filter(Boolean);
  if (parts[0] === 'certificates' && parts[1] === 'new') return { name: 'create' };
  if (parts[0] === 'certificates') return { name: 'list' };
  if (parts[0] === 'profiles' && parts[1]) return { name: 'profile', id: parts[1] };
  if (parts[0] === 'settings') return { name: 'settings' };
  if (parts[0] === 'audit') return { name: 'audit' };
  if (parts[0] === 'notifications') return { name: 'notifications' };
  if (parts[0] === 'me') return { name: 'me' };
  if (parts[0] === 'receipt') return { name: 'receipt' };
  if (canReadProfiles()) return { name: 'list' };
  if (auth.hasRole('org_admin')) return { name: 'settings' };
  return { name: 'notifications' };
}

function topbar(current) {
  const nav = [];
  if (canReadProfiles()) nav.push({ href: '#/certificates', label: t('nav.certificates'), current: ['list', 'create', 'profile', 'receipt'].includes(current) });
  if (isAdmin()) nav.push({ href: '#/settings', label: t('nav.settings'), current: current === 'settings' });
  if (canReadAudit()) nav.push({ href: '#/audit', label: t('nav.audit'), current: current === 'audit' });
  // Notifications are the button next to the name (the guide's place); a second
  // "Notifications" in the menu would only repeat it. The public directory gets the link.
  nav.push({ href: '/directory', label: t('nav.directory') });
  renderTopbar({ nav, notifications: true, signedIn: true });
}

const VIEWS = {};
const LOADERS = {};

let lastRoute = null;
async function navigate() {
  const r = route();
  if (lastRoute && lastRoute.name === 'receipt' && r.name !== 'receipt') S.receipt = null;
  if (!lastRoute || lastRoute.name !== r.name || lastRoute.id !== r.id) {
    S.editing = null;
    S.stale = false;
  }
  lastRoute = r;
  S.error = null;
  topbar(r.name);
  if (LOADERS[r.name]) {
    setMain(h('div', { class: 'page' }, h('h1', null, t(`title.${r.name}`)), h('p', { class: 'loading' }, t('common.loading'))), { focus: false });
    try {
      await LOADERS[r.name](r);
    } catch (e) {
      if (e.status === 401) return;
      S.error = e;
    }
    if (route().name !== r.name) return;
  }
  draw(true);
}

function draw(focus = false) {
  const r = route();
  topbar(r.name);
  if (S.error) {
    setMain(h('div', { class: 'page' }, h('h1', null, t(`title.${r.name}`)),
      alertBox(S.error.status === 404 ? t('error.notFound') : S.error.message, 'error',
        h('button', { type: 'button', class: 'button secondary', onclick: navigate }, t('common.retry')))), { focus });
    return;
  }
  setMain(VIEWS[r.name](r), { focus });
}

async function ensureOrg() {
  if (!S.org && isAdmin()) S.org = await api('GET', '/v1/organisation');
  return S.org;
}

// ---------------------------------------------------------------- certificates list

LOADERS.list = async () => {
  await ensureOrg();
  await loadList();
};

async function loadList() {
  const L = S.list;
  const p = new URLSearchParams();
  if (L.q.trim()) p.set('q', L.q.trim());
  if (L.status) p.set('status', L.status);
  if (L.type) p.set('type', L.type);
  p.set('limit', String(PAGE_SIZE));
  const cursor = L.cursors[L.page];
  if (cursor) p.set('cursor', cursor);
  L.data = await api('GET', `/v1/profiles?${p}`);
  L.cursors[L.page + 1] = L.data.next_cursor || undefined;
}

async function reloadList(resetPage, focusId) {
  if (resetPage) {
    S.list.page = 0;
    S.list.cursors = [null];
  }
  try {
    await loadList();
    S.error = null;
  } catch (e) {
    S.error = e;
  }
  draw(false);
  if (focusId) document.getElementById(focusId)?.focus();
}

async function exportCsv(button) {
  try {
    await withBusy(button, async () => {
      const resp = await api('GET', '/v1/profiles/export.csv', { raw: true, headers: { Accept: 'text/csv' } });
      const blob = await resp.blob();
      saveBlob(blob, 'certificate-profiles.csv');
    });
    announce(t('list.exported'));
  } catch (e) {
    announce(e.message, 'error');
  }
}

VIEWS.list = () => {
  const L = S.list;
  // The guide: with up to 8 certificate profiles "Create certificate profile" comes after
  // the last one; with 9 or more it sits above the list.
  const shown = L.data ? L.data.items.length : 0;
  const few = L.page === 0 && !(L.data && L.data.next_cursor) && shown <= 8 && !(L.q || L.status || L.type);
  const create = isUserAdmin() ? h('a', { class: 'button', id: 'create-profile', href: '#/certificates/new' }, t('list.create')) : null;
  const toolbar = h('div', { class: 'toolbar' },
    few ? null : create,
    h('button', { type: 'button', class: 'button secondary', onclick: (ev) => exportCsv(ev.currentTarget) }, t('list.export')));
  const q = h('input', { type: 'search', id: 'f-search', name: 'q', value: L.q, oninput: (ev) => { L.q = ev.target.value; } });
  const status = h('select', { id: 'f-status', name: 'status', onchange: (ev) => { L.status = ev.target.value; reloadList(true, 'f-status'); } },
    ['', 'pending', 'issued', 'revoked', 'expired'].map((s) => h('option', { value: s }, s ? t(`status.${s}`) : t('list.allStatuses'))));
  status.value = L.status;
  const type = h('select', { id: 'f-type', name: 'type', onchange: (ev) => { L.type = ev.target.value; reloadList(true, 'f-type'); } },
    ['', 'organisation', 'system'].map((s) => h('option', { value: s }, s ? typeName(s) : t('list.allTypes'))));
  type.value = L.type;
  const search = h('form', { class: 'search', role: 'search', novalidate: true },
    field({ label: t('list.search'), control: q, hint: t('list.searchHint') }),
    h('div', { class: 'search-button' }, h('button', { type: 'submit', class: 'button' }, t('list.searchButton'))),
    field({ label: t('list.status'), control: status }),
    field({ label: t('list.type'), control: type }));
  search.addEventListener('submit', (ev) => { ev.preventDefault(); reloadList(true, 'f-search'); });

  const items = L.data ? L.data.items : [];
  const filtered = L.q || L.status || L.type;
  let table;
  if (!items.length) {
    table = h('p', { class: 'empty' }, filtered ? t('list.noMatch') : t('list.empty'));
  } else {
    table = h('table', { class: 'table profiles' },
      h('caption', { class: 'visually-hidden' }, t('list.caption')),
      h('thead', null, h('tr', null,
        [t('profile.name'), t('profile.type'), t('profile.contactEmail'), t('list.statusCol'), t('list.expires')].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, items.map((p) => h('tr', null,
        h('td', { 'data-label': t('profile.name') }, h('a', { href: `#/profiles/${p.id}` }, p.name)),
        h('td', { 'data-label': t('profile.type') }, typeName(p.type)),
        h('td', { 'data-label': t('profile.contactEmail') }, p.contact_email),
        h('td', { 'data-label': t('list.statusCol') }, statusBadge(p.status)),
        h('td', { 'data-label': t('list.expires') }, fmtTime(p.latest_not_after, false))))));
  }
  const pager = h('nav', { class: 'pager', 'aria-label': t('list.pages') },
    h('button', { type: 'button', id: 'pg-prev', class: 'button secondary', disabled: L.page === 0,
      onclick: () => { L.page -= 1; reloadList(false, L.page === 0 ? 'pg-next' : 'pg-prev'); } }, t('list.prev')),
    h('span', { class: 'page-no', 'aria-live': 'polite' }, t('list.pageNo', { n: L.page + 1 })),
    h('button', { type: 'button', id: 'pg-next', class: 'button secondary', disabled: !(L.data && L.data.next_cursor),
      onclick: () => { L.page += 1; reloadList(false, L.data.next_cursor ? 'pg-next' : 'pg-prev'); } }, t('list.next')));
  return h('div', { class: 'page' },
    h('h1', null, t('title.list')),
    S.org ? h('p', { class: 'lead' }, t('list.lead', { org: S.org.name, cvr: S.org.cvr })) : null,
    toolbar, search, table, few && create ? h('div', { class: 'actions' }, create) : null, pager);
};

// ---------------------------------------------------------------- create profile

function newForm(org) {
  return {
    type: org.settings.organisation_certificates_enabled ? 'organisation' : 'system',
    name: '', contact_email: '', certificate_email: '', contact_name: '',
    p_number: '', se_number: '', ean: '',
    administration_api: false, issuance_api: false, local_idp: false,
    seal_generation: false, identification: 'user_login', issuing: 'email',
    key_algorithm: 'rsa-3072', p12_format: 'modern', publish: false,
  };
}

LOADERS.create = async () => {
  S.org = await api('GET', '/v1/organisation');
  if (!S.form) S.form = newForm(S.org);
  S.formErrors = [];
};

function createBody(f, org) {
  const sys = f.type === 'system';
  const allowed = allowedIssuing(f.identification);
  const b = {
    type: f.type,
    name: f.name.trim(),
    contact_email: f.contact_email.trim(),
    identification: f.identification,
    issuing: allowed.includes(f.issuing) ? f.issuing : allowed[0],
    key_algorithm: f.key_algorithm,
    p12_format: f.p12_format,
    publish: f.publish,
    system_rights: {
      administration_api: sys && f.administration_api,
      issuance_api: sys && f.issuance_api,
      local_idp: org.settings.local_idp_enabled && f.local_idp,
    },
    seal_generation: !sys && org.settings.seal_generation_allowed && f.seal_generation,
  };
  const opt = (k, show = true) => { if (show && f[k].trim()) b[k] = f[k].trim(); };
  opt('certificate_email');
  opt('contact_name');
  opt('p_number', org.p_numbers.length > 1);
  opt('se_number', org.se_numbers.length > 1);
  opt('ean', org.settings.nemhandel_enabled);
  return b;
}

function summary(b) {
  return defList([
    [t('create.types'), typeName(b.type)],
    [t('profile.name'), b.name],
    [t('profile.contactEmail'), b.contact_email],
    [t('profile.certificateEmail'), b.certificate_email || null],
    [t('profile.contactName'), b.contact_name || null],
    [t('profile.pNumber'), b.p_number || null],
    [t('profile.seNumber'), b.se_number || null],
    [t('profile.ean'), b.ean || null],
    [t('rights.title'), rightsText(b.system_rights)],
    [t('profile.sealGeneration'), b.type === 'organisation' ? yesNo(b.seal_generation) : null],
    [t('create.identification'), t(`ident.${b.identification}`)],
    [t('create.issuing'), issuingName(b.identification, b.issuing)],
    [t('profile.keyAlgorithm'), t(`key.${b.key_algorithm}`)],
    [t('profile.p12Format'), t(`p12.${b.p12_format}`)],
    [t('create.publishing'), yesNo(b.publish)],
  ]);
}

function rerenderForm(focusId) {
  draw(false);
  if (focusId) document.getElementById(focusId)?.focus();
}

VIEWS.create = () => {
  const org = S.org;
  const f = S.form;
  const bind = (k) => (ev) => { f[k] = ev.target.type === 'checkbox' ? ev.target.checked : ev.target.value; };
  const input = (k, type = 'text', extra = {}) => h('input', { id: `f-${k}`, name: k, type, value: f[k], oninput: bind(k), ...extra });
  const select = (k, options, rerender = false) => {
    const s = h('select', { id: `f-${k}`, name: k, onchange: (ev) => { f[k] = ev.target.value; if (rerender) rerenderForm(`f-${k}`); } },
      options.map(([v, label]) => h('option', { value: v }, label)));
    s.value = f[k];
    return s;
  };
  const cb = (k, label, hint) => {
    const c = checkbox({ label, name: k, hint, checked: f[k], onchange: bind(k) });
    c.querySelector('input').id = `f-${k}`;
    c.querySelector('label').setAttribute('for', `f-${k}`);
    return c;
  };
  const types = [];
  if (org.settings.organisation_certificates_enabled) types.push(['organisation', typeName('organisation')]);
  types.push(['system', typeName('system')]);
  if (!types.some(([v]) => v === f.type)) f.type = types[0][0];
  const allowed = allowedIssuing(f.identification);
  if (!allowed.includes(f.issuing)) f.issuing = allowed[0];
  const optional = t('common.optional');

  const sections = [];
  sections.push(h('fieldset', null, h('legend', null, t('create.mandatory')),
    field({ label: t('create.types'), control: select('type', types, true), name: 'type', hint: t('create.typesHint') }),
    field({ label: t('profile.name'), control: input('name', 'text', { maxlength: 200, autocomplete: 'off' }), name: 'name', required: true, hint: t('create.nameHint') }),
    field({ label: t('profile.contactEmail'), control: input('contact_email', 'email', { autocomplete: 'off' }), name: 'contact_email', required: true, hint: t('create.contactHint') })));

  const opts = [
    field({ label: t('profile.certificateEmail'), control: input('certificate_email', 'email', { autocomplete: 'off' }), name: 'certificate_email', optionalText: optional, hint: t('create.certEmailHint') }),
    field({ label: t('profile.contactName'), control: input('contact_name', 'text', { autocomplete: 'off' }), name: 'contact_name', optionalText: optional }),
  ];
  if (org.p_numbers.length > 1) {
    opts.push(field({ label: t('profile.pNumber'), control: select('p_number', [['', t('create.none')], ...org.p_numbers.map((p) => [p, p])]), name: 'p_number', optionalText: optional }));
  }
  if (org.se_numbers.length > 1) {
    opts.push(field({ label: t('profile.seNumber'), control: select('se_number', [['', t('create.none')], ...org.se_numbers.map((p) => [p, p])]), name: 'se_number', optionalText: optional }));
  }
  if (org.settings.nemhandel_enabled) {
    opts.push(field({ label: t('profile.ean'), control: input('ean', 'text', { inputmode: 'numeric', autocomplete: 'off' }), name: 'ean', optionalText: optional, hint: t('create.eanHint') }));
  }
  sections.push(h('fieldset', null, h('legend', null, t('create.optional')), opts));

  if (org.settings.local_idp_enabled) {
    sections.push(h('fieldset', { 'data-field': 'system_rights.local_idp' }, h('legend', null, t('rights.localIdpTitle')),
      cb('local_idp', t('rights.local_idp'), t('rights.localIdpHint')), h('p', { class: 'field-error', hidden: true })));
  }
  if (f.type === 'system') {
    sections.push(h('fieldset', { 'data-field': 'system_rights' }, h('legend', null, t('rights.apiTitle')),
      h('p', { class: 'hint' }, t('rights.apiHint')),
      cb('administration_api', t('rights.administration_api'), t('rights.administrationHint')),
      cb('issuance_api', t('rights.issuance_api'), t('rights.issuanceHint')),
      h('p', { class: 'field-error', hidden: true })));
  }
  if (f.type === 'organisation' && org.settings.seal_generation_allowed) {
    sections.push(h('fieldset', { 'data-field': 'seal_generation' }, h('legend', null, t('seal.title')),
      cb('seal_generation', t('create.seal'), t('seal.hint')), h('p', { class: 'field-error', hidden: true })));
  }
  const issuingControl = allowed.length > 1
    ? field({ label: t('create.issuing'), control: select('issuing', allowed.map((m) => [m, issuingName(f.identification, m)])), name: 'issuing', hint: t('create.issuingHint') })
    : h('div', { class: 'field', 'data-field': 'issuing' },
      h('p', { class: 'fixed-label', id: 'f-issuing-label' }, t('create.issuing')),
      h('p', { class: 'fixed', 'aria-describedby': 'f-issuing-label' }, issuingName(f.identification, allowed[0]),
        f.identification === 'api' ? h('span', { class: 'hint' }, ` — ${t('create.fixed')}`) : null),
      h('p', { class: 'field-error', hidden: true }));
  sections.push(h('fieldset', null, h('legend', null, t('create.identificationTitle')),
    field({ label: t('create.identification'), control: select('identification', [
      ['user_login', t('ident.user_login')], ['one_time_code', t('ident.one_time_code')], ['api', t('ident.api')]], true),
    name: 'identification', hint: t(`ident.${f.identification}Hint`) }),
    issuingControl));
  sections.push(h('fieldset', null, h('legend', null, t('create.keyTitle')),
    field({ label: t('profile.keyAlgorithm'), control: select('key_algorithm', ['rsa-3072', 'ecdsa-p256', 'ecdsa-p384'].map((k) => [k, t(`key.${k}`)])), name: 'key_algorithm' }),
    field({ label: t('profile.p12Format'), control: select('p12_format', [['modern', t('p12.modern')], ['legacy', t('p12.legacy')]]), name: 'p12_format' })));
  sections.push(h('fieldset', { 'data-field': 'publish' }, h('legend', null, t('create.publishing')),
    cb('publish', t('create.publish'), `${t('create.publishHint')} ${t('profile.publishAll')}`)));

  const summaryBox = h('div', { class: 'error-summary', tabindex: '-1', hidden: !S.formErrors.length });
  const submit = h('button', { type: 'submit', class: 'button' }, t('create.submit'));
  const form = h('form', { class: 'form', novalidate: true, id: 'create-form' },
    summaryBox, sections,
    h('div', { class: 'actions' }, submit, h('a', { class: 'button secondary', href: '#/certificates', onclick: () => { S.form = null; } }, t('common.cancel'))));

  const showErrors = (errors) => {
    S.formErrors = errors;
    const unmatched = showFieldErrors(form, errors);
    summaryBox.hidden = !errors.length;
    replace(summaryBox, h('h2', null, t('form.errorsTitle')),
      h('ul', null, errors.map((e) => h('li', null, e.field ? `${fieldLabel(e.field)}: ${e.message}` : e.message))));
    if (unmatched.length || !form.querySelector('[aria-invalid]')) summaryBox.focus();
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    const errs = [];
    if (!f.name.trim()) errs.push({ field: 'name', message: t('form.required') });
    if (!f.contact_email.trim()) errs.push({ field: 'contact_email', message: t('form.required') });
    if (errs.length) { showErrors(errs); return; }
    summaryBox.hidden = true;
    const body = createBody(f, org);
    const key = idempotencyKey();
    openDialog({
      title: t('confirm.title'),
      wide: true,
      build: (close, dlg) => {
        const err = h('div', { class: 'error-slot' });
        const ok = h('button', { type: 'button', class: 'button', autofocus: true }, t('confirm.ok'));
        ok.addEventListener('click', async () => {
          dlg.dataset.busy = '1';
          try {
            const r = await withBusy(ok, () => api('POST', '/v1/profiles', { body, headers: { 'Idempotency-Key': key } }), t('confirm.ordering'));
            delete dlg.dataset.busy;
            close('ok');
            S.form = null;
            S.receipt = r;
            S.list.data = null;
            location.hash = '#/receipt';
          } catch (e) {
            delete dlg.dataset.busy;
            if (e.errors.length && (e.status === 422 || e.status === 400)) {
              close('invalid');
              showErrors(e.errors);
            } else {
              replace(err, alertBox(e.message));
            }
          }
        });
        return [h('p', null, t('confirm.lead')), summary(body), err,
          h('div', { class: 'actions' }, ok, h('button', { type: 'button', class: 'button secondary', onclick: () => close(null) }, t('common.cancel')))];
      },
    });
  });
  queueMicrotask(() => { if (S.formErrors.length) showErrors(S.formErrors); });

  return h('div', { class: 'page' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/certificates' }, t('nav.certificates'))),
    h('h1', null, t('title.create')),
    h('p', { class: 'lead' }, t('create.lead')),
    form);
};

function fieldLabel(name) {
  const map = {
    name: 'profile.name', contact_email: 'profile.contactEmail', certificate_email: 'profile.certificateEmail',
    contact_name: 'profile.contactName', p_number: 'profile.pNumber', se_number: 'profile.seNumber', ean: 'profile.ean',
    type: 'create.types', identification: 'create.identification', issuing: 'create.issuing',
    seal_generation: 'profile.sealGeneration', system_rights: 'rights.title', 'system_rights.local_idp': 'rights.local_idp',
    key_algorithm: 'profile.keyAlgorithm', p12_format: 'profile.p12Format', publish: 'create.publishing',
  };
  return map[name] ? t(map[name]) : name;
}

// ---------------------------------------------------------------- receipts

/** What happens next with an order (direct link, code, mail, API). */
function delivery(r, { inDialog = false } = {}) {
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
function apiIssueHelp(serial, level = 'h2') {
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

// Times have whole seconds: of two issued in the same second, the renewal is the newer.
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

VIEWS.receipt = () => {
  const r = S.receipt;
  if (!r) {
    queueMicrotask(() => { location.hash = '#/certificates'; });
    return h('div', { class: 'page' }, h('h1', null, t('title.receipt')));
  }
  return h('div', { class: 'page narrow' },
    h('h1', null, t('title.receipt')),
    h('p', { class: 'lead' }, t('receipt.lead')),
    delivery(r),
    h('div', { class: 'actions' },
      h('a', { class: 'button secondary', href: `#/profiles/${r.profile.id}` }, t('receipt.toProfile')),
      h('a', { class: 'button secondary', href: '#/certificates' }, t('receipt.toList'))));
};

function receiptDialog(r, title = t('title.receipt')) {
  openDialog({
    title,
    build: (close) => [h('p', null, t('receipt.lead')), delivery(r, { inDialog: true }),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button secondary', onclick: () => close(null) }, t('common.close')))],
  });
}

// ---------------------------------------------------------------- profile window

LOADERS.profile = async (r) => {
  await ensureOrg();
  S.profile = await api('GET', `/v1/profiles/${encodeURIComponent(r.id)}`);
};

async function reloadProfile(focusSelector) {
  try {
    S.profile = await api('GET', `/v1/profiles/${encodeURIComponent(S.profile.profile.id)}`);
    S.org = await api('GET', '/v1/organisation');
  } catch (e) {
    announce(e.message, 'error');
  }
  draw(false);
  if (focusSelector) document.querySelector(focusSelector)?.focus();
}

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

async function afterOrder(r, title) {
  await reloadProfile();
  if (r.issuance_url || r.one_time_code || r.awaiting) {
    receiptDialog(r, title);
  } else if (r.mailed_to) {
    announce(t('receipt.mailed', { contact: r.mailed_to }));
  }
}

async function orderNew(p, button) {
  try {
    const r = await withBusy(button, () => api('POST', `/v1/profiles/${p.id}/certificates`, { headers: { 'Idempotency-Key': idempotencyKey() } }));
    await afterOrder(r, t('cert.orderNew'));
    if (!document.querySelector('dialog')) document.getElementById('order-new')?.focus();
  } catch (e) {
    announce(e.message, 'error');
  }
}

function renewDialog(c, p) {
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

function revokeDialog(c) {
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

function deleteDialog(c) {
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

async function sendAgain(c) {
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

// ---------------------------------------------------------------- settings

LOADERS.settings = async () => {
  S.org = await api('GET', '/v1/organisation');
};

const SWITCHES = ['organisation_certificates_enabled', 'seal_generation_allowed', 'local_idp_enabled', 'nemhandel_enabled'];

VIEWS.settings = () => {
  const o = S.org;
  const orgInfo = defList([
    [t('org.name'), o.name],
    [t('org.cvr'), o.cvr],
    [t('org.pNumbers'), o.p_numbers.join(', ') || '—'],
    [t('org.seNumbers'), o.se_numbers.join(', ') || '—'],
  ]);
  let body;
  if (auth.hasRole('org_admin')) {
    body = h('div', { class: 'switches' }, h('p', { class: 'hint' }, t('settings.autoSave')), SWITCHES.map((k) => {
      const c = checkbox({ label: t(`settings.${k}`), hint: t(`settings.${k}Hint`), name: k, role: 'switch', checked: o.settings[k],
        onchange: async (ev) => {
          const box = ev.target;
          try {
            S.org = await api('PATCH', '/v1/organisation/settings', { body: { [k]: box.checked } });
            announce(t('settings.saved'));
          } catch (e) {
            box.checked = !box.checked;
            announce(e.message, 'error');
          }
        } });
      c.classList.add('switch');
      return c;
    }));
  } else {
    body = [defList(SWITCHES.map((k) => [t(`settings.${k}`), o.settings[k] ? t('settings.on') : t('settings.off')])),
      h('p', { class: 'hint' }, t('settings.readOnly'))];
  }
  return h('div', { class: 'page' },
    h('h1', null, t('title.settings')),
    h('section', { class: 'card', 'aria-labelledby': 'sec-org' }, h('h2', { id: 'sec-org' }, t('settings.organisation')), orgInfo),
    h('section', { class: 'card', 'aria-labelledby': 'sec-settings' }, h('h2', { id: 'sec-settings' }, t('settings.certificates')), body));
};

// ---------------------------------------------------------------- audit

LOADERS.audit = async () => {
  S.audit = await api('GET', '/v1/audit?limit=25');
  S.auditCheck = await verifyPage(S.audit.items);
};

// What the browser found checking the events shown (auditchain.js): the head hash a
// customer can note down and compare with `orgcert audit verify` later.
function auditChainStatus(c) {
  if (!c) return null;
  if (c.state === 'unavailable') return h('p', { class: 'hint', id: 'audit-chain' }, t('audit.chainUnavailable'));
  if (c.state === 'broken') {
    const box = alertBox(t('audit.chainBroken', { id: c.event.id, seq: c.event.seq ?? '–' }), 'error');
    box.id = 'audit-chain';
    return box;
  }
  if (!c.head) return null;
  return h('div', { class: 'chain-status', id: 'audit-chain', role: 'status' },
    h('p', null, h('strong', null, t('audit.chainVerified', { n: c.checked }))),
    h('p', null, `${t('audit.chainHead')} `, h('span', { class: 'mono', id: 'audit-head' }, c.head)),
    c.legacy ? h('p', { class: 'hint' }, t('audit.chainLegacy', { n: c.legacy })) : null);
}

function auditDetail(d) {
  if (!d || typeof d !== 'object') return '';
  return Object.entries(d).filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
}

VIEWS.audit = () => {
  const a = S.audit;
  const more = a.next_cursor
    ? h('button', { type: 'button', class: 'button secondary', id: 'audit-more', onclick: async (ev) => {
      const btn = ev.currentTarget;
      try {
        const count = a.items.length;
        const next = await withBusy(btn, () => api('GET', `/v1/audit?limit=25&cursor=${encodeURIComponent(a.next_cursor)}`));
        S.audit = { items: a.items.concat(next.items), next_cursor: next.next_cursor };
        S.auditCheck = await verifyPage(S.audit.items);
        draw(false);
        const rows = document.querySelectorAll('table.audit tbody tr');
        rows[count]?.querySelector('td')?.focus();
      } catch (e) {
        announce(e.message, 'error');
      }
    } }, t('audit.more'))
    : null;
  return h('div', { class: 'page' },
    h('h1', null, t('title.audit')),
    h('p', { class: 'lead' }, t('audit.lead')),
    auditChainStatus(S.auditCheck),
    a.items.length ? h('table', { class: 'table audit' },
      h('caption', { class: 'visually-hidden' }, t('title.audit')),
      h('thead', null, h('tr', null, [t('audit.time'), t('audit.actor'), t('audit.action'), t('audit.target'), t('audit.detail')].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, a.items.map((e) => h('tr', null,
        h('td', { 'data-label': t('audit.time'), tabindex: '-1' }, fmtTime(e.at)),
        h('td', { 'data-label': t('audit.actor') }, e.actor),
        h('td', { 'data-label': t('audit.action') }, t(`action.${e.action}`, {}, e.action)),
        h('td', { 'data-label': t('audit.target') }, h('span', { class: 'mono' }, e.target)),
        h('td', { 'data-label': t('audit.detail') }, auditDetail(e.detail))))))
      : h('p', { class: 'empty' }, t('audit.none')),
    more);
};

// ---------------------------------------------------------------- own profile

// The guide's "own profile": the roles one has are under "Master data". From the
// token's claims: a user without a role cannot read the organisation.
VIEWS.me = () => {
  const c = auth.session().claims;
  const roles = auth.roles();
  const org = S.org ? `${S.org.name} (${S.org.cvr})` : (c.org || '');
  return h('div', { class: 'page narrow' },
    h('h1', null, t('title.me')),
    h('section', { class: 'card', 'aria-labelledby': 'sec-me' },
      h('h2', { id: 'sec-me' }, t('profile.masterData')),
      defList([
        [t('me.name'), c.name || ''],
        [t('me.email'), c.email || ''],
        [t('me.org'), org],
        [t('me.roles'), roles.length ? roles.map((r) => t(`role.${r}`)).join(', ') : t('me.noRole')],
      ]),
      roles.length ? null : h('p', { class: 'hint' }, t('home.noRole'))));
};

// ---------------------------------------------------------------- notifications

LOADERS.notifications = async () => {
  await refreshNotifications();
};

VIEWS.notifications = () => {
  const c = auth.session().claims;
  const list = h('div', { class: 'notes-page' });
  const unsub = onNotifications((n) => {
    if (!list.isConnected && list.dataset.drawn) { unsub(); return; }
    list.dataset.drawn = '1';
    replace(list,
      n.items.length ? h('ul', { class: 'notes' }, n.items.map(noteItem)) : h('p', { class: 'empty' }, t('notes.none')),
      n.unread ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button secondary', onclick: async () => { await markRead(); announce(t('notes.allRead')); } }, t('notes.markAll'))) : null);
  });
  return h('div', { class: 'page narrow' },
    h('h1', null, isAdmin() ? t('title.notifications') : t('home.welcome', { name: c.name || c.email })),
    isAdmin() ? null : h('p', { class: 'lead' }, t('home.lead')),
    isAdmin() ? null : h('p', { class: 'hint', id: 'no-role-hint' }, t('home.noRole')),
    h('h2', { class: isAdmin() ? 'visually-hidden' : null }, t('title.notifications')),
    list,
    h('section', { class: 'card', 'aria-labelledby': 'sec-redeem' },
      h('h2', { id: 'sec-redeem' }, t('home.codeTitle')),
      h('p', null, t('home.codeText')),
      h('a', { class: 'button secondary', href: '/redeem' }, t('home.codeButton'))));
};

// ---------------------------------------------------------------- start

export async function start() {
  if (!auth.token()) {
    auth.signIn(`/${location.hash}`);
    return;
  }
  window.addEventListener('hashchange', navigate);
  await navigate();
  refreshNotifications();
  setInterval(() => { if (auth.token()) refreshNotifications(); }, 60000);
}

export function rerender() {
  draw(false);
}
