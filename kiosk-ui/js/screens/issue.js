// Journey 1 (badge officer): find or add the holder, pick a profile, insert
// a blank card, the holder sets a PIN (and the answers to the questions the
// profile enrols), then POST /v1/issue and follow the operation's journal
// step by step without polling (followOp: GET /v1/operations/{op}?wait=&steps=,
// the station answers when a step lands): key generation takes seconds on a
// real card. A summary ends it, with the steps done.
import { h, replace, msg, focusHeading, announce } from '../dom.js';
import { api, apiReader, followOp } from '../api.js';
import { sealAll, takeInput } from '../seal.js';
import { keypad, shuffleWanted } from '../keypad.js';
import * as readers from '../readers.js';
import { CardWatch, cardsIn, policyItems } from '../journey.js';

const BLANK = ['unknown', 'blank', 'returned'];

export function stepLabel(name) {
  return String(name).replace(/[_:]+/g, ' ');
}

export function mount(main, ctx) {
  const st = { step: 'holder', holder: null, profile: null, profiles: [], card: null, pin: null, pin2: null,
    answers: [], op: null, opState: null, note: null, found: [], summary: null };
  let follow = null;
  let unsub = null;
  const watch = new CardWatch({
    other: () => { wipe(); st.card = null; st.step = 'card'; st.note = msg('warn', 'A different card was inserted: confirm the card again.'); draw(); },
    cancel: () => { wipe(); ctx.go(''); },
    back: () => announce('Card back: continue.'),
  });

  function wipe() {
    for (const k of ['pin', 'pin2']) if (st[k]) { st[k].wipe(); st[k] = null; }
    for (const a of st.answers) if (a.secret) a.secret.wipe();
    st.answers = [];
  }

  async function search(q) {
    try {
      const r = await api('GET', `/v1/holders?q=${encodeURIComponent(q)}&limit=20`);
      st.found = r.body.holders || [];
      st.note = st.found.length ? null : msg('info', 'No holder matches: add them below.');
    } catch (e) { st.note = msg('error', e.message); }
    draw();
  }

  async function addHolder(form) {
    const v = (n) => form.elements[n].value.trim();
    const body = { id: v('hid'), name: v('hname') };
    if (v('hemail')) body.email = v('hemail');
    try {
      await api('POST', '/v1/holders', body);
      await pickHolder({ id: body.id, name: body.name, email: body.email || '' });
    } catch (e) { st.note = msg('error', e.message); draw(); }
  }

  async function pickHolder(hd) {
    st.holder = hd;
    try {
      const r = await api('GET', '/v1/profiles');
      st.profiles = r.body.profiles || [];
    } catch (e) { st.note = msg('error', e.message); }
    st.step = 'profile';
    st.note = null;
    draw();
  }

  function pickCard(r) {
    st.card = r;
    watch.follow(r.name, r.guid);
    st.step = 'pin';
    draw();
  }

  async function submit() {
    st.step = 'sending';
    draw();
    readers.pause();
    try {
      const secrets = [st.pin, ...st.answers.map((a) => a.secret)];
      const sealed = await sealAll(secrets);
      const body = { reader: st.card.name, holder: st.holder.id, profile: st.profile.name, pin: sealed[0] };
      if (st.answers.length) body.answers = st.answers.map((a, i) => ({ question: a.question, answer: sealed[i + 1] }));
      wipe();
      const r = await apiReader('POST', '/v1/issue', body);
      st.op = r.body.operation;
      st.step = 'progress';
      track();
    } catch (e) {
      wipe();
      st.step = 'refused';
      st.note = msg('error', e.message);
    } finally {
      readers.resume();
    }
    draw();
  }

  // Each answer draws the steps as they landed; the end fetches the card.
  function track() {
    follow = followOp(st.op, {
      onUpdate: (o) => { st.opState = o; draw(); },
      onEnd: async (o) => {
        st.opState = o;
        if (o.state === 'done' && o.card) {
          try { st.summary = (await api('GET', `/v1/cards/${o.card}`)).body; } catch (e) { st.summary = null; }
        }
        if (!follow) return;	// the screen was left meanwhile
        st.step = 'summary';
        watch.stop();
        draw();
      },
    });
  }

  function stepList() {
    const steps = (st.opState && st.opState.steps) || [];
    return h('ol', { class: 'steps', 'aria-live': 'polite', 'data-testid': 'steps' },
      steps.map((s) => h('li', { 'data-state': /:done$/.test(s.name) ? 'done' : 'running', 'data-step': s.name }, stepLabel(s.name))));
  }

  function header() {
    const bits = [];
    if (st.holder) bits.push(`Holder ${st.holder.name} (${st.holder.id})`);
    if (st.profile) bits.push(`profile ${st.profile.name}`);
    if (st.card) bits.push(`card ${st.card.serial || st.card.guid} in ${st.card.name}`);
    return bits.length ? h('p', { 'data-testid': 'issue-context' }, bits.join(' \u00b7 ')) : null;
  }

  function drawHolder() {
    const q = h('input', { id: 'hq', type: 'search', name: 'q', autocomplete: 'off', minlength: 1, maxlength: 64 });
    return [h('h1', null, 'Issue a card: the holder'), st.note,
      h('form', { class: 'panel', role: 'search', onsubmit: (ev) => { ev.preventDefault(); if (q.value.trim()) search(q.value.trim()); } },
        h('label', { for: 'hq' }, 'Find a holder by name or id'), h('div', { class: 'row' }, q, h('button', { type: 'submit' }, 'Search'))),
      st.found.length ? h('div', { class: 'panel' }, h('h2', null, 'Holders found'),
        st.found.map((x) => h('button', { type: 'button', class: 'secondary choice', onclick: () => pickHolder(x) },
          `${x.name} (${x.id}) ${x.email || ''}`))) : null,
      h('form', { class: 'panel', onsubmit: (ev) => { ev.preventDefault(); addHolder(ev.target); } },
        h('h2', null, 'Or add a new holder'),
        h('label', { for: 'hid' }, 'Id (employee number)'), h('input', { id: 'hid', name: 'hid', required: true, maxlength: 64, pattern: '[A-Za-z0-9_\\-][A-Za-z0-9_.\\-]*', autocomplete: 'off' }),
        h('label', { for: 'hname' }, 'Full name'), h('input', { id: 'hname', name: 'hname', required: true, maxlength: 128, autocomplete: 'off' }),
        h('label', { for: 'hemail' }, 'E-mail (optional)'), h('input', { id: 'hemail', name: 'hemail', type: 'email', maxlength: 254, autocomplete: 'off' }),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add holder')))];
  }

  function drawProfile() {
    return [h('h1', null, 'Issue a card: the profile'), header(), st.note,
      h('fieldset', { class: 'panel' }, h('legend', null, 'Profile'),
        st.profiles.map((p) => h('button', { type: 'button', class: 'secondary choice', onclick: () => { st.profile = p; st.step = 'card'; draw(); } },
          `${p.name}: ${p.description} (${p.validity_days} days)`)))];
  }

  function drawCard() {
    const blank = cardsIn(readers.current(), BLANK);
    return [h('h1', null, 'Issue a card: insert a blank card'), header(), st.note,
      blank.length === 0 ? h('p', { class: 'lead' }, 'Insert a blank card in a reader.')
        : h('div', { class: 'panel' }, blank.map((r) => h('button', { type: 'button', class: 'secondary choice', onclick: () => pickCard(r) },
          `Use card ${r.serial || ''} in ${r.name}`)))];
  }

  function drawPin() {
    const pol = st.profile.pin;
    const kp = keypad({ id: st.pin ? 'issue-pin2' : 'issue-pin', label: st.pin ? 'Holder: the new PIN again' : 'Holder: choose your PIN',
      okText: 'Next', shuffle: shuffleWanted(), max: pol ? pol.max_length : 8, onSubmit: (s) => {
        if (!st.pin) { st.pin = s; st.note = null; draw(); return; }
        if (!s.equals(st.pin)) { s.wipe(); st.pin.wipe(); st.pin = null; st.note = msg('error', 'The two PINs differ: choose the PIN again.'); draw(); return; }
        s.wipe();
        st.step = st.profile.answers_enrolled > 0 ? 'answers' : 'confirm';
        draw();
      } });
    return [h('h1', null, 'Issue a card: the holder\'s PIN'), header(), st.note,
      h('div', { class: 'row' }, kp.el, h('section', { class: 'panel policy', 'aria-labelledby': 'ipol' }, h('h2', { id: 'ipol' }, 'The PIN must be'),
        h('ul', null, policyItems(pol).map((t) => h('li', null, t)))))];
  }

  function drawAnswers() {
    const n = st.profile.answers_enrolled;
    const qs = st.profile.questions || [];
    const rows = [];
    for (let i = 0; i < n; i++) {
      rows.push(h('div', { class: 'panel' },
        h('label', { for: `q${i}` }, `Question ${i + 1}`),
        h('select', { id: `q${i}`, name: `q${i}` }, qs.map((q, k) => h('option', { value: q.id, selected: k === i || null }, q.text))),
        h('label', { for: `a${i}` }, `Answer ${i + 1}`),
        h('input', { id: `a${i}`, name: `a${i}`, type: 'password', autocomplete: 'off', maxlength: 256, required: true })));
    }
    return [h('h1', null, 'Issue a card: the holder\'s answers'), header(), st.note,
      h('p', null, `The holder picks ${n} different questions and answers them. The help desk will ask some of them to unblock the card.`),
      h('form', { onsubmit: (ev) => {
        ev.preventDefault();
        const f = ev.target;
        const ids = rows.map((_, i) => Number(f.elements[`q${i}`].value));
        if (new Set(ids).size !== ids.length) { st.note = msg('error', 'Pick different questions.'); draw(); return; }
        st.answers = ids.map((id, i) => ({ question: id, secret: takeInput(f.elements[`a${i}`], 256) }));
        st.step = 'confirm';
        draw();
      } }, rows, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Next')))];
  }

  function drawConfirm() {
    return [h('h1', null, 'Issue a card: confirm'), header(), st.note,
      h('p', null, 'The card is erased, gets new keys and certificates, and the holder\'s PIN.'),
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: submit }, 'Issue the card'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { wipe(); ctx.go(''); } }, 'Cancel'))];
  }

  function drawProgress() {
    return [h('h1', null, 'Issuing the card\u2026'), header(),
      h('p', null, 'Keep the card in the reader. Key generation takes a few seconds per key.'), stepList()];
  }

  function drawSummary() {
    const o = st.opState || {};
    const ok = o.state === 'done';
    const c = st.summary;
    return [h('h1', null, ok ? 'Card issued' : 'The card was not issued'), header(),
      ok ? msg('ok', 'The card is ready. The holder can take it.') : msg('error', o.error || `Operation ${o.state || 'failed'}.`),
      c ? h('dl', { class: 'summary' },
        h('dt', null, 'Serial'), h('dd', null, c.serial), h('dt', null, 'State'), h('dd', null, c.state),
        h('dt', null, 'Certificates'), h('dd', null, String((c.certificates || []).length)),
        h('dt', null, 'Expires'), h('dd', null, new Date(c.expires * 1000).toISOString().slice(0, 10))) : null,
      h('details', null, h('summary', null, 'Steps'), stepList()),
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.go('') }, 'Done'))];
  }

  function draw() {
    const views = { holder: drawHolder, profile: drawProfile, card: drawCard, pin: drawPin, answers: drawAnswers,
      confirm: drawConfirm, sending: () => [h('h1', null, 'Sending\u2026')], progress: drawProgress, summary: drawSummary,
      refused: () => [h('h1', null, 'The card was not issued'), st.note,
        h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.go('') }, 'Back'))] };
    const keepFocus = st.step === 'progress' && main.getAttribute('data-step') === 'progress';
    replace(main, views[st.step]());
    main.setAttribute('data-step', st.step);
    if (!keepFocus) focusHeading(main);
  }

  let seen = null;
  unsub = readers.subscribe((list) => {
    const key = JSON.stringify(cardsIn(list, BLANK));
    if (st.step === 'card' && key !== seen) { seen = key; draw(); }
  });
  draw();
  return { unmount() { wipe(); watch.stop(); if (follow) { follow.stop(); follow = null; } if (unsub) unsub(); } };
}
