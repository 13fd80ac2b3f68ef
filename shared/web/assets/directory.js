// The public certificate directory (no login): published certificates by email, CVR,
// certificate profile UUID or serial number.
import { t } from './i18n.js';
import { h, field, alertBox, fmtTime, withBusy, replace } from './dom.js';
import { api } from './api.js';
import { renderTopbar, setMain } from './layout.js';

const CRITERIA = ['email', 'cvr', 'uuid', 'serial'];
const state = { values: { email: '', cvr: '', uuid: '', serial: '' }, result: null, error: null, searched: false };

function resultList() {
  if (state.error) {
    const e = state.error;
    let msg = e.message;
    if (e.status === 429) msg = t('dir.rateLimited');
    else if (e.status === 404 || e.status === 405) msg = t('dir.unavailable');
    else if (e.status === 400 && !e.errors.length) msg = t('dir.needCriterion');
    return alertBox(msg);
  }
  if (!state.result) return null;
  const items = state.result.items || [];
  if (!items.length) return h('p', { class: 'empty', role: 'status' }, t('dir.none'));
  return [
    h('p', { role: 'status', class: 'count' }, t('dir.count', { n: items.length })),
    h('ul', { class: 'dir-results' }, items.map((c) => h('li', { class: 'card' },
      h('h3', null, c.name),
      h('dl', { class: 'details' },
        row(t('org.name'), `${c.organisation} (CVR ${c.cvr})`),
        row(t('profile.type'), t(`type.${c.type}`)),
        c.email ? row(t('profile.certificateEmail'), c.email) : null,
        row(t('list.statusCol'), h('span', { class: `status status-${c.status}` }, t(`status.${c.status}`)),
          c.revocation_reason ? ` ${t('cert.reasonShort', { reason: t(`reason.${c.revocation_reason}`, {}, c.revocation_reason) })}` : null),
        c.revoked_at ? row(t('cert.revokedAt'), fmtTime(c.revoked_at)) : null,
        row(t('dir.valid'), `${fmtTime(c.not_before, false)} – ${fmtTime(c.not_after, false)}`),
        row(t('cert.serial'), h('span', { class: 'mono serial' }, c.serial)),
        row(t('profile.id'), h('span', { class: 'mono' }, c.profile_id))),
      h('div', { class: 'actions' },
        c.pem_url ? h('a', { class: 'button secondary small', href: c.pem_url, download: `${c.serial}.pem` }, t('dir.pem'), h('span', { class: 'visually-hidden' }, ` – ${c.name}`)) : null,
        c.der_url ? h('a', { class: 'button secondary small', href: c.der_url, download: `${c.serial}.cer` }, t('dir.der'), h('span', { class: 'visually-hidden' }, ` – ${c.name}`)) : null)))),
  ];
}

function row(k, ...v) {
  return h('div', null, h('dt', null, k), h('dd', null, v));
}

function render(focus = true) {
  renderTopbar({ signInLink: true });
  const inputs = CRITERIA.map((k) => {
    const input = h('input', { id: `d-${k}`, name: k, type: k === 'email' ? 'email' : 'text', value: state.values[k], autocomplete: 'off', spellcheck: 'false',
      inputmode: k === 'cvr' ? 'numeric' : null, oninput: (ev) => { state.values[k] = ev.target.value; } });
    return field({ label: t(`dir.${k}`), control: input, name: k, hint: t(`dir.${k}Hint`) });
  });
  const submit = h('button', { type: 'submit', class: 'button' }, t('dir.search'));
  const results = h('div', { class: 'results', 'aria-live': 'polite' }, resultList());
  const form = h('form', { class: 'form dir-form', novalidate: true, role: 'search' },
    h('div', { class: 'grid2' }, inputs),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const k of CRITERIA) if (state.values[k].trim()) p.set(k, state.values[k].trim());
    if (![...p.keys()].length) {
      state.error = { status: 400, errors: [], message: t('dir.needCriterion') };
      state.result = null;
      replace(results, resultList());
      return;
    }
    try {
      state.result = await withBusy(submit, () => api('GET', `/public/certificates?${p}`, { public: true }), t('dir.searching'));
      state.error = null;
    } catch (e) {
      state.error = e;
      state.result = null;
    }
    replace(results, resultList());
  });
  setMain(h('div', { class: 'page' },
    h('h1', null, t('dir.title')),
    h('p', { class: 'lead' }, t('dir.lead')),
    form,
    h('h2', { class: 'visually-hidden' }, t('dir.results')),
    results), { focus });
}

export function start() {
  render(false);
}

export function rerender() {
  render(false);
}
