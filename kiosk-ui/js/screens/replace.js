// Replacement (badge or security officer): find the holder, pick the card
// that is lost, stolen, damaged or expired, the reason, a blank card in a
// reader, the holder's new PIN on the keypad; POST /v1/cards/{card}/replace
// (sealed PIN) starts an issuance with the holder's escrowed keys recovered
// (docs/lifecycle.md, "Replace"). Progress from the operation's journal; the
// summary reads both cards again: the old card's new state, the new card,
// and the recovered keys as the new card's "replaces" history says.
// A profile that asks for approvals (docs/lifecycle.md, "Approvals"): the
// station answers with an approval request instead of an operation, shown
// as such; once approved, the Approvals screen opens this one with
// ?approval=N: the holder, card and reason come from the request, and the
// request is cited when the replacement is sent.
import { h, msg, announce } from '../dom.js';
import { apiReader, api } from '../api.js';
import { sealAll } from '../seal.js';
import * as readers from '../readers.js';
import { CardWatch } from '../journey.js';
import { followOp } from '../follow.js';
import { day, holderSearch, holderCards, cardTable, blankChoice, pinTwice, drawStep, redrawOnBlanks, fromApproval, profilePolicy, progressList } from '../pick.js';

export const REASONS = [['lost', 'Lost'], ['stolen', 'Stolen'], ['damaged', 'Damaged'], ['expired', 'Expired']];
const LIVE = ['active', 'suspended', 'blocked', 'lost', 'stolen', 'damaged', 'expired'];

// "keys recovered: 2 (9d and retired slots)" in the new card's history.
export function recoveredKeys(card) {
  const ev = ((card && card.history) || []).find((x) => x.event === 'replaces');
  const m = ev && /keys recovered: (\d+)/.exec(ev.detail || '');
  return m ? Number(m[1]) : null;
}

export function mount(main, ctx) {
  const st = { step: 'holder', found: [], holder: null, cards: [], card: null, reason: null, blank: null, policy: null,
    pin: null, op: null, opState: null, old: null, neu: null, note: null, approval: null, request: null };
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
      st.cards = (await holderCards(hd)).filter((c) => LIVE.includes(c.state));
      st.step = 'card';
      st.note = st.cards.length ? null : msg('info', 'This holder has no card to replace.');
    } catch (e) { st.note = msg('error', e.message); }
    draw();
  }

  async function pickBlank(r) {
    st.blank = r;
    watch.follow(r.name, r.guid);
    st.policy = await profilePolicy(st.card.profile);
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
      const r = await apiReader('POST', `/v1/cards/${encodeURIComponent(st.card.guid)}/replace`,
        { reader: st.blank.name, reason: st.reason, pin, ...(st.approval ? { approval: st.approval } : {}) });
      readers.resume();
      held = false;
      if (r.body.operation === undefined && r.body.approval !== undefined) {
        // Not yet: the approvers decide first; nothing else happened.
        watch.stop();
        st.request = r.body;
        st.step = 'requested';
        draw();
        return;
      }
      // The card gets a new identity (CHUID) as it is written: from now on
      // only its leaving the reader counts.
      watch.follow(st.blank.name, null);
      st.op = r.body.operation;
      st.step = 'progress';
      draw();
      follow = followOp(st.op, (o) => { st.opState = o; draw(); });
      st.opState = await follow.done;
      if (!st.opState) return;
      try { st.old = (await api('GET', `/v1/cards/${encodeURIComponent(st.card.guid)}`)).body; } catch (e) { st.old = null; }
      if (st.opState.state === 'done' && st.opState.card) {
        try { st.neu = (await api('GET', `/v1/cards/${encodeURIComponent(st.opState.card)}`)).body; } catch (e) { st.neu = null; }
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

  const reasonText = () => REASONS.find(([v]) => v === st.reason)[1];
  const context = () => h('p', { 'data-testid': 'replace-context' }, [`Holder ${st.holder.name} (${st.holder.id})`,
    st.card ? `card ${st.card.serial} (${st.card.profile})` : null, st.reason ? reasonText().toLowerCase() : null,
    st.blank ? `new card ${st.blank.serial || ''} in ${st.blank.name}` : null].filter(Boolean).join(' \u00b7 '));

  const views = {
    holder: () => holderSearch('rpq', 'Replace a card: the holder', st, (found, note) => { st.found = found; st.note = note; draw(); }, pickHolder),
    card: () => [h('h1', null, `Replace a card of ${st.holder.name}`), st.note,
      cardTable(st.cards, 'Replace', (c) => { st.card = c; st.step = 'reason'; st.note = null; draw(); })],
    reason: () => [h('h1', null, `Why is card ${st.card.serial} replaced?`), context(),
      h('form', { onsubmit: (ev) => { ev.preventDefault(); const v = ev.target.elements.reason.value; if (v) { st.reason = v; st.step = 'blank'; draw(); } } },
        h('fieldset', { class: 'panel' }, h('legend', null, 'Reason'),
          REASONS.map(([v, t]) => h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'reason', value: v, required: true }), t))),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Next'),
          h('button', { type: 'button', class: 'secondary', onclick: () => { st.step = 'card'; draw(); } }, 'Back')))],
    blank: () => [h('h1', null, 'Replace a card: insert a blank card'), context(), st.note, blankChoice(pickBlank)],
    pin: () => [h('h1', null, 'Replace a card: the holder\'s new PIN'), context(), st.note,
      pinTwice('replace-pin', st.policy, st, draw, () => { st.step = 'confirm'; draw(); })],
    confirm: () => [h('h1', null, 'Replace a card: confirm'), context(),
      msg('warn', `Card ${st.card.serial} will be marked ${reasonText().toLowerCase()} and its certificates revoked when the new card is ready. The holder's escrowed keys are recovered onto the new card.`),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', onclick: submit }, 'Replace the card'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { wipe(); ctx.go(''); } }, 'Cancel'))],
    sending: () => [h('h1', null, 'Sending\u2026')],
    progress: () => [h('h1', null, 'Replacing the card\u2026'), context(),
      h('p', null, 'Keep the new card in the reader. Key generation takes a few seconds per key.'), progressList(st.opState)],
    summary: () => {
      const o = st.opState || {};
      const ok = o.state === 'done';
      const n = recoveredKeys(st.neu);
      return [h('h1', null, ok ? 'Card replaced' : 'The card was not replaced'), context(),
        ok ? msg('ok', 'The new card is ready. The holder can take it.') : msg('error', o.error || `Operation ${o.state || 'failed'}: nothing changed on the old card.`),
        h('dl', { class: 'summary', 'data-testid': 'replace-result' },
          h('dt', null, 'Old card'), h('dd', null, st.card.serial),
          h('dt', null, 'Old card state'), h('dd', { 'data-testid': 'old-state' }, st.old ? st.old.state : 'unknown'),
          st.neu ? [h('dt', null, 'New card'), h('dd', { 'data-testid': 'new-serial' }, st.neu.serial),
            h('dt', null, 'New card state'), h('dd', { 'data-testid': 'new-state' }, st.neu.state),
            h('dt', null, 'Certificates'), h('dd', null, String((st.neu.certificates || []).length)),
            h('dt', null, 'Expires'), h('dd', null, day(st.neu.expires))] : null,
          n !== null ? [h('dt', null, 'Keys recovered'), h('dd', { 'data-testid': 'recovered' }, String(n))] : null,
          st.old && st.old.pending_ca > 0 ? [h('dt', null, 'CA'), h('dd', null, `${st.old.pending_ca} revocation(s) waiting for the CA`)] : null),
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.go('') }, 'Done'))];
    },
    requested: () => [h('h1', null, 'Approval requested'), context(),
      msg('info', `${st.request.message}. Nothing was changed: the card is replaced once the approvers have approved, from the Approvals screen.`),
      h('dl', { class: 'summary', 'data-testid': 'approval-request' },
        h('dt', null, 'Request'), h('dd', { 'data-testid': 'approval-id' }, String(st.request.approval)),
        h('dt', null, 'State'), h('dd', null, st.request.state),
        h('dt', null, 'Approvals'), h('dd', null, `${st.request.approvals} of ${st.request.required}`)),
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.go('approvals') }, 'Approvals'),
        h('button', { type: 'button', class: 'secondary', onclick: () => ctx.go('') }, 'Done'))],
    loading: () => [h('h1', null, 'Replace a card'), st.note || h('p', { role: 'status' }, 'Reading the approval request\u2026')],
    refused: () => [h('h1', null, 'The card was not replaced'), st.note,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.go('') }, 'Back'))],
  };

  function draw() { drawStep(main, st, views); }

  const unsub = redrawOnBlanks(st, draw);
  if (ctx.params && ctx.params.get('approval')) fromApproval(st, ctx.params.get('approval'), draw);
  else draw();
  return { unmount() { wipe(); watch.stop(); if (follow) follow.stop(); unsub(); } };
}
