// The top bar shared by every page: brand, menu, language, notifications, user, sign-out.
import { t, getLang, setLang } from './i18n.js';
import { h, replace, newId, fmtTime, announce } from './dom.js';
import { api } from './api.js';
import * as auth from './auth.js';

function roleNames(roles) {
  return roles.map((r) => t(`role.${r}`)).join(', ');
}

/** A link to an issuance or redeem page from a notification, as a same-origin path. */
export function localPath(url) {
  try {
    const u = new URL(url, location.origin);
    return u.pathname + u.search;
  } catch {
    return '/';
  }
}

let notes = { items: [], unread: 0 };
const noteListeners = new Set();

/** Loads the caller's notifications and redraws whatever shows them. */
export async function refreshNotifications() {
  try {
    notes = await api('GET', '/v1/notifications');
  } catch {
    return notes;
  }
  for (const fn of noteListeners) fn(notes);
  return notes;
}

/** Marks notifications read (all when `ids` is absent). */
export async function markRead(ids) {
  notes = await api('POST', '/v1/notifications/read', { body: ids ? { ids } : {} });
  for (const fn of noteListeners) fn(notes);
}

/** Subscribes to notification changes; returns an unsubscribe function. */
export function onNotifications(fn) {
  noteListeners.add(fn);
  fn(notes);
  return () => noteListeners.delete(fn);
}

/** One notification as a list item. */
export function noteItem(n) {
  const open = h('a', { href: n.link ? localPath(n.link) : '#', class: 'button small' }, t('notes.open'));
  open.addEventListener('click', async (ev) => {
    if (!n.link) ev.preventDefault();
    if (!n.read) {
      ev.preventDefault();
      try { await markRead([n.id]); } catch { /* still follow the link */ }
      if (n.link) location.assign(localPath(n.link));
    }
  });
  return h('li', { class: n.read ? 'note read' : 'note unread' },
    h('p', { class: 'note-subject' }, n.read ? null : h('span', { class: 'dot', 'aria-hidden': 'true' }), n.subject,
      n.read ? null : h('span', { class: 'visually-hidden' }, ` (${t('notes.unread')})`)),
    h('p', { class: 'note-time' }, fmtTime(n.at)),
    n.link ? open : null);
}

function notificationsButton() {
  const panelId = newId('notes');
  // The visible text is the accessible name: "Notifications 3 unread" ("unread" hidden visually).
  const count = h('span', { class: 'badge' });
  const unreadText = h('span', { class: 'visually-hidden' });
  const btn = h('button', { type: 'button', class: 'topbar-button', 'aria-expanded': 'false', 'aria-controls': panelId },
    h('span', null, t('notes.title')), count, unreadText);
  const panel = h('section', { id: panelId, class: 'notes-panel', hidden: true, 'aria-label': t('notes.title') });
  const wrap = h('div', { class: 'notes-wrap' }, btn, panel);
  const draw = (n) => {
    count.textContent = n.unread ? ` ${n.unread}` : '';
    count.hidden = !n.unread;
    unreadText.textContent = n.unread ? ` ${t('notes.unread')}` : '';
    const list = n.items.length
      ? h('ul', { class: 'notes' }, n.items.slice(0, 20).map(noteItem))
      : h('p', null, t('notes.none'));
    const markAll = n.unread
      ? h('button', { type: 'button', class: 'link-button', onclick: async () => { await markRead(); announce(t('notes.allRead')); } }, t('notes.markAll'))
      : null;
    replace(panel, h('h2', { class: 'panel-title' }, t('notes.title')), list, markAll,
      h('p', null, h('a', { href: '/#/notifications' }, t('notes.all'))));
  };
  const unsub = onNotifications(draw);
  const close = (refocus) => {
    panel.hidden = true;
    btn.setAttribute('aria-expanded', 'false');
    if (refocus) btn.focus();
  };
  btn.addEventListener('click', () => {
    const open = panel.hidden;
    panel.hidden = !open;
    btn.setAttribute('aria-expanded', String(open));
    if (open) refreshNotifications();
  });
  panel.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') close(true); });
  document.addEventListener('click', (ev) => { if (!wrap.contains(ev.target) && !panel.hidden) close(false); });
  wrap.cleanup = unsub;
  return wrap;
}

let lastTopbar = null;

/**
 * Draws the top bar. `nav`: [{ href, label, current }] for the console menu;
 * `notifications`: show the bell; `signedIn`: show user and sign-out.
 */
export function renderTopbar({ nav = [], notifications = false, signedIn = false, signInLink = false } = {}) {
  if (lastTopbar && lastTopbar.cleanup) lastTopbar.cleanup();
  const top = document.getElementById('top');
  const other = getLang() === 'da' ? 'en' : 'da';
  const langBtn = h('button', { type: 'button', class: 'topbar-button', lang: other, onclick: () => setLang(other) },
    other === 'da' ? 'Dansk' : 'English');
  langBtn.setAttribute('aria-label', t('common.switchLanguage'));
  let navEl = null;
  let menuBtn = null;
  if (nav.length) {
    const navId = newId('nav');
    navEl = h('nav', { id: navId, class: 'mainnav', 'aria-label': t('nav.label') },
      h('ul', null, nav.map((n) => h('li', null, h('a', { href: n.href, 'aria-current': n.current ? 'page' : null }, n.label)))));
    menuBtn = h('button', { type: 'button', class: 'topbar-button menu-toggle', 'aria-expanded': 'false', 'aria-controls': navId }, t('nav.menu'));
    menuBtn.addEventListener('click', () => {
      const open = menuBtn.getAttribute('aria-expanded') !== 'true';
      menuBtn.setAttribute('aria-expanded', String(open));
      navEl.classList.toggle('open', open);
    });
    navEl.addEventListener('click', (ev) => {
      if (ev.target.closest('a')) { menuBtn.setAttribute('aria-expanded', 'false'); navEl.classList.remove('open'); }
    });
  }
  const s = auth.session();
  let user = null;
  if (signedIn && s) {
    const c = s.claims;
    const bell = notifications ? notificationsButton() : null;
    lastTopbar = bell;
    user = h('div', { class: 'user' },
      bell,
      // The name leads to one's own profile (Master data with one's roles).
      h('p', { class: 'user-name' }, h('a', { class: 'name', href: '/#/me', title: t('title.me') }, c.name || c.email),
        c.roles && c.roles.length ? h('span', { class: 'roles' }, roleNames(c.roles)) : null),
      h('button', { type: 'button', class: 'topbar-button', onclick: () => auth.signOut() }, t('common.signOut')));
  } else if (signInLink) {
    user = h('div', { class: 'user' }, h('a', { class: 'topbar-button', href: '/signin?next=/' }, t('common.signIn')));
  }
  replace(top,
    h('div', { class: 'topbar-inner' },
      h('a', { class: 'brand', href: '/' }, h('img', { src: '/assets/icon.svg', alt: '', width: 28, height: 28 }), h('span', null, t('common.brand'))),
      menuBtn, navEl,
      h('div', { class: 'topbar-right' }, langBtn, user)));
}

/** Replaces the main content and moves focus to its heading (after navigation). */
export function setMain(nodes, { focus = true, title } = {}) {
  const main = document.getElementById('main');
  replace(main, nodes);
  const h1 = main.querySelector('h1');
  if (h1) h1.setAttribute('tabindex', '-1');
  document.title = `${title || (h1 ? h1.textContent : '')} – ${t('common.brand')}`;
  if (focus && h1) h1.focus({ preventScroll: false });
}
