// Small DOM helpers: element building without innerHTML, dialogs that trap and return
// focus, a keyboard-operable menu button, a live region for announcements.
import { t } from './i18n.js';

/** Creates an element. Attributes: `class`, `on<event>`, booleans, strings; children: nodes or text. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** Appends nodes or text, skipping null/false, flattening arrays. */
export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** A unique id for label/aria wiring. */
export function newId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

/** Visible, enabled, focusable elements inside `root`. */
export function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter(
    (e) => !e.closest('[hidden]') && !e.closest('[inert]') && e.getClientRects().length > 0,
  );
}

/** Keeps Tab and Shift+Tab inside `root`. */
export function trapFocus(root, ev) {
  if (ev.key !== 'Tab') return;
  const f = focusables(root);
  if (f.length === 0) {
    ev.preventDefault();
    return;
  }
  const first = f[0];
  const last = f[f.length - 1];
  if (ev.shiftKey && (document.activeElement === first || !root.contains(document.activeElement))) {
    ev.preventDefault();
    last.focus();
  } else if (!ev.shiftKey && (document.activeElement === last || !root.contains(document.activeElement))) {
    ev.preventDefault();
    first.focus();
  }
}

/**
 * A modal dialog. `build(close)` returns its body nodes. Focus moves into the dialog, stays
 * there (Tab wraps) and returns to the element that opened it when it closes.
 */
export function openDialog({ title, build, onClose, wide = false, role }) {
  const opener = document.activeElement;
  const titleId = newId('dlg-title');
  const dlg = h('dialog', {
    class: wide ? 'dialog wide' : 'dialog',
    'aria-labelledby': titleId,
    role: role || null,
  });
  let closed = false;
  const close = (result) => {
    if (closed) return;
    closed = true;
    dlg.close();
    dlg.remove();
    if (onClose) onClose(result);
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    else document.querySelector('main h1, h1')?.focus();
  };
  dlg.addEventListener('keydown', (ev) => trapFocus(dlg, ev));
  dlg.addEventListener('cancel', (ev) => {
    ev.preventDefault();
    if (!dlg.dataset.busy) close(null);
  });
  append(dlg, [h('h2', { id: titleId, class: 'dialog-title', tabindex: '-1' }, title), build(close, dlg)]);
  document.body.append(dlg);
  dlg.showModal();
  const first = dlg.querySelector('[autofocus]') || focusables(dlg).find((e) => e.tagName !== 'H2');
  (first || dlg.querySelector('h2')).focus();
  return { dialog: dlg, close };
}

/**
 * A menu button ("⋯"): arrow keys move between items, Escape closes and returns focus,
 * Enter/Space or click selects. `items`: [{ label, onSelect }].
 */
export function menuButton({ label, text = '⋯', items }) {
  const menuId = newId('menu');
  const btn = h('button', {
    type: 'button',
    class: 'icon-button',
    'aria-haspopup': 'menu',
    'aria-expanded': 'false',
    'aria-controls': menuId,
    'aria-label': label,
  }, h('span', { 'aria-hidden': 'true' }, text));
  const menu = h('ul', { role: 'menu', id: menuId, class: 'menu', hidden: true, 'aria-label': label });
  const entries = items.map((it) =>
    h('li', { role: 'menuitem', tabindex: '-1', class: it.danger ? 'danger' : null, onclick: () => choose(it) }, it.label),
  );
  append(menu, entries);
  const wrap = h('div', { class: 'menu-wrap' }, btn, menu);
  const outside = (ev) => {
    if (!wrap.contains(ev.target)) hide(false);
  };
  function show(focusLast = false) {
    menu.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
    (focusLast ? entries[entries.length - 1] : entries[0])?.focus();
    document.addEventListener('mousedown', outside, true);
  }
  function hide(refocus = true) {
    if (menu.hidden) return;
    menu.hidden = true;
    btn.setAttribute('aria-expanded', 'false');
    document.removeEventListener('mousedown', outside, true);
    if (refocus) btn.focus();
  }
  function choose(it) {
    hide(true);
    it.onSelect();
  }
  btn.addEventListener('click', () => (menu.hidden ? show() : hide()));
  btn.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') { ev.preventDefault(); show(); }
    if (ev.key === 'ArrowUp') { ev.preventDefault(); show(true); }
  });
  menu.addEventListener('keydown', (ev) => {
    const i = entries.indexOf(document.activeElement);
    const move = (j) => entries[(j + entries.length) % entries.length].focus();
    if (ev.key === 'ArrowDown') { ev.preventDefault(); move(i + 1); }
    else if (ev.key === 'ArrowUp') { ev.preventDefault(); move(i - 1); }
    else if (ev.key === 'Home') { ev.preventDefault(); move(0); }
    else if (ev.key === 'End') { ev.preventDefault(); move(entries.length - 1); }
    else if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); hide(true); }
    else if (ev.key === 'Tab') { hide(false); }
    else if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); if (i >= 0) choose(items[i]); }
  });
  return wrap;
}

/** Announces a message in the polite live region (and shows it briefly). */
export function announce(message, kind = 'ok') {
  const region = document.getElementById('status');
  if (!region) return;
  const item = h('p', { class: `toast ${kind}` }, message);
  region.append(item);
  setTimeout(() => item.remove(), 6000);
}

/** Runs `work` while `button` shows progress and is disabled. */
export async function withBusy(button, work, busyText = t('common.working')) {
  const old = [...button.childNodes];
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  replace(button, h('span', { class: 'spinner', 'aria-hidden': 'true' }), busyText);
  try {
    return await work();
  } finally {
    if (button.isConnected) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      replace(button, old);
    }
  }
}

/** A labelled form field: `{ label, control, hint, error }` wired with aria attributes. */
export function field({ label, control, hint, name, required = false, optionalText }) {
  const id = control.id || newId('f');
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-error`;
  const describedBy = [hintId, errId].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', describedBy);
  if (required) control.setAttribute('aria-required', 'true');
  const wrap = h('div', { class: 'field', 'data-field': name || null },
    h('label', { for: id }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : optionalText ? h('span', { class: 'opt' }, ` (${optionalText})`) : null),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    control,
    h('p', { class: 'field-error', id: errId, hidden: true }),
  );
  return wrap;
}

/** A checkbox with its label after it. */
export function checkbox({ label, checked, onchange, name, hint, role, disabled }) {
  const id = newId('cb');
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', { type: 'checkbox', id, checked, onchange, name, role, disabled, 'aria-describedby': hintId });
  return h('div', { class: 'check', 'data-field': name || null },
    input,
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
}

/** Shows field errors from a problem+json answer under the matching `[data-field]`. Returns the unmatched ones. */
export function showFieldErrors(form, errors) {
  clearFieldErrors(form);
  const unmatched = [];
  let first = null;
  for (const e of errors || []) {
    const name = e.field || '';
    const wrap = form.querySelector(`[data-field="${CSS.escape(name)}"]`) ||
      form.querySelector(`[data-field="${CSS.escape(name.split('.')[0])}"]`);
    if (!wrap) { unmatched.push(e); continue; }
    const err = wrap.querySelector('.field-error');
    err.hidden = false;
    err.textContent = err.textContent ? `${err.textContent} ${e.message}` : e.message;
    const ctl = wrap.querySelector('input, select, textarea');
    if (ctl) {
      ctl.setAttribute('aria-invalid', 'true');
      if (!ctl.getAttribute('aria-describedby')?.includes(err.id)) {
        ctl.setAttribute('aria-describedby', `${ctl.getAttribute('aria-describedby') || ''} ${err.id}`.trim());
      }
      first = first || ctl;
    }
  }
  if (first) first.focus();
  return unmatched;
}

/** Removes every field error shown in `form`. */
export function clearFieldErrors(form) {
  for (const err of form.querySelectorAll('.field-error')) {
    err.hidden = true;
    err.textContent = '';
  }
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

/** An alert box (role=alert) with text and optional action nodes. */
export function alertBox(message, kind = 'error', ...actions) {
  return h('div', { class: `alert ${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('p', null, message), actions.length ? h('div', { class: 'actions' }, actions) : null);
}

/** Saves a Blob as a file through a temporary object URL. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, class: 'visually-hidden' }, filename);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Copies text to the clipboard; announces the result. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    announce(t('common.copied'));
    return true;
  } catch {
    announce(t('common.copyFailed'), 'error');
    return false;
  }
}

/** Formats an RFC 3339 time for the current language. */
export function fmtTime(s, withTime = true) {
  if (!s) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  const lang = document.documentElement.lang === 'da' ? 'da-DK' : 'en-GB';
  return withTime
    ? d.toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' })
    : d.toLocaleDateString(lang, { dateStyle: 'medium' });
}

/** A definition list from [label, value] pairs (null values skipped). */
export function defList(pairs, cls = 'details') {
  const dl = h('dl', { class: cls });
  for (const [k, v] of pairs) {
    if (v === null || v === undefined) continue;
    dl.append(h('div', null, h('dt', null, k), h('dd', null, v === '' ? '—' : v)));
  }
  return dl;
}
