// What the card-lifecycle screens share (replace, temporary, return): find
// the holder, list their cards, pick a blank card in a reader, the holder's
// new PIN typed twice on the keypad, and the progress of the operation.
// Each returns elements; the screen keeps the state and redraws.
import { h, msg, replace, focusHeading } from './dom.js';
import { api } from './api.js';
import { keypad, shuffleWanted } from './keypad.js';
import * as readers from './readers.js';
import { cardsIn, policyItems } from './journey.js';
import { stepLabel } from './follow.js';

export const BLANK = ['unknown', 'blank', 'returned'];

export function day(t) { return t ? new Date(t * 1000).toISOString().slice(0, 10) : ''; }

// Holder search: onFound(list, note) after a search; onPick(holder).
export function holderSearch(id, title, st, onFound, onPick) {
  const q = h('input', { id, type: 'search', autocomplete: 'off', maxlength: 64 });
  const search = async (text) => {
    try {
      const found = (await api('GET', `/v1/holders?q=${encodeURIComponent(text)}&limit=20`)).body.holders || [];
      onFound(found, found.length ? null : msg('info', 'No holder matches.'));
    } catch (e) { onFound([], msg('error', e.message)); }
  };
  return [h('h1', null, title), st.note,
    h('form', { class: 'panel', role: 'search', onsubmit: (ev) => { ev.preventDefault(); if (q.value.trim()) search(q.value.trim()); } },
      h('label', { for: id }, 'Find the holder by name or id'), h('div', { class: 'row' }, q, h('button', { type: 'submit' }, 'Search'))),
    st.found.length ? h('div', { class: 'panel' }, st.found.map((x) =>
      h('button', { type: 'button', class: 'secondary choice', onclick: () => onPick(x) }, `${x.name} (${x.id})`))) : null];
}

export async function holderCards(holder) {
  return (await api('GET', `/v1/cards?holder=${encodeURIComponent(holder.id)}&limit=100`)).body.cards || [];
}

// A table of cards with one action button each (verb: "Replace").
export function cardTable(cards, verb, onPick) {
  return h('table', null, h('caption', null, 'Cards of the holder'),
    h('thead', null, h('tr', null, ['Serial', 'Profile', 'State', 'Expires', 'Action'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, cards.map((c) => h('tr', null, h('td', null, c.serial), h('td', null, c.profile), h('td', null, c.state),
      h('td', null, day(c.expires)),
      h('td', null, h('button', { type: 'button', class: 'secondary', 'aria-label': `${verb} card ${c.serial}`,
        onclick: () => onPick(c) }, `${verb}\u2026`))))));
}

// Blank cards in the readers now: one button each.
export function blankChoice(onPick) {
  const blank = cardsIn(readers.current(), BLANK);
  return blank.length === 0 ? h('p', { class: 'lead' }, 'Insert a blank card in a reader.')
    : h('div', { class: 'panel' }, blank.map((r) => h('button', { type: 'button', class: 'secondary choice', onclick: () => onPick(r) },
      `Use card ${r.serial || ''} in ${r.name}`)));
}

// The holder's new PIN, twice. st.pin holds the first; onDone() when both
// agree (st.pin kept, the second wiped); redraw() after each entry.
export function pinTwice(id, pol, st, redraw, onDone) {
  const kp = keypad({ id: st.pin ? `${id}2` : id, label: st.pin ? 'Holder: the new PIN again' : 'Holder: choose the new PIN',
    okText: 'Next', shuffle: shuffleWanted(), max: pol ? pol.max_length : 8, min: pol ? pol.min_length : 6, onSubmit: (s) => {
      if (!st.pin) { st.pin = s; st.note = null; redraw(); return; }
      if (!s.equals(st.pin)) { s.wipe(); st.pin.wipe(); st.pin = null; st.note = msg('error', 'The two PINs differ: choose the PIN again.'); redraw(); return; }
      s.wipe();
      onDone();
    } });
  return h('div', { class: 'row' }, kp.el, h('section', { class: 'panel policy', 'aria-labelledby': `${id}-pol` },
    h('h2', { id: `${id}-pol` }, 'The PIN must be'), h('ul', null, policyItems(pol).map((t) => h('li', null, t)))));
}

// The PIN rules of a profile (GET /v1/profiles), or null.
export async function profilePolicy(name) {
  try {
    const p = ((await api('GET', '/v1/profiles')).body.profiles || []).find((x) => x.name === name);
    return p ? p.pin || null : null;
  } catch (e) { return null; }
}

export function progressList(opState) {
  const steps = (opState && opState.steps) || [];
  return h('ol', { class: 'steps', 'aria-live': 'polite', 'data-testid': 'steps' },
    steps.map((s) => h('li', { 'data-state': /:done$/.test(s.name) ? 'done' : 'running' }, stepLabel(s.name))));
}

// The screen's current step (st.step) drawn from views into main; the focus
// moves to its heading when the step is a new one.
export function drawStep(main, st, views) {
  const same = main.getAttribute('data-step') === st.step;
  replace(main, views[st.step]());
  main.setAttribute('data-step', st.step);
  if (!same) focusHeading(main);
}

// draw() again while on the "blank" step whenever the blank cards in the
// readers change; returns the unsubscribe function.
export function redrawOnBlanks(st, draw) {
  let seen = null;
  return readers.subscribe((list) => {
    const key = JSON.stringify(cardsIn(list, BLANK));
    if (st.step === 'blank' && key !== seen) { seen = key; draw(); }
  });
}

// An approved key recovery request carried out at the kiosk (#replace or
// #temporary ?approval=N): the screen's state st takes the request's holder,
// the holder's card it names and its reason, and goes on at the blank card;
// refused with why when the request or the card cannot be read.
export async function fromApproval(st, id, draw) {
  st.step = 'loading';
  draw();
  try {
    const a = (await api('GET', `/v1/approvals/${encodeURIComponent(id)}`)).body;
    st.holder = (await api('GET', `/v1/holders/${encodeURIComponent(a.holder)}`)).body;
    st.card = (await holderCards(st.holder)).find((c) => c.serial === a.card) || null;
    if (!st.card) throw new Error(`card ${a.card} is not among the holder's cards`);
    st.reason = a.reason;
    st.approval = a.id;
    st.step = 'blank';
    st.note = msg('info', `Approval request ${a.id}: ${a.approvals.length} of ${a.required} approvals, ${a.state}.`);
  } catch (e) { st.step = 'refused'; st.note = msg('error', e.message); }
  draw();
}
