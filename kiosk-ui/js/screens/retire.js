// Journey 4 (security officer): a lost card is not in any reader. Search
// the holder, pick the card, give the reason, confirm; POST
// /v1/cards/{card}/retire revokes its certificates through the CA journal.
// The answer's state and pending_ca are shown, then the card is read again
// (GET /v1/cards/{card}) until the CA has confirmed every revocation.
import { h, replace, msg, focusHeading } from '../dom.js';
import { api } from '../api.js';

const REASONS = [
  ['lost', 'Lost'], ['stolen', 'Stolen'], ['damaged', 'Damaged'], ['retire', 'Returned or no longer needed'],
];

export function mount(main, ctx) {
  const st = { step: 'holder', found: [], holder: null, cards: [], card: null, reason: null, result: null, after: null, note: null };
  let timer = null;

  async function search(q) {
    try {
      st.found = (await api('GET', `/v1/holders?q=${encodeURIComponent(q)}&limit=20`)).body.holders || [];
      st.note = st.found.length ? null : msg('info', 'No holder matches.');
    } catch (e) { st.note = msg('error', e.message); }
    draw();
  }

  async function pickHolder(hd) {
    st.holder = hd;
    try {
      st.cards = (await api('GET', `/v1/cards?holder=${encodeURIComponent(hd.id)}&limit=100`)).body.cards || [];
      st.step = 'card';
      st.note = st.cards.length ? null : msg('info', 'This holder has no card.');
    } catch (e) { st.note = msg('error', e.message); }
    draw();
  }

  async function retire() {
    st.step = 'sending';
    draw();
    try {
      const r = await api('POST', `/v1/cards/${encodeURIComponent(st.card.guid)}/retire`, { reason: st.reason });
      st.result = r.body;
      st.step = 'result';
      follow();
    } catch (e) {
      st.step = 'refused';
      st.note = msg('error', e.message);
    }
    draw();
  }

  // The CA sync state: read the card until nothing is pending at the CA.
  async function follow() {
    try {
      st.after = (await api('GET', `/v1/cards/${encodeURIComponent(st.card.guid)}`)).body;
      if (st.after.pending_ca > 0) timer = setTimeout(follow, 2000);
    } catch (e) {
      timer = setTimeout(follow, 4000);
    }
    draw();
  }

  function drawHolder() {
    const q = h('input', { id: 'rq', type: 'search', autocomplete: 'off', maxlength: 64 });
    return [h('h1', null, 'Retire a card: the holder'), st.note,
      h('form', { class: 'panel', role: 'search', onsubmit: (ev) => { ev.preventDefault(); if (q.value.trim()) search(q.value.trim()); } },
        h('label', { for: 'rq' }, 'Find the holder by name or id'), h('div', { class: 'row' }, q, h('button', { type: 'submit' }, 'Search'))),
      st.found.length ? h('div', { class: 'panel' }, st.found.map((x) =>
        h('button', { type: 'button', class: 'secondary choice', onclick: () => pickHolder(x) }, `${x.name} (${x.id})`))) : null];
  }

  function drawCard() {
    return [h('h1', null, `Retire a card of ${st.holder.name}`), st.note,
      h('table', null, h('thead', null, h('tr', null, ['Serial', 'Profile', 'State', 'Expires', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, st.cards.map((c) => h('tr', null, h('td', null, c.serial), h('td', null, c.profile), h('td', null, c.state),
          h('td', null, c.expires ? new Date(c.expires * 1000).toISOString().slice(0, 10) : ''),
          h('td', null, h('button', { type: 'button', class: 'secondary', 'aria-label': `Retire card ${c.serial}`,
            onclick: () => { st.card = c; st.step = 'reason'; draw(); } }, 'Retire\u2026'))))))];
  }

  function drawReason() {
    return [h('h1', null, `Why is card ${st.card.serial} retired?`),
      h('form', { onsubmit: (ev) => { ev.preventDefault(); const v = ev.target.elements.reason.value; if (v) { st.reason = v; st.step = 'confirm'; draw(); } } },
        h('fieldset', { class: 'panel' }, h('legend', null, 'Reason'),
          REASONS.map(([v, t]) => h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'reason', value: v, required: true }), t))),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Next'),
          h('button', { type: 'button', class: 'secondary', onclick: () => { st.step = 'card'; draw(); } }, 'Back')))];
  }

  function drawConfirm() {
    const label = REASONS.find(([v]) => v === st.reason)[1].toLowerCase();
    return [h('h1', null, 'Confirm'),
      msg('warn', `Card ${st.card.serial} of ${st.holder.name} will be marked ${label} and its certificates revoked. This cannot be undone.`),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'danger', onclick: retire }, 'Retire the card'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { st.step = 'reason'; draw(); } }, 'Back'))];
  }

  function drawResult() {
    const r = st.result || {};
    const a = st.after || {};
    const pending = a.pending_ca !== undefined ? a.pending_ca : r.pending_ca;
    const certs = a.certificates || [];
    return [h('h1', null, 'Card retired'),
      h('dl', { class: 'summary', 'data-testid': 'retire-result' },
        h('dt', null, 'Card'), h('dd', null, st.card.serial),
        h('dt', null, 'State'), h('dd', null, a.state || r.state),
        h('dt', null, 'Reason'), h('dd', null, REASONS.find(([v]) => v === st.reason)[1]),
        h('dt', null, 'CA'), h('dd', { 'data-testid': 'ca-sync' }, pending > 0
          ? `${pending} revocation${pending === 1 ? '' : 's'} waiting for the CA` : 'every revocation confirmed by the CA')),
      certs.length ? h('table', null, h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Certificate'), h('th', { scope: 'col' }, 'Status'))),
        h('tbody', null, certs.map((c) => h('tr', null, h('td', null, c.subject), h('td', null, c.status_name))))) : null,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.go('') }, 'Done'))];
  }

  function draw() {
    const views = { holder: drawHolder, card: drawCard, reason: drawReason, confirm: drawConfirm,
      sending: () => [h('h1', null, 'Retiring\u2026')], result: drawResult,
      refused: () => [h('h1', null, 'Not retired'), st.note,
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => { st.step = 'card'; st.note = null; draw(); } }, 'Back'))] };
    const same = main.getAttribute('data-step') === st.step;
    replace(main, views[st.step]());
    main.setAttribute('data-step', st.step);
    if (!same) focusHeading(main);
  }

  draw();
  return { unmount() { clearTimeout(timer); } };
}
