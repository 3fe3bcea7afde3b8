// The station API over fetch (same origin, JSON). Operator sessions (the
// cm_session cookie, HttpOnly, set by POST /v1/login) travel by themselves;
// the CSRF token from the login answer is kept here, in memory only, and
// sent on every state-changing request (docs/api.md; login contract).

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.error) || 'http';
    this.body = body || {};
  }
}

let csrf = null;
const sessionEnded = new Set();

export function setCsrf(token) { csrf = token || null; }
export function onSessionEnded(fn) { sessionEnded.add(fn); }

// opts.timeoutMs: give up (ApiError 0, "timeout") after that long.
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' };
  if (opts.timeoutMs) init.signal = AbortSignal.timeout(opts.timeoutMs);
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { error: e && e.name === 'TimeoutError' ? 'timeout' : 'network',
      message: 'the station does not answer' });
  }
  let j = null;
  try { j = await r.json(); } catch (e) { j = null; }
  if (!r.ok) {
    if (r.status === 401 && j && j.error === 'no_session' && csrf) {
      csrf = null;
      for (const fn of sessionEnded) fn();
    }
    throw new ApiError(r.status, j);
  }
  return { status: r.status, body: j || {} };
}

// A request that touches a reader: the station answers 409 reader_busy while
// another request (the reader list itself) holds it for a moment; retried a
// few times. The body holds only ciphertext, so sending it again reveals
// nothing new.
export async function apiReader(method, path, body) {
  for (let i = 0; ; i++) {
    try {
      return await api(method, path, body);
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== 'reader_busy' || i >= 8) throw e;
      await new Promise((res) => setTimeout(res, 250 + 100 * i));
    }
  }
}
