// The console's core: shared state, role checks, labels, hash routing and drawing.
// Each view module registers its VIEWS (and LOADERS, which fetch before drawing).
import { t } from './i18n.js';
import { h, alertBox, announce } from './dom.js';
import { api } from './api.js';
import { renderTopbar, setMain } from './layout.js';
import * as auth from './auth.js';

export const S = {
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

export const isUserAdmin = () => auth.hasRole('user_admin');
export const canReadProfiles = () => auth.hasRole('user_admin') || auth.hasRole('rights_admin');
export const canReadAudit = () => auth.hasRole('user_admin') || auth.hasRole('org_admin');
export const isAdmin = () => auth.roles().length > 0;

export const yesNo = (b) => (b ? t('common.yes') : t('common.no'));
export const typeName = (k) => t(`type.${k}`);
export const statusName = (s) => (s ? t(`status.${s}`) : t('status.none'));
export const statusBadge = (s) => h('span', { class: `status status-${s || 'none'}` }, statusName(s));

export function allowedIssuing(identification) {
  return { user_login: ['email', 'direct'], one_time_code: ['email'], api: ['api'] }[identification] || ['email'];
}

export function issuingName(identification, issuing) {
  if (identification === 'one_time_code') return t('issuing.code');
  return t(`issuing.${issuing}`);
}

export function rightsText(r) {
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

export const VIEWS = {};
export const LOADERS = {};

let lastRoute = null;
export async function navigate() {
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

export function draw(focus = false) {
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

export async function ensureOrg() {
  if (!S.org && isAdmin()) S.org = await api('GET', '/v1/organisation');
  return S.org;
}

/** Reloads the profile shown (and the organisation), then redraws. */
export async function reloadProfile(focusSelector) {
  try {
    S.profile = await api('GET', `/v1/profiles/${encodeURIComponent(S.profile.profile.id)}`);
    S.org = await api('GET', '/v1/organisation');
  } catch (e) {
    announce(e.message, 'error');
  }
  draw(false);
  if (focusSelector) document.querySelector(focusSelector)?.focus();
}
