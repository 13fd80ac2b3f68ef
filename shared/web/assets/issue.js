// The holder's pages: `/issue/{token}` (link from the mail, notification or receipt) and
// `/redeem` (reference + one-time code). Steps follow the user's guide: Issue your
// certificate → Terms & conditions → file format → Password to your certificate →
// download → Close (which removes the password from the page).
import { t } from './i18n.js';
import { h, field, alertBox, copyText, saveBlob, defList, newId, showFieldErrors } from './dom.js';
import { api } from './api.js';
import * as auth from './auth.js';
import { renderTopbar, setMain } from './layout.js';

const redeem = location.pathname === '/redeem';
const token = redeem ? null : decodeURIComponent(location.pathname.slice('/issue/'.length));

const state = {
  step: 'loading',
  info: null,
  error: null,
  accepted: false,
  format: 'modern',
  csr: '',
  reference: new URLSearchParams(location.search).get('reference') || '',
  code: '',
  codeErrors: [],
  formatErrors: [],
  result: null,
  reveal: false,
  downloaded: false,
};

function go(step) {
  state.step = step;
  render(true);
}

function typeName(kind) {
  return kind === 'system' ? t('type.system') : t('type.organisation');
}

function errorPage(e) {
  const who = auth.session()?.claims?.email || '';
  const map = {
    404: ['issue.err404Title', 'issue.err404Text'],
    409: ['issue.err409Title', 'issue.err409Text'],
    410: ['issue.err410Title', 'issue.err410Text'],
    403: ['issue.err403Title', 'issue.err403Text'],
    423: ['issue.err423Title', 'issue.err423Text'],
  };
  const [title, text] = map[e.status] || ['issue.errTitle', 'issue.errText'];
  const actions = [];
  if (e.status === 403) {
    actions.push(h('button', { type: 'button', class: 'button', onclick: () => auth.signIn() }, t('issue.signInOther')));
  }
  actions.push(h('a', { class: 'button secondary', href: '/' }, t('issue.toFront')));
  return [
    h('h1', null, t(title)),
    h('div', { class: 'alert error', role: 'alert' },
      h('p', null, t(text, { who })),
      e.message ? h('p', { class: 'detail' }, t('issue.serverSaid', { detail: e.message })) : null),
    h('div', { class: 'actions' }, actions),
  ];
}

function stepper(active) {
  const steps = ['intro', 'terms', 'format', 'password', 'download'];
  const labels = [t('issue.stepIssue'), t('issue.stepTerms'), t('issue.stepFormat'), t('issue.stepPassword'), t('issue.stepDownload')];
  const idx = steps.indexOf(active === 'code' ? 'intro' : active === 'pem' ? 'download' : active);
  return h('ol', { class: 'stepper', 'aria-label': t('issue.progress') },
    labels.map((l, i) => h('li', { class: i < idx ? 'done' : i === idx ? 'current' : null, 'aria-current': i === idx ? 'step' : null }, l)));
}

function infoList(info) {
  return defList([
    [t('profile.name'), info.name],
    [t('profile.type'), typeName(info.type)],
    [t('org.cvr'), info.cvr],
    [t('org.name'), info.organisation],
    [t('profile.certificateEmail'), info.certificate_email || null],
    [t('profile.sealGeneration'), info.type === 'organisation' ? (info.seal_generation ? t('common.yes') : t('common.no')) : null],
    [t('profile.keyAlgorithm'), t(`key.${info.key_algorithm}`)],
  ]);
}

function introStep() {
  const next = h('button', { type: 'button', class: 'button', onclick: () => go('terms') }, t('common.next'));
  return [
    h('h1', null, t('issue.title')),
    h('p', { class: 'lead' }, t('issue.lead')),
    infoList(state.info),
    h('div', { class: 'actions' }, next),
  ];
}

function codeStep() {
  const ref = h('input', { type: 'text', name: 'reference', value: state.reference, autocomplete: 'off', spellcheck: 'false',
    oninput: (ev) => { state.reference = ev.target.value; } });
  const code = h('input', { type: 'text', name: 'code', value: state.code, autocomplete: 'one-time-code', spellcheck: 'false',
    oninput: (ev) => { state.code = ev.target.value; } });
  const form = h('form', { class: 'form narrow', novalidate: true },
    field({ label: t('redeem.reference'), control: ref, hint: t('redeem.referenceHint'), required: true, name: 'reference' }),
    field({ label: t('redeem.code'), control: code, hint: t('redeem.codeHint'), required: true, name: 'code' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, t('common.next'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const errs = [];
    if (!state.reference.trim()) errs.push({ field: 'reference', message: t('form.required') });
    if (!state.code.trim()) errs.push({ field: 'code', message: t('form.required') });
    if (errs.length) { showFieldErrors(form, errs); return; }
    state.codeErrors = [];
    go('terms');
  });
  queueMicrotask(() => { if (state.codeErrors.length) showFieldErrors(form, state.codeErrors); });
  return [
    h('h1', null, t('issue.title')),
    h('p', { class: 'lead' }, t('redeem.lead')),
    form,
  ];
}

function termsStep() {
  const next = h('button', { type: 'button', class: 'button', disabled: !state.accepted, onclick: () => go('format') }, t('common.next'));
  const id = newId('terms');
  const box = h('input', { type: 'checkbox', id, checked: state.accepted,
    onchange: (ev) => { state.accepted = ev.target.checked; next.disabled = !state.accepted; } });
  return [
    h('h1', null, t('issue.termsTitle')),
    h('div', { class: 'terms', tabindex: '0', role: 'region', 'aria-label': t('issue.termsTitle') },
      t('terms.text').split('\n\n').map((p) => h('p', null, p))),
    h('div', { class: 'check big' }, box, h('label', { for: id }, t('issue.accept'))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'button secondary', onclick: () => go(redeem ? 'code' : 'intro') }, t('common.back')),
      next),
  ];
}

function formatStep() {
  const name = newId('fmt');
  const option = (value, label, hint) => {
    const id = newId('opt');
    const hid = `${id}-hint`;
    return h('div', { class: 'radio' },
      h('input', { type: 'radio', name, id, value, checked: state.format === value, 'aria-describedby': hid,
        onchange: () => { state.format = value; render(false); document.getElementById(id)?.focus(); } }),
      h('label', { for: id }, label),
      h('p', { class: 'hint', id: hid }, hint));
  };
  const csrBlock = [];
  if (state.format === 'csr') {
    const area = h('textarea', { name: 'csr', rows: 8, spellcheck: 'false', class: 'mono', value: state.csr,
      placeholder: '-----BEGIN CERTIFICATE REQUEST-----', oninput: (ev) => { state.csr = ev.target.value; } });
    const file = h('input', { type: 'file', accept: '.csr,.pem,.req,.txt' });
    file.addEventListener('change', async () => {
      const f = file.files && file.files[0];
      if (!f) return;
      state.csr = await f.text();
      area.value = state.csr;
    });
    csrBlock.push(field({ label: t('issue.csrPaste'), control: area, name: 'csr', hint: t('issue.csrPasteHint') }),
      field({ label: t('issue.csrUpload'), control: file }));
  }
  const submit = h('button', { type: 'submit', class: 'button' }, t('common.next'));
  const form = h('form', { class: 'form', novalidate: true },
    h('fieldset', { 'data-field': 'p12_format' },
      h('legend', null, t('issue.formatLegend')),
      option('modern', t('issue.formatModern'), t('issue.formatModernHint')),
      option('legacy', t('issue.formatLegacy'), t('issue.formatLegacyHint')),
      option('csr', t('issue.formatCsr'), t('issue.formatCsrHint')),
      h('p', { class: 'field-error', hidden: true })),
    csrBlock,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'button secondary', onclick: () => go('terms') }, t('common.back')), submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (state.format === 'csr' && !state.csr.trim()) {
      showFieldErrors(form, [{ field: 'csr', message: t('issue.csrMissing') }]);
      return;
    }
    issue(form);
  });
  queueMicrotask(() => { if (state.formatErrors.length) showFieldErrors(form, state.formatErrors); });
  return [
    h('h1', null, t('issue.formatTitle')),
    h('p', { class: 'lead' }, t('issue.formatLead')),
    form,
  ];
}

async function issue() {
  const body = { accept_terms: state.accepted };
  if (state.format === 'csr') body.csr = state.csr;
  else body.p12_format = state.format;
  if (redeem) {
    body.reference = state.reference.trim();
    body.code = state.code.trim();
  }
  state.formatErrors = [];
  go('issuing');
  try {
    state.result = redeem
      ? await api('POST', '/v1/issuance/redeem', { body })
      : await api('POST', `/v1/issuance/${encodeURIComponent(token)}`, { body });
    go(state.result.password ? 'password' : 'pem');
  } catch (e) {
    const fields = e.errors.map((x) => x.field);
    if (redeem && e.status === 404) {
      state.codeErrors = [{ field: 'reference', message: t('redeem.unknownReference') }];
      go('code');
    } else if (redeem && e.status === 422 && fields.some((f) => f === 'code' || f === 'reference')) {
      state.codeErrors = e.errors;
      go('code');
    } else if (e.status === 422 && fields.some((f) => f === 'csr' || f === 'p12_format')) {
      state.formatErrors = e.errors;
      go('format');
    } else {
      state.error = e;
      go('error');
    }
  }
}

function issuingStep() {
  return [
    h('h1', null, t('issue.issuingTitle')),
    h('div', { class: 'progress-panel', role: 'status' },
      h('progress', { 'aria-label': t('issue.issuingTitle') }),
      h('p', null, state.format === 'csr' ? t('issue.issuingCsr') : t('issue.issuingKey'))),
  ];
}

function passwordStep() {
  const pw = state.result.password;
  const id = newId('pw');
  const input = h('input', { type: state.reveal ? 'text' : 'password', id, readonly: true, value: pw, class: 'mono password', autocomplete: 'off', spellcheck: 'false' });
  const show = h('button', { type: 'button', class: 'button secondary', 'aria-pressed': String(state.reveal), 'aria-controls': id },
    state.reveal ? t('issue.hide') : t('issue.show'));
  show.addEventListener('click', () => {
    state.reveal = !state.reveal;
    input.type = state.reveal ? 'text' : 'password';
    show.setAttribute('aria-pressed', String(state.reveal));
    show.textContent = state.reveal ? t('issue.hide') : t('issue.show');
  });
  const copy = h('button', { type: 'button', class: 'button secondary', onclick: () => copyText(pw) }, t('common.copy'));
  return [
    h('h1', null, t('issue.passwordTitle')),
    h('p', { class: 'lead' }, t('issue.passwordLead')),
    h('div', { class: 'password-box' },
      h('label', { for: id }, t('issue.password')),
      input,
      h('div', { class: 'actions' }, show, copy)),
    h('p', { class: 'alert warn' }, t('issue.passwordOnce')),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button', onclick: () => go('download') }, t('common.next'))),
  ];
}

function filename() {
  return `${state.result.serial || 'certificate'}.p12`;
}

function startDownload() {
  const a = h('a', { href: state.result.download_url, download: filename(), class: 'visually-hidden' }, filename());
  document.body.append(a);
  a.click();
  a.remove();
}

function downloadStep() {
  if (!state.downloaded) {
    state.downloaded = true;
    setTimeout(startDownload, 300);
  }
  return [
    h('h1', null, t('issue.downloadTitle')),
    h('p', { class: 'lead' }, t('issue.downloadLead')),
    defList([[t('cert.serial'), state.result.serial], [t('cert.validTo'), state.result.not_after ? new Date(state.result.not_after).toLocaleDateString() : null]]),
    h('div', { class: 'actions' },
      h('a', { class: 'button secondary', href: state.result.download_url, download: filename() }, t('issue.download')),
      h('button', { type: 'button', class: 'button', onclick: close }, t('common.close'))),
  ];
}

function pemStep() {
  const r = state.result;
  const id = newId('pem');
  return [
    h('h1', null, t('issue.pemTitle')),
    h('p', { class: 'lead' }, t('issue.pemLead')),
    h('div', { class: 'field' },
      h('label', { for: id }, t('issue.pemLabel')),
      h('textarea', { id, readonly: true, rows: 10, class: 'mono', value: r.certificate_pem, spellcheck: 'false' })),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'button', onclick: () => saveBlob(new Blob([r.certificate_pem], { type: 'application/x-pem-file' }), `${r.serial}.pem`) }, t('issue.download')),
      h('button', { type: 'button', class: 'button secondary', onclick: () => saveBlob(new Blob([r.chain_pem], { type: 'application/x-pem-file' }), 'ca-chain.pem') }, t('issue.downloadChain')),
      h('button', { type: 'button', class: 'button secondary', onclick: () => copyText(r.certificate_pem) }, t('common.copy')),
      h('button', { type: 'button', class: 'button secondary', onclick: close }, t('common.close'))),
  ];
}

/** Close: forget the password and the download link; nothing secret stays on the page. */
function close() {
  state.result = null;
  state.reveal = false;
  state.code = '';
  go('done');
}

function doneStep() {
  return [
    h('h1', null, t('issue.doneTitle')),
    h('p', { class: 'lead' }, t('issue.doneLead')),
    h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: '/' }, t('issue.toFront'))),
  ];
}

function render(focus = true) {
  renderTopbar({ signedIn: true, notifications: false });
  const steps = {
    loading: () => [h('h1', null, t('issue.title')), h('p', { class: 'loading' }, t('common.loading'))],
    error: () => errorPage(state.error),
    code: codeStep,
    intro: introStep,
    terms: termsStep,
    format: formatStep,
    issuing: issuingStep,
    password: passwordStep,
    download: downloadStep,
    pem: pemStep,
    done: doneStep,
  };
  const body = steps[state.step]();
  const showSteps = !['loading', 'error', 'done', 'issuing'].includes(state.step);
  document.getElementById('main').setAttribute('aria-busy', String(state.step === 'issuing'));
  setMain(h('div', { class: 'page narrow holder' }, showSteps ? stepper(state.step) : null, body), { focus });
}

export async function start() {
  if (!auth.token()) {
    auth.signIn();
    return;
  }
  if (redeem) {
    go('code');
    return;
  }
  render(false);
  try {
    state.info = await api('GET', `/v1/issuance/${encodeURIComponent(token)}`);
    state.format = state.info.p12_format || 'modern';
    go('intro');
  } catch (e) {
    if (e.status === 401) return;
    state.error = e;
    go('error');
  }
}

export function rerender() {
  render(false);
}
