// Sign-in behind a small "auth mode" seam. The shell names the mode in
// <meta name="orgcert-auth">:
// - `local` (the embedded default): /signin lists local users, tokens come from
//   POST /_local/login;
// - `oidc` (the AWS shape): authorization code with PKCE (RFC 7636, S256) against the
//   issuer in <meta name="orgcert-oidc-issuer">, the one API Gateway's JWT authorizer
//   trusts; a public client (no secret) named by <meta name="orgcert-oidc-client-id">.
// Each mode has `signIn(returnTo)` (start the login, come back to `returnTo`) and
// `signOut(previous)`; OIDC's `startSignIn` / `completeSignIn` run on /signin, which shows
// their progress and errors. Pages only call the exported functions.
//
// Tokens live in sessionStorage (one tab, gone when it closes), never in localStorage or
// cookies.
import { t } from './i18n.js';

const KEY = 'orgcert.session';
/** The login in flight (state, PKCE verifier, nonce, where to return), this tab only. */
const PENDING = 'orgcert.oidc.pending';

/** Claims of a JWT (no verification: the API verifies; this is for display only). */
export function decodeClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      [...atob(part)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
    );
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** The current session `{ token, claims, idToken? }`, or null when absent or expired. */
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

/**
 * Keeps a token obtained by the mode's login. `idToken` (OIDC) supplies the name and email
 * shown when present; `expiresIn` (seconds) stands in for a missing `exp`.
 */
export function keepToken(tok, { idToken = null, expiresIn = null } = {}) {
  const claims = decodeClaims(tok);
  if (!claims) throw new Error('not a token');
  const id = idToken ? decodeClaims(idToken) : null;
  if (id) {
    if (id.name) claims.name = id.name;
    if (id.email) claims.email = id.email;
  }
  if (!claims.exp && Number(expiresIn) > 0) claims.exp = Math.floor(Date.now() / 1000) + Number(expiresIn);
  const s = { token: tok, claims, at: Date.now() };
  if (idToken) s.idToken = idToken;
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

/** A same-origin path to return to, or `/`. */
export function safeReturn(next) {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/';
  return next;
}

function meta(name) {
  return document.querySelector(`meta[name="${name}"]`)?.content || '';
}

// ---------------------------------------------------------------- OIDC + PKCE

function oidcSettings() {
  return {
    issuer: meta('orgcert-oidc-issuer'),
    clientId: meta('orgcert-oidc-client-id'),
    scopes: meta('orgcert-oidc-scopes') || 'openid email profile',
    redirectUri: `${location.origin}/signin`,
  };
}

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `n` random bytes, base64url: 32 give a 43-character PKCE verifier (RFC 7636 §4.1). */
function randomString(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** The S256 code challenge of a verifier: BASE64URL(SHA-256(verifier)), RFC 7636 §4.2. */
export async function pkceChallenge(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** The provider's metadata (OpenID Connect Discovery 1.0). */
async function discover(issuer) {
  if (!issuer) throw new Error(t('signin.oidcConfig'));
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let doc = null;
  try {
    const r = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'omit' });
    if (r.ok) doc = await r.json();
  } catch {
    doc = null;
  }
  // The issuer in the document must be the configured one, character for character (§4.3).
  if (!doc || doc.issuer !== issuer || !doc.authorization_endpoint || !doc.token_endpoint) {
    throw new Error(t('signin.oidcDiscovery'));
  }
  return doc;
}

/** Starts the login: discovery, PKCE, then the provider's authorization endpoint. */
export async function startSignIn(returnTo = '/') {
  const cfg = oidcSettings();
  const d = await discover(cfg.issuer);
  const verifier = randomString(32);
  const pending = { state: randomString(16), nonce: randomString(16), verifier, returnTo: safeReturn(returnTo) };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const u = new URL(d.authorization_endpoint);
  const q = u.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', cfg.clientId);
  q.set('redirect_uri', cfg.redirectUri);
  q.set('scope', cfg.scopes);
  q.set('state', pending.state);
  q.set('nonce', pending.nonce);
  q.set('code_challenge', await pkceChallenge(verifier));
  q.set('code_challenge_method', 'S256');
  location.assign(u.toString());
}

/** An error on the way back from the provider, with where the user wanted to go. */
class SignInError extends Error {
  constructor(message, returnTo) {
    super(message);
    this.returnTo = returnTo || '/';
  }
}

/**
 * Handles the provider's answer on /signin (`code` and `state`, or `error`): checks the
 * state, exchanges the code with the PKCE verifier, keeps the tokens. Returns the path to
 * go back to.
 */
export async function completeSignIn(params = new URLSearchParams(location.search)) {
  const cfg = oidcSettings();
  let pending = null;
  try {
    pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  } catch {
    pending = null;
  }
  // Single use, whatever happens next.
  sessionStorage.removeItem(PENDING);
  const back = pending?.returnTo;
  if (params.get('error')) {
    throw new SignInError(t('signin.oidcRefused', { detail: params.get('error_description') || params.get('error') }), back);
  }
  // The state ties the answer to the login this tab started (RFC 6749 §10.12), and an
  // `iss` in the answer must be our issuer (RFC 9207).
  const state = params.get('state');
  if (!pending || !state || state !== pending.state || (params.has('iss') && params.get('iss') !== cfg.issuer)) {
    throw new SignInError(t('signin.oidcState'), back);
  }
  const d = await discover(cfg.issuer);
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: params.get('code') || '',
    redirect_uri: cfg.redirectUri,
    client_id: cfg.clientId,
    code_verifier: pending.verifier,
  });
  let out = null;
  let status = 0;
  try {
    const r = await fetch(d.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body,
      credentials: 'omit',
      cache: 'no-store',
    });
    status = r.status;
    out = await r.json().catch(() => null);
    if (!r.ok) throw new Error();
  } catch {
    const detail = out?.error_description || out?.error || (status ? `HTTP ${status}` : t('error.network'));
    throw new SignInError(t('signin.oidcToken', { detail }), back);
  }
  if (!out?.access_token || (out.token_type && out.token_type.toLowerCase() !== 'bearer') || !decodeClaims(out.access_token)) {
    throw new SignInError(t('signin.oidcToken', { detail: 'access_token' }), back);
  }
  if (out.id_token) {
    // Received straight from the token endpoint over TLS, so its signature need not be
    // checked here (OpenID Connect Core §3.1.3.7); its issuer, audience and nonce must match.
    const id = decodeClaims(out.id_token);
    const aud = id && (Array.isArray(id.aud) ? id.aud : [id.aud]);
    if (!id || id.iss !== cfg.issuer || !aud.includes(cfg.clientId) || id.nonce !== pending.nonce) {
      throw new SignInError(t('signin.oidcToken', { detail: 'id_token' }), back);
    }
  }
  keepToken(out.access_token, { idToken: out.id_token || null, expiresIn: out.expires_in });
  return back || '/';
}

// ---------------------------------------------------------------- modes

function toSignInPage(returnTo) {
  location.assign(`/signin?next=${encodeURIComponent(safeReturn(returnTo))}`);
}

const local = {
  signIn: toSignInPage,
  signOut() {
    location.assign('/signin');
  },
};

const oidc = {
  // The sign-in page starts the redirect, so that it can show progress and errors.
  signIn: toSignInPage,
  async signOut(previous) {
    sessionStorage.removeItem(PENDING);
    const cfg = oidcSettings();
    try {
      // RP-initiated logout when the provider offers it; otherwise only this tab forgets.
      const d = await discover(cfg.issuer);
      if (d.end_session_endpoint) {
        const u = new URL(d.end_session_endpoint);
        u.searchParams.set('client_id', cfg.clientId);
        if (previous?.idToken) u.searchParams.set('id_token_hint', previous.idToken);
        u.searchParams.set('post_logout_redirect_uri', cfg.redirectUri);
        location.assign(u.toString());
        return;
      }
    } catch {
      // The provider is unreachable: the tokens are gone from this tab all the same.
    }
    location.assign('/signin');
  },
};

const MODES = { local, oidc };

function mode() {
  const name = meta('orgcert-auth') || 'local';
  return MODES[name] ? { name, impl: MODES[name] } : { name: 'local', impl: local };
}

/** The active mode's name (`local` or `oidc`). */
export function modeName() {
  return mode().name;
}

/** Sends the user to sign in, then back to `returnTo` (default: here). */
export function signIn(returnTo = location.pathname + location.search + location.hash) {
  sessionStorage.removeItem(KEY);
  mode().impl.signIn(returnTo);
}

/**
 * The API refused the token (401): sign in again and come back here. A token that was
 * brand new when refused sends the user to /signin with `rejected` instead, which asks
 * before going to the provider again: when the API does not accept the provider's tokens
 * at all (a misconfigured audience, say), an automatic login would loop.
 */
export function rejected() {
  const s = session();
  sessionStorage.removeItem(KEY);
  const here = location.pathname + location.search + location.hash;
  if (s?.at && Date.now() - s.at < 60000) {
    location.assign(`/signin?next=${encodeURIComponent(safeReturn(here))}&rejected=1`);
    return;
  }
  mode().impl.signIn(here);
}

/** Forgets the token and leaves (through the provider's logout in OIDC mode). */
export function signOut() {
  const previous = session();
  sessionStorage.removeItem(KEY);
  return mode().impl.signOut(previous);
}

/** Forgets the token without navigating (e.g. before sending the holder to issuance). */
export function forget() {
  sessionStorage.removeItem(KEY);
}
