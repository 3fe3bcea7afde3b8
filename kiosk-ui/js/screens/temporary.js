// Temporary card (badge officer, security officer, help desk): the holder
// forgot their card. Find the holder, pick the permanent card, a blank card
// in a reader, the holder's PIN on the keypad; POST
// /v1/cards/{card}/temporary (sealed PIN) issues the temporary card with the
// holder's key management key recovered, and puts the permanent card on
// hold (certificateHold) in the same transaction. The summary reads both
// cards again: the permanent card held, the temporary card and its end.
// The loan ends with #return. A profile that asks for approvals: the station
// answers with an approval request instead; once approved, the requester
// carries it out from the Approvals screen (#temporary?approval=N: holder and
// card come from the request).
import { h, msg, announce } from '../dom.js';
import { apiReader, api } from '../api.js';
import { sealAll } from '../seal.js';
import * as readers from '../readers.js';
import { CardWatch } from '../journey.js';
import { followOp } from '../follow.js';
import { day, holderSearch, holderCards, cardTable, blankChoice, pinTwice, drawStep, redrawOnBlanks, fromApproval, profilePolicy, progressList } from '../pick.js';

export function mount(main, ctx) {
  const st = { step: 'holder', found: [], holder: null, cards: [], card: null, blank: null, policy: null,
    pin: null, opState: null, perm: null, temp: null, note: null, approval: null };
  let follow = null;
  const watch = new CardWatch({
    other: () => { wipe(); st.blank = null; st.step = 'blank'; st.note = msg('warn', 'A different card was inserted: pick the blank card again.'); draw(); },
    cancel: () => { wipe(); ctx.go(''); },
    back: () => announce('Card back: continue.'),
  });

  function wipe() { if (st.pin) { st.pin.wipe(); st.pin = null; } }

  async function pickHolder(hd) {
    st.holder = hd;
    try {
      st.cards = (await holderCards(hd)).filter((c) => c.state === 'active');
      st.step = 'card';
      st.note = st.cards.length ? null : msg('info', 'This holder has no active card to stand in for.');
    } catch (e) { st.note = msg('error', e.message); }
    draw();
  }

  async function pickBlank(r) {
    st.blank = r;
    watch.follow(r.name, r.guid);
    st.policy = await profilePolicy('temporary');
    st.step = 'pin';
    draw();
  }

  async function submit() {
    st.step = 'sending';
    draw();
    // The reader is the request's until the answer; then the list (and
    // the card watch) follow the card again while the operation runs.
    let held = true;
    readers.pause();
    try {
      const [pin] = await sealAll([st.pin]);
      st.pin = null;
      const r = await apiReader('POST', `/v1/cards/${encodeURIComponent(st.card.guid)}/temporary`,
        { reader: st.blank.name, pin, ...(st.approval ? { approval: st.approval } : {}) });
      readers.resume();
      held = false;
      if (r.body.operation === undefined && r.body.approval !== undefined) {
        // The profile asks for approvals (docs/lifecycle.md): a request,
        // nothing else; carried out from the Approvals screen once approved.
        watch.stop();
        st.step = 'refused';
        st.note = msg('info', `${r.body.message}. Nothing was changed; once approved, carry it out from Approvals (request ${r.body.approval}).`);
        draw();
        return;
      }
      // The card gets a new identity (CHUID) as it is written: from now on
      // only its leaving the reader counts.
      watch.follow(st.blank.name, null);
      st.step = 'progress';
      draw();
      follow = followOp(r.body.operation, (o) => { st.opState = o; draw(); });
      st.opState = await follow.done;
      if (!st.opState) return;
      try { st.perm = (await api('GET', `/v1/cards/${encodeURIComponent(st.card.guid)}`)).body; } catch (e) { st.perm = null; }
      if (st.opState.state === 'done' && st.opState.card) {
        try { st.temp = (await api('GET', `/v1/cards/${encodeURIComponent(st.opState.card)}`)).body; } catch (e) { st.temp = null; }
      }
      watch.stop();
      st.step = 'summary';
    } catch (e) {
      wipe();
      st.step = 'refused';
      st.note = msg('error', e.message);
    } finally {
      if (held) readers.resume();
    }
    draw();
  }

  const context = () => h('p', null, [`Holder ${st.holder.name} (${st.holder.id})`,
    st.card ? `permanent card ${st.card.serial}` : null, st.blank ? `temporary card ${st.blank.serial || ''} in ${st.blank.name}` : null]
    .filter(Boolean).join(' \u00b7 '));

  const views = {
    holder: () => holderSearch('tq', 'Temporary card: the holder', st, (found, note) => { st.found = found; st.note = note; draw(); }, pickHolder),
    card: () => [h('h1', null, `Temporary card for ${st.holder.name}: the forgotten card`), st.note,
      cardTable(st.cards, 'Forgotten', (c) => { st.card = c; st.step = 'blank'; st.note = null; draw(); })],
    blank: () => [h('h1', null, 'Temporary card: insert a blank card'), context(), st.note, blankChoice(pickBlank)],
    pin: () => [h('h1', null, 'Temporary card: the holder\'s PIN'), context(), st.note,
      pinTwice('temp-pin', st.policy, st, draw, () => { st.step = 'confirm'; draw(); })],
    confirm: () => [h('h1', null, 'Temporary card: confirm'), context(),
      msg('warn', `Card ${st.card.serial} is put on hold until the temporary card is returned.`),
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: submit }, 'Issue the temporary card'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { wipe(); ctx.go(''); } }, 'Cancel'))],
    sending: () => [h('h1', null, 'Sending\u2026')],
    progress: () => [h('h1', null, 'Issuing the temporary card\u2026'), context(),
      h('p', null, 'Keep the card in the reader.'), progressList(st.opState)],
    summary: () => {
      const o = st.opState || {};
      const ok = o.state === 'done';
      return [h('h1', null, ok ? 'Temporary card issued' : 'The temporary card was not issued'), context(),
        ok ? msg('ok', 'The holder can take the temporary card. It is returned at the desk (Return a temporary card).')
          : msg('error', o.error || `Operation ${o.state || 'failed'}: the permanent card is unchanged.`),
        h('dl', { class: 'summary', 'data-testid': 'temp-result' },
          h('dt', null, 'Permanent card'), h('dd', null, st.card.serial),
          h('dt', null, 'Its state'), h('dd', { 'data-testid': 'perm-state' }, st.perm ? st.perm.state : 'unknown'),
          st.temp ? [h('dt', null, 'Temporary card'), h('dd', { 'data-testid': 'temp-serial' }, st.temp.serial),
            h('dt', null, 'Its state'), h('dd', { 'data-testid': 'temp-state' }, st.temp.state),
            h('dt', null, 'Ends'), h('dd', null, day(st.temp.expires))] : null),
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.go('') }, 'Done'))];
    },
    loading: () => [h('h1', null, 'Temporary card'), st.note || h('p', { role: 'status' }, 'Reading the approval request\u2026')],
    refused: () => [h('h1', null, 'The temporary card was not issued'), st.note,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.go('') }, 'Back'))],
  };

  function draw() { drawStep(main, st, views); }

  const unsub = redrawOnBlanks(st, draw);
  if (ctx.params && ctx.params.get('approval')) fromApproval(st, ctx.params.get('approval'), draw);
  else draw();
  return { unmount() { wipe(); watch.stop(); if (follow) follow.stop(); unsub(); } };
}
