// The operator's session (login contract: POST /v1/login, GET /v1/session,
// POST /v1/logout). The cookie is HttpOnly: the page never sees it; it keeps
// the operator's name, roles, reader and the CSRF token in memory only.
// GET /v1/session is asked again every few seconds: the server ends the
// session on idle timeout or when the operator's card leaves its reader.
import { api, apiReader, ApiError, setCsrf, onSessionEnded } from './api.js';

let cur = null;
const listeners = new Set();
let timer = null;

export const ROLE_NAMES = {
  badge_officer: 'Badge officer',
  helpdesk: 'Help desk',
  security_officer: 'Security officer',
  auditor: 'Auditor',
  administrator: 'Administrator',
};

export function current() { return cur; }
// role: one role name, or a list (any of them).
export function hasRole(role) {
  if (!cur || !Array.isArray(cur.roles)) return false;
  return Array.isArray(role) ? role.some((r) => cur.roles.includes(r)) : cur.roles.includes(role);
}
export function subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function set(s) {
  const was = cur;
  cur = s && s.operator ? s : null;
  setCsrf(cur ? cur.csrf : null);
  if (JSON.stringify(was) !== JSON.stringify(cur)) for (const fn of listeners) fn(cur, was);
  clearTimeout(timer);
  if (cur) timer = setTimeout(refresh, 5000);
}

export async function refresh() {
  try {
    const r = await api('GET', '/v1/session');
    set(r.body);
  } catch (e) {
    // 401 no_session: none or ended; 404: this station has no operator
    // sessions yet (the kiosk is the holder's).
    if (e instanceof ApiError && (e.status === 401 || e.status === 404)) set(null);
    else if (cur) timer = setTimeout(refresh, 5000);
  }
  return cur;
}

// pin: the sealed PIN (base64). Resolves to the session; throws ApiError.
export async function login(reader, pin) {
  const r = await apiReader('POST', '/v1/login', { reader, pin });
  set(r.body);
  return cur;
}

export async function logout() {
  try { await api('POST', '/v1/logout', {}); } catch (e) { /* ended anyway */ }
  set(null);
}

onSessionEnded(() => set(null));
