// The end of a loan (badge officer, security officer, help desk): find the
// holder, pick the temporary card (or the held permanent one), confirm;
// POST /v1/cards/{card}/return revokes the temporary card and releases the
// permanent card (removeFromCRL) in one transaction. 200 when the CA
// confirmed, 202 while it has not: the cards are read again until nothing
// is pending at the CA.
import { h, replace, msg, focusHeading } from '../dom.js';
import { api } from '../api.js';
import { holderSearch, holderCards, cardTable } from '../pick.js';

export function mount(main, ctx) {
  const st = { step: 'holder', found: [], holder: null, cards: [], card: null, result: null, after: [], note: null };
  let timer = null;

  async function pickHolder(hd) {
    st.holder = hd;
    try {
      st.cards = (await holderCards(hd)).filter((c) => c.state === 'temporary');
      st.step = 'card';
      st.note = st.cards.length ? null : msg('info', 'This holder has no temporary card out.');
    } catch (e) { st.note = msg('error', e.message); }
    draw();
  }

  async function send() {
    st.step = 'sending';
    draw();
    try {
      st.result = (await api('POST', `/v1/cards/${encodeURIComponent(st.card.guid)}/return`, { reason: 'returned at the desk' })).body;
      st.step = 'result';
      reread();
    } catch (e) {
      st.step = 'refused';
      st.note = msg('error', e.message);
    }
    draw();
  }

  // Both cards of the holder as they are now, until the CA has it all.
  async function reread() {
    try {
      st.after = await holderCards(st.holder);
      const pending = st.after.reduce((n, c) => n + (c.pending_ca || 0), 0);
      if (pending > 0) timer = setTimeout(reread, 2000);
    } catch (e) { timer = setTimeout(reread, 4000); }
    draw();
  }

  const views = {
    holder: () => holderSearch('rtq', 'Return a temporary card: the holder', st, (found, note) => { st.found = found; st.note = note; draw(); }, pickHolder),
    card: () => [h('h1', null, `Return a temporary card of ${st.holder.name}`), st.note,
      cardTable(st.cards, 'Return', (c) => { st.card = c; st.step = 'confirm'; draw(); })],
    confirm: () => [h('h1', null, 'Return: confirm'),
      msg('warn', `Temporary card ${st.card.serial} is revoked and the holder's permanent card released.`),
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: send }, 'End the loan'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { st.step = 'card'; draw(); } }, 'Back'))],
    sending: () => [h('h1', null, 'Returning\u2026')],
    result: () => {
      const pending = st.after.length ? st.after.reduce((n, c) => n + (c.pending_ca || 0), 0) : st.result.pending_ca;
      return [h('h1', null, 'Temporary card returned'),
        h('table', { 'data-testid': 'return-cards' }, h('caption', null, 'The holder\'s cards now'),
          h('thead', null, h('tr', null, ['Serial', 'Profile', 'State'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', null, st.after.map((c) => h('tr', null, h('td', null, c.serial), h('td', null, c.profile), h('td', null, c.state))))),
        h('p', { 'data-testid': 'ca-sync' }, pending > 0 ? `${pending} change(s) waiting for the CA` : 'every change confirmed by the CA'),
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.go('') }, 'Done'))];
    },
    refused: () => [h('h1', null, 'Not returned'), st.note,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => { st.step = 'card'; st.note = null; draw(); } }, 'Back'))],
  };

  function draw() {
    const same = main.getAttribute('data-step') === st.step;
    replace(main, views[st.step]());
    main.setAttribute('data-step', st.step);
    if (!same) focusHeading(main);
  }

  draw();
  return { unmount() { clearTimeout(timer); } };
}
