// Audit: the organisation's events, newest first, and the browser's chain check.
import { t } from './i18n.js';
import { h, alertBox, announce, withBusy, fmtTime } from './dom.js';
import { api } from './api.js';
import { verifyPage } from './auditchain.js';
import { S, VIEWS, LOADERS, draw } from './console-core.js';

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
