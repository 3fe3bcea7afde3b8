// Reports (auditor, security officer, administrator): the station's own
// report endpoints (GET /v1/reports/inventory, /operations?days=N,
// /expiring?days=N; every page followed through next_offset) drawn as bar
// charts with their numbers in a table beside each.
import { h, replace, msg, focusHeading } from '../dom.js';
import { api } from '../api.js';
import { barChart } from '../chart.js';

// The whole report: rows of every page; the first page's other fields.
async function report(path) {
  let first = null;
  const rows = [];
  for (let off = 0, n = 0; off !== undefined && n < 100; n++) {
    const sep = path.includes('?') ? '&' : '?';
    const b = (await api('GET', `${path}${off ? `${sep}offset=${off}` : ''}`)).body;
    if (!first) first = b;
    rows.push(...(b.rows || []));
    off = b.next_offset;
  }
  return { ...first, rows };
}

const col = (rep, name) => (rep.columns || []).indexOf(name);

// Sums of column `val` grouped by column `key` (insertion order).
function sumBy(rep, key, val, filter) {
  const k = col(rep, key);
  const v = col(rep, val);
  const m = new Map();
  for (const r of rep.rows) if (!filter || filter(r)) m.set(String(r[k]), (m.get(String(r[k])) || 0) + Number(r[v] || 0));
  return m;
}

function lastDays(days) {
  const out = [];
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  for (let i = days - 1; i >= 0; i--) out.push(new Date(today - i * 86400000).toISOString().slice(0, 10));
  return out;
}

export function mount(main) {
  const st = { opDays: 14, expDays: 30, inv: null, ops: null, exp: null, note: null, loading: true };

  async function load() {
    st.loading = true;
    draw();
    try {
      [st.inv, st.ops, st.exp] = await Promise.all([report('/v1/reports/inventory'),
        report(`/v1/reports/operations?days=${st.opDays}`), report(`/v1/reports/expiring?days=${st.expDays}`)]);
      st.note = null;
    } catch (e) { st.note = msg('error', e.message); }
    st.loading = false;
    draw();
  }

  function charts() {
    const out = [];
    if (st.inv) {
      const byState = Object.entries(st.inv.by_state || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
      const byProfile = [...sumBy(st.inv, 'profile', 'cards')].sort((a, b) => b[1] - a[1]);
      out.push(h('section', { class: 'panel', 'aria-labelledby': 'rep-inv' }, h('h2', { id: 'rep-inv' }, `Inventory: ${st.inv.cards ?? st.inv.total} cards`),
        barChart('state', 'Cards by state', ['State', 'Cards'], byState),
        barChart('profile', 'Cards by profile', ['Profile', 'Cards'], byProfile)));
    }
    if (st.ops) {
      const perDay = sumBy(st.ops, 'day', 'total');
      out.push(h('section', { class: 'panel', 'aria-labelledby': 'rep-ops' }, h('h2', { id: 'rep-ops' }, `Operations per day, last ${st.opDays} days`),
        barChart('operations', 'Operations per UTC day', ['Day', 'Operations'], lastDays(st.opDays).map((d) => [d, perDay.get(d) || 0]))));
    }
    if (st.exp) {
      const k = col(st.exp, 'expires');
      const perDay = new Map();
      for (const r of st.exp.rows) {
        if (r[col(st.exp, 'kind')] !== 'certificate') continue;
        const d = String(r[k]).slice(0, 10);
        perDay.set(d, (perDay.get(d) || 0) + 1);
      }
      out.push(h('section', { class: 'panel', 'aria-labelledby': 'rep-exp' },
        h('h2', { id: 'rep-exp' }, `Certificates expiring within ${st.expDays} days`),
        barChart('expiring', 'Certificates expiring per day', ['Day', 'Certificates'], [...perDay].sort((a, b) => a[0].localeCompare(b[0])))));
    }
    return out;
  }

  function draw() {
    const days = (id, label, value, max) => [h('label', { for: id }, label),
      h('input', { id, name: id, type: 'number', min: 1, max, value, required: true, inputmode: 'numeric' })];
    replace(main, h('h1', null, 'Reports'), st.note,
      h('form', { class: 'panel row', onsubmit: (ev) => {
        ev.preventDefault();
        const f = ev.target.elements;
        st.opDays = Math.min(366, Math.max(1, Number(f['rep-opdays'].value) || 14));
        st.expDays = Math.min(3650, Math.max(1, Number(f['rep-expdays'].value) || 30));
        load();
      } }, days('rep-opdays', 'Operations: days', st.opDays, 366), days('rep-expdays', 'Expiring within days', st.expDays, 3650),
      h('button', { type: 'submit' }, 'Show')),
      st.loading ? h('p', { role: 'status' }, 'Reading the reports\u2026') : charts());
    main.setAttribute('data-step', st.loading ? 'loading' : 'shown');
  }

  draw();
  focusHeading(main);
  load();
  return {};
}
