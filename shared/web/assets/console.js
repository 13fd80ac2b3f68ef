// The administration console: Menu > Certificates (list, search, create, profile window),
// Settings, Audit, and notifications. What is shown follows the caller's roles: a rights
// administrator sees everything read-only, with no control that would change anything.
import * as auth from './auth.js';
import { refreshNotifications } from './layout.js';
import { navigate, draw } from './console-core.js';
// Each view registers itself with the core (no build step: plain ES modules).
import './console-list.js';
import './console-create.js';
import './console-profile.js';
import './console-settings.js';
import './console-audit.js';
import './console-home.js';

export async function start() {
  if (!auth.token()) {
    auth.signIn(`/${location.hash}`);
    return;
  }
  window.addEventListener('hashchange', navigate);
  await navigate();
  refreshNotifications();
  setInterval(() => { if (auth.token()) refreshNotifications(); }, 60000);
}

export function rerender() {
  draw(false);
}
