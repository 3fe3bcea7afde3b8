// The on-screen PIN keypad. Digits go into a Secret (seal.js), the screen
// shows only one dot per digit. Optionally shuffled (a fresh layout each time
// it is drawn) so a shoulder-surfer's view of finger positions says nothing.
// Keyboard: every key is a button (Tab, Enter/Space); digits typed while the
// keypad has focus count too, Backspace erases, Enter confirms.
import { h } from './dom.js';
import { Secret } from './seal.js';

export function shuffleWanted() {
  try { return localStorage.getItem('kiosk.shuffle') === '1'; } catch (e) { return false; }
}
export function setShuffle(on) {
  try { localStorage.setItem('kiosk.shuffle', on ? '1' : '0'); } catch (e) { /* private mode */ }
}

function order(shuffle) {
  const d = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'];
  if (!shuffle) return d;
  const r = new Uint32Array(d.length);
  crypto.getRandomValues(r);
  for (let i = d.length - 1; i > 0; i--) {
    const j = r[i] % (i + 1);
    [d[i], d[j]] = [d[j], d[i]];
  }
  return d;
}

// opts: label (visible), id, max (8), min (6), shuffle, onSubmit(secret), okText.
export function keypad(opts) {
  const max = opts.max || 8;
  const min = opts.min || 6;
  const secret = new Secret(max);
  const labelId = `${opts.id}-label`;
  const dots = h('output', { class: 'dots', id: `${opts.id}-dots`, 'aria-live': 'polite',
    'aria-label': '0 digits entered', 'data-testid': `${opts.id}-dots` });
  const ok = h('button', { type: 'button', class: 'fn', 'data-key': 'ok', disabled: true,
    'aria-label': opts.okText || 'OK' }, opts.okText || 'OK');
  const show = () => {
    dots.textContent = '\u25CF'.repeat(secret.length);
    dots.setAttribute('aria-label', `${secret.length} ${secret.length === 1 ? 'digit' : 'digits'} entered`);
    ok.disabled = secret.length < min;
  };
  const press = (d) => { if (secret.push(d.charCodeAt(0))) show(); };
  const back = () => { secret.pop(); show(); };
  const submit = () => { if (secret.length >= min) opts.onSubmit(secret); };
  ok.addEventListener('click', submit);
  const keys = order(opts.shuffle).map((d) =>
    h('button', { type: 'button', 'data-key': d, onclick: () => press(d) }, d));
  const grid = h('div', { class: 'keys' },
    keys.slice(0, 9),
    h('button', { type: 'button', class: 'fn secondary', 'data-key': 'back', 'aria-label': 'Erase last digit',
      onclick: back }, '\u232B'),
    keys[9], ok);
  const root = h('div', { class: 'keypad', role: 'group', 'aria-labelledby': labelId, id: opts.id,
    'data-testid': opts.id },
    h('div', { id: labelId, class: 'kp-label' }, h('strong', null, opts.label)),
    dots, grid);
  root.addEventListener('keydown', (ev) => {
    if (ev.key >= '0' && ev.key <= '9' && ev.key.length === 1) { press(ev.key); ev.preventDefault(); }
    else if (ev.key === 'Backspace') { back(); ev.preventDefault(); }
    else if (ev.key === 'Enter' && ev.target === root) { submit(); ev.preventDefault(); }
  });
  root.tabIndex = -1;
  return {
    el: root,
    secret,
    focus() { (keys[0] || root).focus(); },
    // Wipe and redraw: nothing typed stays in memory or on screen.
    clear() { secret.wipe(); show(); },
  };
}
