// Entry point: picks the page from the path, draws the common header, re-renders on a
// language switch.
import { t, getLang, setLang, onLangChange } from './i18n.js';
import { h, replace } from './dom.js';

const path = location.pathname;

async function load() {
  if (path === '/signin') return import('./signin.js');
  if (path.startsWith('/issue/') || path === '/redeem') return import('./issue.js');
  if (path === '/directory') return import('./directory.js');
  return import('./console.js');
}

function skipLink() {
  const a = h('a', { class: 'skip-link', href: '#main' }, t('common.skip'));
  a.addEventListener('click', (ev) => {
    ev.preventDefault();
    const target = document.querySelector('main h1') || document.getElementById('main');
    target.focus();
  });
  replace(document.getElementById('skip'), a);
}

const page = await load();
document.documentElement.lang = getLang();
skipLink();
onLangChange(() => {
  document.documentElement.lang = getLang();
  skipLink();
  page.rerender();
});
page.start();

export { setLang };
