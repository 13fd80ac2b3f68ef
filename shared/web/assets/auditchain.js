// Checks the audit chain of the events a page shows (API.md "Audit chain and events"), in
// this browser and without trusting the server's word: each event's hash is recomputed
// as SHA-256 over its RFC 8785 canonical JSON without `hash`, and each event must link
// to the one before it (seq + 1, prev_hash = that event's hash).

export const GENESIS = '0'.repeat(64);

// RFC 8785 (JCS) for the values an audit event holds: object keys sorted by UTF-16 code
// units (what Array.prototype.sort does without a comparator), strings and numbers as
// ECMAScript's JSON.stringify writes them (which is what RFC 8785 §3.2.2 specifies).
export function canonical(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// `events` newest first, as GET /v1/audit pages them. Returns
// { state: 'verified', head, checked, legacy } | { state: 'broken', event, reason }
// | { state: 'unavailable' } (no Web Crypto: not a secure context).
export async function verifyPage(events) {
  if (!globalThis.crypto?.subtle) return { state: 'unavailable' };
  let checked = 0;
  let legacy = 0;
  let newer = null;
  for (const e of events) {
    if (e.seq === undefined || e.seq === null) {
      // Written before the chain existed: older than every chained event.
      legacy += 1;
      if (newer && newer.seq !== 1) return { state: 'broken', event: newer, reason: 'unchained' };
      newer = null;
      continue;
    }
    if (legacy > 0) return { state: 'broken', event: e, reason: 'unchained' };
    const { hash, ...rest } = e;
    if ((await sha256Hex(canonical(rest))) !== hash) return { state: 'broken', event: e, reason: 'hash' };
    if (newer && (newer.seq !== e.seq + 1 || newer.prev_hash !== hash)) {
      return { state: 'broken', event: newer, reason: 'link' };
    }
    if (e.seq === 1 && e.prev_hash !== GENESIS) return { state: 'broken', event: e, reason: 'link' };
    checked += 1;
    newer = e;
  }
  const head = events.find((e) => e.hash)?.hash ?? null;
  return { state: 'verified', head, checked, legacy };
}
