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

// opts.timeoutMs: give up (ApiError 0, "timeout") after that long;
// opts.signal: an AbortSignal that cancels the request (ApiError 0).
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' };
  const signals = [];
  if (opts.timeoutMs) signals.push(AbortSignal.timeout(opts.timeoutMs));
  if (opts.signal) signals.push(opts.signal);
  if (signals.length) init.signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals);
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

// Follow a long operation without polling: GET /v1/operations/{op}?wait=S&steps=N
// answers as soon as the journal has more than the N steps this page has
// shown, or the operation ended, or after S seconds (docs/daemon.md). Each
// answer goes to onUpdate; the end (state not "running") to onEnd, once.
// Asked again at once after an answer with new steps; an answer without any
// (the wait ran out, or the station answered at once because enough other
// requests wait already) is followed by a pause, and an error by a longer
// one: never a busy loop. Returns { stop() }: the request in flight is
// aborted and nothing is called any more.
export const FOLLOW_WAIT_S = 20;	// the station allows 30 at most
export const FOLLOW_IDLE_MS = 1000;	// after an answer without a new step
export const FOLLOW_RETRY_MS = 2000;	// after an error

// How many operations a screen follows now: the kiosk's idle timer does not
// go home while one runs (a real card's key generation takes seconds each).
let followers = 0;
export function following() { return followers > 0; }

export function followOp(op, { onUpdate, onEnd: ended }) {
  const ctl = new AbortController();
  let timer = null;
  let seen = 0;
  let live = true;
  followers++;
  const done = () => { if (live) { live = false; followers--; } };
  const onEnd = (o) => { done(); ended(o); };
  // steps= is at most 1000 (docs/api.yaml): past that the station answers at
  // once, and the pause after an answer without a new step paces the page.
  const path = () => `/v1/operations/${encodeURIComponent(op)}?wait=${FOLLOW_WAIT_S}&steps=${Math.min(seen, 1000)}`;
  async function ask() {
    timer = null;
    let pause = FOLLOW_RETRY_MS;
    try {
      const r = await api('GET', path(), undefined,
        { timeoutMs: (FOLLOW_WAIT_S + 15) * 1000, signal: ctl.signal });
      if (ctl.signal.aborted) return;
      const o = r.body;
      const n = Array.isArray(o.steps) ? o.steps.length : 0;
      pause = n > seen ? 0 : FOLLOW_IDLE_MS;
      seen = Math.max(seen, n);
      if (o.state !== 'running') { onEnd(o); return; }
      onUpdate(o);
    } catch (e) {
      if (ctl.signal.aborted) return;
      // An unknown operation will not appear later: end with what is known.
      if (e instanceof ApiError && e.status === 404) { onEnd({ state: 'unknown', error: e.message, steps: [] }); return; }
    }
    timer = setTimeout(ask, pause);
  }
  ask();
  return { stop() { ctl.abort(); clearTimeout(timer); done(); } };
}
