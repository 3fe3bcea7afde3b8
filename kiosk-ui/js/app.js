// The kiosk: one page, a screen per journey chosen by the URL's hash
// (#pin, #login, #issue, #unblock, #retire, #replace, #temporary, #return,
// #reports, #approvals, #stock, #renew). Plain ES modules, no build step.
import { h, replace, focusHeading } from './dom.js';
import { following } from './api.js';
import * as readers from './readers.js';
import * as session from './session.js';
import * as home from './screens/home.js';
import * as pin from './screens/pin.js';
import * as login from './screens/login.js';
import * as issue from './screens/issue.js';
import * as unblock from './screens/unblock.js';
import * as retire from './screens/retire.js';
import * as replaceCard from './screens/replace.js';
import * as temporary from './screens/temporary.js';
import * as giveBack from './screens/return.js';
import * as reports from './screens/reports.js';
import * as approvals from './screens/approvals.js';
import * as stock from './screens/stock.js';
import * as renew from './screens/renew.js';

const screens = { '': home, pin, login, issue, unblock, retire, replace: replaceCard, temporary, return: giveBack, reports, approvals, stock, renew };
// The role each operator journey needs (the server decides; this only
// routes to the login first). A list: any of these roles.
export const NEEDS = { issue: 'badge_officer', unblock: 'helpdesk', retire: 'security_officer',
  replace: ['badge_officer', 'security_officer'], temporary: ['badge_officer', 'security_officer', 'helpdesk'],
  return: ['badge_officer', 'security_officer', 'helpdesk'], reports: ['auditor', 'security_officer', 'administrator'],
  approvals: ['badge_officer', 'helpdesk', 'security_officer', 'administrator'],
  stock: ['badge_officer', 'helpdesk', 'security_officer', 'auditor', 'administrator'] };
const TITLES = { '': 'Home', pin: 'Change my PIN', issue: 'Issue a card', unblock: 'Unblock a card',
  retire: 'Retire a card', login: 'Operator login', replace: 'Replace a card', temporary: 'Temporary card',
  return: 'Return a temporary card', reports: 'Reports', approvals: 'Approvals', stock: 'Stock',
  renew: 'Renew my card' };

let active = null;
let activeName = null;

function parse() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [name, query] = raw.split('?');
  return { name: Object.hasOwn(screens, name) ? name : '', params: new URLSearchParams(query || '') };
}

export function go(name, params) {
  const q = params ? `?${new URLSearchParams(params)}` : '';
  const want = `#${name}${q}`;
  if (location.hash === want || (want === '#' && location.hash === '')) show();
  else location.hash = want;
}

function drawNav(name) {
  const nav = document.getElementById('nav');
  // A link to the screen in view starts it again (no hashchange for that).
  const link = (n, text) => h('a', { href: `#${n}`, 'aria-current': n === name ? 'page' : null,
    onclick: (ev) => { ev.preventDefault(); go(n); } }, text);
  const items = [link('pin', TITLES.pin)];
  for (const n of ['issue', 'unblock', 'retire', 'approvals'])
    if (session.hasRole(NEEDS[n])) items.push(link(n, TITLES[n]));
  replace(nav, items);
  const op = document.getElementById('operator');
  const s = session.current();
  if (s) {
    const roles = (s.roles || []).map((r) => session.ROLE_NAMES[r] || r).join(', ');
    replace(op, h('span', { 'data-testid': 'operator-name' }, `${s.operator} (${roles})`),
      h('button', { type: 'button', class: 'secondary', onclick: async () => { await session.logout(); go(''); } },
        'Log out'));
  } else {
    replace(op, link('login', 'Operator login'));
  }
}

function show() {
  const { name, params } = parse();
  if (NEEDS[name] && !session.hasRole(NEEDS[name])) {
    go('login', { next: name });
    return;
  }
  if (active && active.unmount) active.unmount();
  const main = document.getElementById('main');
  replace(main);
  activeName = name;
  document.title = `${TITLES[name]} \u2013 Card station`;
  active = screens[name].mount(main, { go, params, NEEDS });
  drawNav(name);
  focusHeading(main);
}

session.subscribe((now, was) => {
  drawNav(activeName);
  // The session ended (timeout, card pulled, logout): leave operator screens.
  if (was && !now && NEEDS[activeName]) go('login', { next: activeName, ended: '1' });
});

// A kiosk left alone goes back home: leaving a screen wipes whatever was
// typed on it (each screen's unmount). An operator's session has its own
// idle timeout on the server.
export const IDLE_MS = 120000;
let idle = null;
function awake() {
  clearTimeout(idle);
  // An operation the screen follows keeps it: the timer starts again.
  idle = setTimeout(() => { if (following()) awake(); else if (activeName !== '') go(''); }, IDLE_MS);
}
for (const ev of ['pointerdown', 'keydown', 'touchstart']) window.addEventListener(ev, awake, { passive: true });
awake();

window.addEventListener('hashchange', show);
readers.start();
session.refresh().finally(show);
