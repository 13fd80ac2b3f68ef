// Settings: the organisation and its certificate switches (org_admin changes them).
import { t } from './i18n.js';
import { h, checkbox, announce, defList } from './dom.js';
import { api } from './api.js';
import { S, VIEWS, LOADERS } from './console-core.js';
import * as auth from './auth.js';

LOADERS.settings = async () => {
  S.org = await api('GET', '/v1/organisation');
};

const SWITCHES = ['organisation_certificates_enabled', 'seal_generation_allowed', 'local_idp_enabled', 'nemhandel_enabled'];

VIEWS.settings = () => {
  const o = S.org;
  const orgInfo = defList([
    [t('org.name'), o.name],
    [t('org.cvr'), o.cvr],
    [t('org.pNumbers'), o.p_numbers.join(', ') || '—'],
    [t('org.seNumbers'), o.se_numbers.join(', ') || '—'],
  ]);
  let body;
  if (auth.hasRole('org_admin')) {
    body = h('div', { class: 'switches' }, h('p', { class: 'hint' }, t('settings.autoSave')), SWITCHES.map((k) => {
      const c = checkbox({ label: t(`settings.${k}`), hint: t(`settings.${k}Hint`), name: k, role: 'switch', checked: o.settings[k],
        onchange: async (ev) => {
          const box = ev.target;
          try {
            S.org = await api('PATCH', '/v1/organisation/settings', { body: { [k]: box.checked } });
            announce(t('settings.saved'));
          } catch (e) {
            box.checked = !box.checked;
            announce(e.message, 'error');
          }
        } });
      c.classList.add('switch');
      return c;
    }));
  } else {
    body = [defList(SWITCHES.map((k) => [t(`settings.${k}`), o.settings[k] ? t('settings.on') : t('settings.off')])),
      h('p', { class: 'hint' }, t('settings.readOnly'))];
  }
  return h('div', { class: 'page' },
    h('h1', null, t('title.settings')),
    h('section', { class: 'card', 'aria-labelledby': 'sec-org' }, h('h2', { id: 'sec-org' }, t('settings.organisation')), orgInfo),
    h('section', { class: 'card', 'aria-labelledby': 'sec-settings' }, h('h2', { id: 'sec-settings' }, t('settings.certificates')), body));
};
