// Sign-in behind a small "auth mode" seam. The shell names the mode in
// <meta name="orgcert-auth">; only `local` exists now. An OIDC mode (authorization code
// with PKCE against the production identity provider) is added by writing another entry
// in MODES with the same three functions: `signIn(returnTo)` starts the login and comes
// back to `returnTo`, `completeSignIn()` handles the return (for OIDC: exchange the code,
// check state, keep the token), `signOut()`. Pages only call the exported functions.
//
// Tokens live in sessionStorage (one tab, gone when it closes), never in localStorage or
// cookies.

const KEY = 'orgcert.session';

/** Claims of a JWT (no verification: the API verifies; this is for display only). */
export function decodeClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      [...atob(part)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

/** The current session `{ token, claims }`, or null when absent or expired. */
export function session() {
  let s = null;
  try {
    s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
  } catch {
    s = null;
  }
  if (!s || !s.token || !s.claims) return null;
  if (s.claims.exp && s.claims.exp * 1000 < Date.now() + 5000) {
    sessionStorage.removeItem(KEY);
    return null;
  }
  return s;
}

/** The bearer token, or null. */
export function token() {
  return session()?.token || null;
}

/** The signed-in user's roles. */
export function roles() {
  return session()?.claims?.roles || [];
}

/** Whether the signed-in user has `role`. */
export function hasRole(role) {
  return roles().includes(role);
}

/** Keeps a token obtained by the mode's login. */
export function keepToken(tok) {
  const claims = decodeClaims(tok);
  if (!claims) throw new Error('not a token');
  sessionStorage.setItem(KEY, JSON.stringify({ token: tok, claims }));
}

/** A same-origin path to return to, or `/`. */
export function safeReturn(next) {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/';
  return next;
}

const local = {
  signIn(returnTo) {
    location.assign(`/signin?next=${encodeURIComponent(safeReturn(returnTo))}`);
  },
  signOut() {
    location.assign('/signin');
  },
};

const MODES = { local };

function mode() {
  const name = document.querySelector('meta[name="orgcert-auth"]')?.content || 'local';
  return { name, impl: MODES[name] || local };
}

/** The active mode's name (`local`). */
export function modeName() {
  return mode().name;
}

/** Sends the user to sign in, then back to `returnTo` (default: here). */
export function signIn(returnTo = location.pathname + location.search + location.hash) {
  sessionStorage.removeItem(KEY);
  mode().impl.signIn(returnTo);
}

/** Forgets the token and leaves. */
export function signOut() {
  sessionStorage.removeItem(KEY);
  mode().impl.signOut();
}

/** Forgets the token without navigating (e.g. before sending the holder to issuance). */
export function forget() {
  sessionStorage.removeItem(KEY);
}
