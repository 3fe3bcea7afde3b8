// Journey 3: a holder changes their own PIN, with no operator. Insert the
// card; the profile's PIN rules are shown before anything is typed; current
// PIN, new PIN, new PIN again on the keypad; the three are sealed together,
// sent once (POST /v1/cards/{card}/pin) and wiped. A wrong current PIN shows
// the tries the card has left; a blocked PIN sends the holder to the help
// desk.
import { h, replace, msg, focusHeading, announce } from '../dom.js';
import { apiReader, api, ApiError } from '../api.js';
import { sealAll } from '../seal.js';
import { keypad, shuffleWanted } from '../keypad.js';
import * as readers from '../readers.js';
import { CardWatch, cardsIn, policyItems, cardId, pinBlockedView, holderDoneView } from '../journey.js';

export function mount(main, ctx) {
  const st = { step: 'insert', card: null, policy: null, note: null, old: null, neu: null, again: null };
  let unsubInsert = null;
  const watch = new CardWatch({
    other: () => restart(msg('warn', 'A different card was inserted: starting again with it.')),
    cancel: () => { wipe(); ctx.go(''); },
    back: () => announce('Card back: continue where you were.'),
  });

  function wipe() {
    for (const k of ['old', 'neu', 'again']) if (st[k]) { st[k].wipe(); st[k] = null; }
  }

  function restart(note) {
    wipe();
    watch.stop();
    Object.assign(st, { step: 'insert', card: null, policy: null, note: note || null });
    draw();
  }

  async function choose(r) {
    st.card = r;
    watch.follow(r.name, r.guid);
    try {
      const p = await api('GET', '/v1/profiles');
      const prof = (p.body.profiles || []).find((x) => x.name === r.profile);
      st.policy = prof && prof.pin ? prof.pin : null;
    } catch (e) {
      st.policy = null;
    }
    st.step = 'old';
    st.note = null;
    draw();
  }

  function cardLine() {
    return h('p', { 'data-testid': 'card-line' }, `Card ${st.card.serial || st.card.guid} in ${st.card.name}`);
  }

  function policyPanel() {
    return h('section', { class: 'panel policy', 'aria-labelledby': 'policy-h', 'data-testid': 'policy' },
      h('h2', { id: 'policy-h' }, 'Your new PIN must be'),
      h('ul', null, policyItems(st.policy).map((t) => h('li', null, t))));
  }

  function pad(id, label, okText, next) {
    const kp = keypad({ id, label, okText, shuffle: shuffleWanted(), min: 6,
      max: st.policy ? st.policy.max_length : 8, onSubmit: next });
    return kp;
  }

  function localCheck(sec) {
    const p = st.policy;
    if (!p) return null;
    if (sec.length < p.min_length || sec.length > p.max_length)
      return `The new PIN must have ${p.min_length} to ${p.max_length} digits.`;
    if (p.digits_only && !sec.allDigits()) return 'The new PIN must be digits only.';
    return null;
  }

  async function send() {
    st.step = 'sending';
    draw();
    readers.pause();
    try {
      const [o, n, a] = await sealAll([st.old, st.neu, st.again]);
      st.old = st.neu = st.again = null;
      await apiReader('POST', `/v1/cards/${encodeURIComponent(cardId(st.card))}/pin`,
        { reader: st.card.name, old_pin: o, new_pin: n, new_pin_again: a });
      st.step = 'done';
      st.note = null;
    } catch (e) {
      wipe();
      refused(e);
    } finally {
      readers.resume();
    }
    draw();
  }

  function refused(e) {
    const b = (e instanceof ApiError && e.body) || {};
    if (e.code === 'wrong_pin' && b.tries_left > 0) {
      st.step = 'old';
      st.note = msg('error', 'Wrong current PIN. ',
        h('span', null, h('span', { 'data-testid': 'tries-left' }, String(b.tries_left)),
          b.tries_left === 1 ? ' try left.' : ' tries left.'));
    } else if (e.code === 'pin_blocked' || (e.code === 'wrong_pin' && b.tries_left === 0)) {
      st.step = 'blocked';
    } else if (e.code === 'pin_policy' || e.code === 'pin_mismatch') {
      // Everything typed was sent once and wiped: all three again.
      st.step = 'old';
      st.note = msg('error', `The new PIN was refused. ${e.message} Type your current PIN, then another new PIN.`);
    } else if (e.code === 'no_card' || e.code === 'different_card') {
      restart(msg('warn', 'The card was not in its reader: insert it and start again.'));
    } else {
      st.step = 'refused';
      st.note = msg('error', e.message || 'The station refused the change.');
    }
  }

  function drawInsert() {
    const list = readers.current();
    const active = cardsIn(list, 'active');
    const others = cardsIn(list, null).filter((r) => r.inventory !== 'active');
    const out = [h('h1', null, 'Change my PIN'), st.note];
    if (active.length === 1 && !st.note) {
      if (!st.choosing) { st.choosing = true; choose(active[0]).finally(() => { st.choosing = false; }); }
      return [h('h1', null, 'Change my PIN'), h('p', null, 'Reading your card\u2026')];
    }
    if (active.length === 0) {
      out.push(h('p', { class: 'lead' }, 'Insert your card in a reader.'));
      for (const r of others)
        out.push(msg('warn', `The card in ${r.name} is ${r.inventory === 'unknown' ? 'not one this station issued' : r.inventory}: it cannot change its PIN here. The help desk can help.`));
    } else {
      out.push(h('p', null, 'Which card is yours?'),
        active.map((r) => h('button', { type: 'button', class: 'secondary', onclick: () => choose(r) },
          `Card ${r.serial || r.guid} in ${r.name}`)));
    }
    return out;
  }

  function draw() {
    let body;
    switch (st.step) {
      case 'insert':
        body = drawInsert();
        if (!unsubInsert) unsubInsert = readers.subscribe((list) => {
          // Redrawn only when the cards change: no focus stolen every second.
          const key = JSON.stringify(cardsIn(list, null));
          if (st.step === 'insert' && key !== st.seen) { st.seen = key; draw(); }
        });
        break;
      case 'old':
        body = [h('h1', null, 'Change my PIN'), cardLine(), st.note, h('div', { class: 'row' },
          pad('pin-old', 'Your current PIN', 'Next', (s) => { st.old = s; st.step = 'new'; st.note = null; draw(); }).el,
          policyPanel())];
        break;
      case 'new':
        body = [h('h1', null, 'Choose a new PIN'), cardLine(), st.note, h('div', { class: 'row' },
          pad('pin-new', 'New PIN', 'Next', (s) => {
            const bad = localCheck(s);
            if (bad) { s.wipe(); st.note = msg('error', bad); draw(); return; }
            st.neu = s; st.step = 'again'; st.note = null; draw();
          }).el, policyPanel())];
        break;
      case 'again':
        body = [h('h1', null, 'Type the new PIN again'), cardLine(), h('div', { class: 'row' },
          pad('pin-again', 'New PIN again', 'Change PIN', (s) => {
            if (!s.equals(st.neu)) {
              s.wipe(); st.neu.wipe(); st.neu = null;
              st.step = 'new'; st.note = msg('error', 'The two new PINs differ. Choose the new PIN again.');
              draw(); return;
            }
            st.again = s; send();
          }).el, policyPanel())];
        break;
      case 'sending':
        body = [h('h1', null, 'Changing your PIN\u2026'), cardLine(), h('p', { 'aria-busy': 'true' }, 'Keep the card in the reader.')];
        break;
      case 'done':
        body = holderDoneView('PIN changed', cardLine(), 'Your PIN is changed. You can take your card.', null, watch, ctx.go);
        break;
      case 'blocked':
        watch.stop();
        body = pinBlockedView(cardLine(), ctx.go);
        break;
      default:
        body = [h('h1', null, 'PIN not changed'), st.note,
          h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => restart() }, 'Start again'))];
    }
    replace(main, body);
    main.setAttribute('data-step', st.step);
    focusHeading(main);
  }

  draw();
  return {
    unmount() {
      wipe();
      watch.stop();
      if (unsubInsert) unsubInsert();
    },
  };
}
