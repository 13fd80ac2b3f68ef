// Create certificate profile: the form, its confirmation dialog and the receipt page.
import { t } from './i18n.js';
import {
  h, replace, field, checkbox, alertBox, withBusy, openDialog, showFieldErrors, clearFieldErrors, defList,
} from './dom.js';
import { api, idempotencyKey } from './api.js';
import {
  S, yesNo, typeName, allowedIssuing, issuingName, rightsText, VIEWS, LOADERS, draw,
} from './console-core.js';
import { delivery } from './console-dialogs.js';

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
