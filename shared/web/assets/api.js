// The only door to the HTTP API: bearer token, JSON, problem+json errors.
import * as auth from './auth.js';
import { t } from './i18n.js';

/** An error answer: `status`, the problem document, its field errors. */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || t('error.http', { status }));
    this.status = status;
    this.problem = problem || {};
    this.errors = (problem && problem.errors) || [];
  }
  /** The problem type slug, e.g. `stale-version`. */
  get kind() {
    return String(this.problem.type || '').split(':').pop();
  }
}

/**
 * Calls the API. `opts`: `{ body, headers, raw, public }`. A 401 while signed in sends the
 * user to sign in again and back here (`auth.rejected`).
 */
export async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  const tok = opts.public ? null : auth.token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, { detail: t('error.network') });
  }
  if (resp.status === 401 && !opts.public) {
    auth.rejected();
    throw new ApiError(401, { detail: t('error.signedOut') });
  }
  if (!resp.ok) {
    let problem = null;
    try {
      problem = await resp.json();
    } catch {
      problem = null;
    }
    throw new ApiError(resp.status, problem);
  }
  if (opts.raw) return resp;
  if (resp.status === 204) return null;
  return resp.json();
}

/** A fresh Idempotency-Key for an ordering POST (a double click orders once). */
export function idempotencyKey() {
  return crypto.randomUUID();
}
