// The own profile (roles from the token) and the notifications page, which is also the
// home of a user without a role.
import { t } from './i18n.js';
import { h, replace, announce, defList } from './dom.js';
import { refreshNotifications, onNotifications, noteItem, markRead } from './layout.js';
import { S, isAdmin, VIEWS, LOADERS } from './console-core.js';
import * as auth from './auth.js';

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
