// Operator login (login contract): the operator's own card in a reader, its
// PIN on the keypad (optionally shuffled), sealed and sent once to
// POST /v1/login; the server checks the PIN on the card, has the card sign a
// challenge and finds the operator's roles. The cookie it sets is HttpOnly.
import { h, replace, msg, focusHeading } from '../dom.js';
import { ApiError } from '../api.js';
import { sealAll } from '../seal.js';
import { keypad, shuffleWanted, setShuffle } from '../keypad.js';
import * as readers from '../readers.js';
import * as session from '../session.js';
import { cardsIn } from '../journey.js';

const WHY = {
  pin_blocked: 'This card\'s PIN is blocked: a security officer can unblock it.',
  not_an_operator: 'This card does not belong to an operator of this station.',
  untrusted_card: 'This card\'s certificate is not trusted by this station.',
  no_card: 'There is no card in that reader.',
  not_found: 'This station does not offer operator login yet.',
};

export function mount(main, ctx) {
  let reader = null;
  let note = ctx.params.get('ended') ? msg('warn', 'Your session ended (idle time, or your card was removed). Log in again.') : null;
  let kp = null;
  let busy = false;
  let seen = null;

  async function submit(secret) {
    if (busy || !reader) { secret.wipe(); return; }
    busy = true;
    readers.pause();
    try {
      const [pin] = await sealAll([secret]);
      await session.login(reader, pin);
      const next = ctx.params.get('next');
      ctx.go(next && ctx.NEEDS[next] ? next : '');
      return;
    } catch (e) {
      const b = (e instanceof ApiError && e.body) || {};
      if (e.code === 'pin_wrong')
        note = msg('error', 'Wrong PIN. ', h('span', { 'data-testid': 'tries-left' }, String(b.tries_left)),
          b.tries_left === 1 ? ' try left.' : ' tries left.');
      else if (e.code === 'rate_limited')
        note = msg('error', `Too many attempts: wait ${b.retry_after || 'a few'} seconds.`);
      else
        note = msg('error', WHY[e.code] || e.message || 'Login refused.');
    } finally {
      busy = false;
      readers.resume();
      secret.wipe();
    }
    draw();
  }

  function draw() {
    const list = cardsIn(readers.current(), null);
    if (reader && !list.find((r) => r.name === reader)) reader = null;
    if (!reader && list.length === 1) reader = list[0].name;
    if (kp) kp.clear();
    kp = keypad({ id: 'login-pin', label: 'Your PIN', okText: 'Log in', shuffle: shuffleWanted(), onSubmit: submit });
    const shuffle = h('input', { type: 'checkbox', id: 'shuffle', checked: shuffleWanted() || null,
      onchange: (ev) => { setShuffle(ev.target.checked); draw(); } });
    replace(main,
      h('h1', null, 'Operator login'),
      note,
      list.length === 0
        ? h('p', { class: 'lead' }, 'Insert your operator card in a reader.')
        : h('fieldset', { class: 'panel' }, h('legend', null, 'Your card'),
          list.map((r) => h('label', { class: 'choice' },
            h('input', { type: 'radio', name: 'reader', value: r.name, checked: r.name === reader || null,
              onchange: () => { reader = r.name; } }),
            `${r.name}: card ${r.serial || ''}`))),
      list.length === 0 ? null : h('div', { class: 'row' }, kp.el,
        h('div', null, h('label', { class: 'choice', for: 'shuffle' }, shuffle, 'Shuffle the keypad'))));
    focusHeading(main);
  }

  const unsub = readers.subscribe((l) => {
    const key = JSON.stringify(cardsIn(l, null).map((r) => r.name));
    if (key !== seen && !busy) { seen = key; draw(); }
  });
  return { unmount() { unsub(); if (kp) kp.clear(); } };
}
