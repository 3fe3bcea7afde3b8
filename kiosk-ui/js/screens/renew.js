// Renewal on presentation (issue 9): a holder's card whose requirements
// list is not empty (GET /v1/readers carries it per card) shows what it
// needs and why; the holder types their PIN on the keypad; it is sealed,
// sent once (POST /v1/cards/{card}/renew) and wiped. The station makes the
// new keys on the card, writes the certificates and revokes the old ones
// as superseded. A wrong PIN shows the tries left; a blocked PIN sends the
// holder to the help desk.
import { h, replace, msg, focusHeading } from '../dom.js';
import { apiReader, ApiError } from '../api.js';
import { sealAll } from '../seal.js';
import { keypad, shuffleWanted } from '../keypad.js';
import * as readers from '../readers.js';
import { CardWatch, cardsIn, cardId, pinBlockedView, holderDoneView } from '../journey.js';

const SLOT_NAMES = { '9a': 'Authentication (9A)', '9c': 'Digital signature (9C)',
  '9d': 'Encryption (9D)', '9e': 'Card authentication (9E)' };
const REASONS = { missing: 'missing', revoked: 'revoked', on_crl: 'on the CA\u2019s revocation list',
  expired: 'expired', expiring: 'expires soon', profile_version: 'the card profile changed',
  supersedes: 'replaces an older certificate' };

export function slotName(s) { return SLOT_NAMES[s] || `Retired slot ${s.toUpperCase()}`; }
export function needsRenewal(r) { return !!r && r.inventory === 'active' && Array.isArray(r.requirements) && r.requirements.length > 0; }

export function mount(main, ctx) {
  const st = { step: 'insert', card: null, note: null, pin: null, result: null };
  let unsub = null;
  const watch = new CardWatch({
    other: () => restart(msg('warn', 'A different card was inserted: starting again with it.')),
    cancel: () => { wipe(); ctx.go(''); },
  });

  function wipe() { if (st.pin) { st.pin.wipe(); st.pin = null; } }

  function restart(note) {
    wipe();
    watch.stop();
    Object.assign(st, { step: 'insert', card: null, note: note || null, result: null });
    draw();
  }

  function choose(r) {
    st.card = r;
    watch.follow(r.name, r.guid);
    st.step = needsRenewal(r) ? 'pin' : 'nothing';
    draw();
  }

  function list() {
    return h('ul', { 'data-testid': 'requirements' }, (st.card.requirements || []).map((q) =>
      h('li', { 'data-slot': q.slot }, `${slotName(q.slot)}: ${q.reasons.map((x) => REASONS[x] || x).join(', ')}`,
        q.key === 'new' ? ' \u2013 a new key is made on the card' : ' \u2013 the card keeps its key')));
  }

  function cardLine() {
    return h('p', { 'data-testid': 'card-line' }, `Card ${st.card.serial || st.card.guid} in ${st.card.name}`);
  }

  async function send() {
    st.step = 'sending';
    draw();
    readers.pause();
    try {
      const [p] = await sealAll([st.pin]);
      st.pin = null;
      const r = await apiReader('POST', `/v1/cards/${encodeURIComponent(cardId(st.card))}/renew`,
        { reader: st.card.name, pin: p });
      st.result = r.body || {};
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
      st.step = 'pin';
      st.note = msg('error', 'Wrong PIN. ',
        h('span', null, h('span', { 'data-testid': 'tries-left' }, String(b.tries_left)),
          b.tries_left === 1 ? ' try left.' : ' tries left.'));
    } else if (e.code === 'pin_blocked' || (e.code === 'wrong_pin' && b.tries_left === 0)) {
      st.step = 'blocked';
    } else if (e.code === 'no_card' || e.code === 'different_card') {
      restart(msg('warn', 'The card was not in its reader: insert it and start again.'));
    } else {
      st.step = 'refused';
      st.note = msg('error', e.message || 'The station refused the renewal.');
    }
  }

  function drawInsert() {
    const cards = cardsIn(readers.current(), 'active');
    const due = cards.filter(needsRenewal);
    const out = [h('h1', null, 'Renew my card'), st.note];
    if (cards.length === 1 && !st.note) { choose(cards[0]); return null; }
    if (cards.length === 0) out.push(h('p', { class: 'lead' }, 'Insert your card in a reader.'));
    else {
      out.push(h('p', null, 'Which card is yours?'),
        (due.length ? due : cards).map((r) => h('button', { type: 'button', class: 'secondary', onclick: () => choose(r) },
          `Card ${r.serial || r.guid} in ${r.name}`)));
    }
    return out;
  }

  function draw() {
    let body;
    switch (st.step) {
      case 'insert':
        body = drawInsert();
        if (body === null) return;
        if (!unsub) unsub = readers.subscribe((l) => {
          const key = JSON.stringify(cardsIn(l, null));
          if (st.step === 'insert' && key !== st.seen) { st.seen = key; draw(); }
        });
        break;
      case 'nothing':
        body = [h('h1', null, 'Your card is up to date'), cardLine(),
          msg('ok', 'Nothing needs renewing on this card.'),
          h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => { watch.stop(); ctx.go(''); } }, 'Done'))];
        break;
      case 'pin':
        body = [h('h1', null, 'Your card needs renewing'), cardLine(), list(), st.note,
          keypad({ id: 'pin-renew', label: 'Your PIN', okText: 'Renew', shuffle: shuffleWanted(), min: 6, max: 8,
            onSubmit: (s) => { st.pin = s; send(); } }).el];
        break;
      case 'sending':
        body = [h('h1', null, 'Renewing your card\u2026'), cardLine(),
          h('p', { 'aria-busy': 'true' }, 'Keep the card in the reader: new keys are made on it and certificates written.')];
        break;
      case 'done':
        body = holderDoneView('Card renewed', cardLine(), 'Your card holds its new certificates. You can take your card.',
          null, watch, ctx.go);
        break;
      case 'blocked':
        watch.stop();
        body = pinBlockedView(cardLine(), ctx.go);
        break;
      default:
        body = [h('h1', null, 'Card not renewed'), st.note,
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
      if (unsub) unsub();
    },
  };
}
