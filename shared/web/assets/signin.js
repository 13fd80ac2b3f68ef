// The sign-in page. Auth mode `local`: pick a demo user or a profile contact of an
// organisation in the data dir; the token comes from POST /_local/login. Auth mode `oidc`:
// `?next=` starts the login at the identity provider, `?code=&state=` (or `?error=`) is
// its answer, `&rejected` (the API refused a brand-new token) asks before trying again;
// without any the page offers a "Log in" button (e.g. after logging out).
import { t } from './i18n.js';
import { h, field, checkbox, alertBox, withBusy, newId } from './dom.js';
import { api } from './api.js';
import * as auth from './auth.js';
import { renderTopbar, setMain } from './layout.js';

let users = null;
let loadError = null;
const next = auth.safeReturn(new URLSearchParams(location.search).get('next') || '/');

async function login(body, button) {
  const out = await withBusy(button, () => api('POST', '/_local/login', { body, public: true }));
  auth.keepToken(out.token);
  location.replace(next);
}

function userButton(u, errorSlot) {
  const roles = u.roles.length ? u.roles.map((r) => t(`role.${r}`)).join(', ') : t('signin.contact');
  // The visible text is the accessible name (WCAG 2.5.3), with "Log in as" for screen readers.
  const btn = h('button', { type: 'button', class: 'user-choice' },
    h('span', { class: 'visually-hidden' }, `${t('signin.asPrefix')} `),
    h('span', { class: 'who' }, u.name || u.email),
    h('span', { class: 'what' }, ' ', u.name ? `${u.email} · ${roles}` : roles));
  btn.addEventListener('click', async () => {
    errorSlot.replaceChildren();
    try {
      await login({ org: u.org, email: u.email, name: u.name, roles: u.roles }, btn);
    } catch (e) {
      errorSlot.replaceChildren(alertBox(e.message));
    }
  });
  return btn;
}

function otherUserForm(orgs, errorSlot) {
  const org = h('select', { name: 'org' }, orgs.map(([cvr, name]) => h('option', { value: cvr }, `${name} (${cvr})`)));
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email' });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'name' });
  const roleBoxes = ['user_admin', 'rights_admin', 'org_admin'].map((r) => ({ r, el: checkbox({ label: t(`role.${r}`), name: r }) }));
  const submit = h('button', { type: 'submit', class: 'button' }, t('signin.submit'));
  const form = h('form', { class: 'form narrow', novalidate: true },
    field({ label: t('signin.organisation'), control: org }),
    field({ label: t('signin.email'), control: email, required: true, name: 'email' }),
    field({ label: t('signin.name'), control: name, optionalText: t('common.optional') }),
    h('fieldset', null, h('legend', null, t('signin.roles')), roleBoxes.map((x) => x.el)),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errorSlot.replaceChildren();
    const roles = roleBoxes.filter((x) => x.el.querySelector('input').checked).map((x) => x.r);
    try {
      await login({ org: org.value, email: email.value.trim(), name: name.value.trim(), roles }, submit);
    } catch (e) {
      errorSlot.replaceChildren(alertBox(e.message));
    }
  });
  return form;
}

// ---------------------------------------------------------------- oidc

const oidc = { step: 'idle', error: null, retryTo: '/' };

async function oidcStart(returnTo) {
  oidc.step = 'redirecting';
  oidc.error = null;
  oidc.retryTo = returnTo;
  renderOidc();
  try {
    await auth.startSignIn(returnTo);
  } catch (e) {
    oidc.step = 'error';
    oidc.error = e.message;
    renderOidc();
  }
}

async function oidcComplete(params) {
  oidc.step = 'completing';
  renderOidc();
  try {
    const back = await auth.completeSignIn(params);
    location.replace(back);
  } catch (e) {
    // The code is spent either way: keep it out of the address bar and history.
    history.replaceState(null, '', '/signin');
    oidc.step = 'error';
    oidc.error = e.message;
    oidc.retryTo = e.returnTo || '/';
    renderOidc();
  }
}

function renderOidc() {
  renderTopbar({});
  const body = [h('h1', null, t('signin.title'))];
  if (oidc.step === 'redirecting' || oidc.step === 'completing') {
    body.push(h('p', { class: 'lead', role: 'status' }, t(oidc.step === 'redirecting' ? 'signin.redirecting' : 'signin.completing')));
  } else {
    body.push(h('p', { class: 'lead' }, t('signin.oidcLead')));
    if (oidc.error) body.push(alertBox(oidc.error));
    body.push(h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'button', onclick: () => oidcStart(oidc.retryTo) },
        oidc.error ? t('common.retry') : t('signin.submit'))));
  }
  setMain(h('div', { class: 'page narrow' }, body), { focus: oidc.step !== 'completing' });
}

// ---------------------------------------------------------------- local

function render() {
  if (auth.modeName() === 'oidc') {
    renderOidc();
    return;
  }
  renderTopbar({});
  const errorSlot = h('div', { class: 'error-slot' });
  const body = [h('h1', null, t('signin.title')), h('p', { class: 'lead' }, t('signin.lead'))];
  if (next !== '/') body.push(h('p', { class: 'hint' }, t('signin.returning')));
  body.push(errorSlot);
  if (loadError) body.push(alertBox(loadError));
  if (users) {
    const byOrg = new Map();
    for (const u of users) {
      if (!byOrg.has(u.org)) byOrg.set(u.org, { name: u.organisation, admins: [], contacts: [] });
      (u.roles.length ? byOrg.get(u.org).admins : byOrg.get(u.org).contacts).push(u);
    }
    for (const [cvr, o] of byOrg) {
      const hid = newId('org');
      body.push(h('section', { class: 'card', 'aria-labelledby': hid },
        h('h2', { id: hid }, `${o.name} (CVR ${cvr})`),
        h('h3', null, t('signin.admins')),
        h('ul', { class: 'choices' }, o.admins.map((u) => h('li', null, userButton(u, errorSlot)))),
        o.contacts.length ? [h('h3', null, t('signin.contacts')),
          h('ul', { class: 'choices' }, o.contacts.map((u) => h('li', null, userButton(u, errorSlot))))] : null));
    }
    const orgs = [...byOrg].map(([cvr, o]) => [cvr, o.name]);
    const did = newId('other');
    body.push(h('section', { class: 'card', 'aria-labelledby': did },
      h('h2', { id: did }, t('signin.other')), otherUserForm(orgs, errorSlot)));
  }
  body.push(h('p', { class: 'hint' }, t('signin.localOnly')));
  setMain(h('div', { class: 'page narrow' }, body));
}

export async function start() {
  if (auth.modeName() === 'oidc') {
    const params = new URLSearchParams(location.search);
    if (params.has('code') || params.has('error')) {
      await oidcComplete(params);
    } else if (params.has('rejected')) {
      oidc.step = 'error';
      oidc.error = t('signin.rejected');
      oidc.retryTo = next;
      renderOidc();
    } else if (params.has('next')) {
      await oidcStart(next);
    } else {
      renderOidc();
    }
    return;
  }
  render();
  try {
    users = (await api('GET', '/_local/users', { public: true })).users;
    loadError = null;
  } catch (e) {
    loadError = e.message;
  }
  render();
}

export function rerender() {
  render();
}
