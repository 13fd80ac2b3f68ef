// Menu > Certificates: the profile list with search, filters, paging and CSV export.
import { t } from './i18n.js';
import { h, field, announce, withBusy, saveBlob, fmtTime } from './dom.js';
import { api } from './api.js';
import { S, isUserAdmin, typeName, statusBadge, VIEWS, LOADERS, draw, ensureOrg } from './console-core.js';

const PAGE_SIZE = 10;

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
