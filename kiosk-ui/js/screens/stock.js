// Stock (every operator role sees the levels; a badge officer or an
// administrator receives): blank cards per model and location drawn as a bar
// chart with the reorder threshold beside each (GET /v1/reports/stock; a
// level below its threshold is flagged), and a receipt by serial range or by
// the card in a reader (POST /v1/stock/receive). The station parses the
// serial list; this page sends what was typed.
import { h, replace, msg, announce } from '../dom.js';
import { api, apiReader } from '../api.js';
import { barChart } from '../chart.js';
import * as readers from '../readers.js';
import * as session from '../session.js';

export const RECEIVERS = ['badge_officer', 'administrator'];

export function mount(main) {
  const st = { rep: null, note: null, result: null, loading: true, mode: 'range', busy: false };
  let unsub = null;

  async function load() {
    st.loading = true;
    draw();
    try {
      st.rep = (await api('GET', '/v1/reports/stock')).body;
      st.note = null;
    } catch (e) { st.note = msg('error', e.message); }
    st.loading = false;
    draw();
  }

  const col = (name) => (st.rep.columns || []).indexOf(name);

  function levels() {
    const [m, l, n, t, s] = ['model', 'location', 'cards', 'threshold', 'status'].map(col);
    const rows = st.rep.rows || [];
    const low = rows.filter((r) => r[s] === 'low');
    const data = rows.map((r) => [`${r[m]} @ ${r[l]}`, Number(r[n])]);
    const table = h('table', { class: 'chart-table', 'data-testid': 'stock-levels' },
      h('caption', null, 'Levels and reorder thresholds'),
      h('thead', null, h('tr', null, ['Model', 'Location', 'Cards', 'Threshold', 'Status'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.map((r) => h('tr', { 'data-status': r[s] || 'none' },
        h('th', { scope: 'row' }, r[m]), h('td', null, r[l]), h('td', null, String(r[n])),
        h('td', null, r[t] === null ? '\u2013' : String(r[t])), h('td', null, r[s] === 'low' ? 'below threshold' : r[s] || '')))));
    return h('section', { class: 'panel', 'aria-labelledby': 'stock-h' },
      h('h2', { id: 'stock-h' }, `In stock: ${st.rep.cards} cards`),
      low.map((r) => msg('warn', `Reorder: ${r[m]} at ${r[l]} has ${r[n]} cards, threshold ${r[t]}.`)),
      barChart('stock', 'Blank cards per model and location', ['Model @ location', 'Cards'], data), table);
  }

  async function receive(ev) {
    ev.preventDefault();
    const f = ev.target.elements;
    const body = { model: f['st-model'].value.trim(), location: f['st-location'].value.trim() };
    if (f['st-batch'].value.trim()) body.batch = f['st-batch'].value.trim();
    if (st.mode === 'range') body.serials = f['st-serials'].value.trim();
    else {
      const r = main.querySelector('input[name="st-reader"]:checked');
      if (!r) { st.result = msg('error', 'Choose the reader the card is in.'); draw(); return; }
      body.reader = r.value;
    }
    st.busy = true;
    draw();
    try {
      const b = (await (body.reader ? apiReader : api)('POST', '/v1/stock/receive', body)).body;
      st.result = msg('ok', `Received ${b.received} card${b.received === 1 ? '' : 's'} (batch ${b.batch}) at ${b.location}.`);
      announce(`Received ${b.received} cards`);
    } catch (e) {
      st.result = msg('error', e.message);
    }
    st.busy = false;
    await load();
  }

  function form() {
    if (!session.hasRole(RECEIVERS)) return null;
    const field = (id, label, attrs) => [h('label', { for: id }, label), h('input', { id, name: id, ...attrs })];
    const withCard = readers.current().filter(readers.present);
    const mode = (v, text) => h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'st-mode', value: v,
      checked: st.mode === v, onchange: () => { st.mode = v; draw(); } }), text);
    return h('form', { class: 'panel', 'aria-labelledby': 'st-recv', onsubmit: receive },
      h('h2', { id: 'st-recv' }, 'Receive blank cards'),
      h('div', { class: 'row' },
        field('st-model', 'Model', { required: true, value: 'piv-yubico', maxlength: 64 }),
        field('st-location', 'Location', { required: true, value: st.rep?.station_location || '', maxlength: 64 }),
        field('st-batch', 'Batch (optional)', { maxlength: 64 })),
      h('fieldset', null, h('legend', null, 'Cards'), mode('range', 'Serial numbers or ranges'), mode('reader', 'The card in a reader')),
      st.mode === 'range'
        ? field('st-serials', 'Serials, e.g. 6101-6150,6200', { required: true, maxlength: 2000, autocomplete: 'off' })
        : h('fieldset', null, h('legend', null, 'Reader'), withCard.length
          ? withCard.map((r) => h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'st-reader', value: r.name }),
            `${r.name}: card ${r.serial || ''}`))
          : h('p', null, 'Insert the card in a reader.')),
      h('button', { type: 'submit', disabled: st.busy }, st.busy ? 'Receiving\u2026' : 'Receive'),
      st.result ? h('div', { 'data-testid': 'stock-result' }, st.result) : null);
  }

  function draw() {
    // Keep what was typed across redraws (a reader appearing redraws).
    const keep = {};
    for (const el of main.querySelectorAll('input[id^="st-"]')) keep[el.id] = el.value;
    replace(main, h('h1', null, 'Stock'), st.note,
      st.loading && !st.rep ? h('p', { role: 'status' }, 'Reading the stock\u2026') : st.rep ? [levels(), form()] : null);
    for (const [id, v] of Object.entries(keep)) { const el = main.querySelector(`#${id}`); if (el && v) el.value = v; }
    main.setAttribute('data-step', st.loading ? 'loading' : 'shown');
  }

  draw();
  unsub = readers.subscribe(() => { if (st.mode === 'reader' && !st.busy) draw(); });
  load();
  return { unmount() { if (unsub) unsub(); } };
}
