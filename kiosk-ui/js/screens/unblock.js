// Journey 2 (help desk): the holder's card is inserted; the station picks
// the questions (POST /v1/cards/{card}/unblock/questions); the operator asks
// them and types the answers; the holder sets a new PIN on the keypad
// (twice); answers and PIN are sealed and sent once
// (POST /v1/cards/{card}/unblock), then wiped.
import { h, replace, msg, focusHeading, announce } from '../dom.js';
import { apiReader, api, ApiError } from '../api.js';
import { sealAll, takeInput } from '../seal.js';
import { keypad, shuffleWanted } from '../keypad.js';
import * as readers from '../readers.js';
import { CardWatch, cardsIn, policyItems, cardId } from '../journey.js';

export function mount(main, ctx) {
  const st = { step: 'card', card: null, challenge: null, questions: [], answers: [], pin: null, policy: null, note: null };
  let seen = null;
  const watch = new CardWatch({
    other: () => { wipe(); st.step = 'card'; st.card = null; st.note = msg('warn', 'A different card was inserted: start again with it.'); draw(); },
    cancel: () => { wipe(); ctx.go(''); },
    back: () => announce('Card back: continue.'),
  });

  function wipe() {
    if (st.pin) { st.pin.wipe(); st.pin = null; }
    for (const a of st.answers) a.secret.wipe();
    st.answers = [];
  }

  async function start(r) {
    st.card = r;
    watch.follow(r.name, r.guid);
    readers.pause();
    try {
      const q = await apiReader('POST', `/v1/cards/${encodeURIComponent(cardId(r))}/unblock/questions`, { reader: r.name });
      st.challenge = q.body.challenge;
      st.questions = q.body.questions || [];
      try {
        const p = await api('GET', '/v1/profiles');
        const prof = (p.body.profiles || []).find((x) => x.name === r.profile);
        st.policy = prof ? prof.pin : null;
      } catch (e) { st.policy = null; }
      st.step = 'answers';
      st.note = null;
    } catch (e) {
      st.note = msg('error', e.message);
      st.step = 'card';
      watch.stop();
    } finally {
      readers.resume();
    }
    draw();
  }

  async function send() {
    st.step = 'sending';
    draw();
    readers.pause();
    try {
      const sealed = await sealAll([st.pin, ...st.answers.map((a) => a.secret)]);
      const answers = st.answers.map((a, i) => ({ question: a.question, answer: sealed[i + 1] }));
      st.pin = null;
      st.answers = [];
      await apiReader('POST', `/v1/cards/${encodeURIComponent(cardId(st.card))}/unblock`,
        { reader: st.card.name, challenge: st.challenge, answers, new_pin: sealed[0] });
      st.step = 'done';
      st.note = null;
      watch.stop();
    } catch (e) {
      wipe();
      const b = (e instanceof ApiError && e.body) || {};
      st.step = 'refused';
      st.note = msg('error', e.message + (b.tries_left !== undefined ? ` (${b.tries_left} left)` : ''));
      watch.stop();
    } finally {
      readers.resume();
    }
    draw();
  }

  function drawCard() {
    const cards = cardsIn(readers.current(), null).filter((r) => r.inventory !== 'unknown');
    return [h('h1', null, 'Unblock a card'), st.note,
      cards.length === 0 ? h('p', { class: 'lead' }, 'Ask the holder to insert their card.')
        : h('div', { class: 'panel' }, cards.map((r) => h('button', { type: 'button', class: 'secondary choice', onclick: () => start(r) },
          `Card ${r.serial || r.guid} in ${r.name} (${r.inventory})`)))];
  }

  function drawAnswers() {
    return [h('h1', null, 'Ask these questions'), st.note,
      h('p', null, 'Ask the holder each question and type the answer as they say it.'),
      h('form', { onsubmit: (ev) => {
        ev.preventDefault();
        st.answers = st.questions.map((q) => ({ question: q.id, secret: takeInput(ev.target.elements[`ans${q.id}`], 256) }));
        st.step = 'pin';
        draw();
      } },
        st.questions.map((q) => h('div', { class: 'panel' },
          h('label', { for: `ans${q.id}` }, q.text),
          h('input', { id: `ans${q.id}`, name: `ans${q.id}`, type: 'password', autocomplete: 'off', maxlength: 256, required: true }))),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Next: the holder\'s new PIN')))];
  }

  function drawPin() {
    const kp = keypad({ id: st.pin ? 'unblock-pin2' : 'unblock-pin', label: st.pin ? 'Holder: the new PIN again' : 'Holder: choose a new PIN',
      okText: st.pin ? 'Unblock' : 'Next', shuffle: shuffleWanted(), max: st.policy ? st.policy.max_length : 8, onSubmit: (s) => {
        if (!st.pin) { st.pin = s; st.note = null; draw(); return; }
        const same = s.equals(st.pin);
        s.wipe();
        if (!same) { st.pin.wipe(); st.pin = null; st.note = msg('error', 'The two PINs differ: choose the new PIN again.'); draw(); return; }
        send();
      } });
    return [h('h1', null, 'The holder\'s new PIN'), st.note,
      h('div', { class: 'row' }, kp.el, h('section', { class: 'panel policy', 'aria-labelledby': 'upol' }, h('h2', { id: 'upol' }, 'The new PIN must be'),
        h('ul', null, policyItems(st.policy).map((t) => h('li', null, t)))))];
  }

  function draw() {
    const views = { card: drawCard, answers: drawAnswers, pin: drawPin,
      sending: () => [h('h1', null, 'Unblocking\u2026'), h('p', null, 'Keep the card in the reader.')],
      done: () => [h('h1', null, 'Card unblocked'), msg('ok', 'The PIN is reset to the one the holder chose.'),
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.go('') }, 'Done'))],
      refused: () => [h('h1', null, 'Not unblocked'), st.note,
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => { st.step = 'card'; st.note = null; draw(); } }, 'Start again'))] };
    replace(main, views[st.step]());
    main.setAttribute('data-step', st.step);
    focusHeading(main);
  }

  const unsub = readers.subscribe((list) => {
    const key = JSON.stringify(cardsIn(list, null));
    if (st.step === 'card' && key !== seen) { seen = key; draw(); }
  });
  return { unmount() { wipe(); watch.stop(); unsub(); } };
}
