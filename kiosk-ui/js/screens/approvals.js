// Approvals (issue 9; docs/lifecycle.md, "Approvals"): the key recovery
// requests waiting for the operator logged in (GET /v1/approvals, those
// marked "waiting"), each with Approve and Deny (POST
// /v1/approvals/{id}/approve|deny); below, the operator's own requests,
// an approved one carried out through the replacement screen
// (#replace?approval=N, #temporary?approval=N). The station decides who may: this screen only
// shows what it answers.
import { h, msg, replace, announce } from '../dom.js';
import { api } from '../api.js';
import { day } from '../pick.js';
import * as session from '../session.js';

const STATE_TEXT = { pending: 'Pending', approved: 'Approved', denied: 'Denied', expired: 'Expired', carried_out: 'Carried out' };

export function mount(main, ctx) {
  const st = { list: [], note: null, loading: true, denying: null };

  async function load() {
    try {
      st.list = (await api('GET', '/v1/approvals')).body.approvals || [];
    } catch (e) { st.note = msg('error', e.message); }
    st.loading = false;
    draw();
  }

  async function decide(a, approve, reason) {
    try {
      const r = (await api('POST', `/v1/approvals/${a.id}/${approve ? 'approve' : 'deny'}`,
        approve || !reason ? {} : { reason })).body;
      st.note = msg('ok', approve ? `Request ${a.id} approved by you: ${r.approvals.length} of ${r.required}` +
        (r.state === 'approved' ? ' (approved)' : '') : `Request ${a.id} denied.`);
      announce(approve ? `Request ${a.id} approved` : `Request ${a.id} denied`);
    } catch (e) { st.note = msg('error', e.message); }
    st.denying = null;
    await load();
  }

  const what = (a) => `${a.operation === 'temporary' ? 'Temporary card' : 'Replacement'} of card ${a.card}` +
    (a.reason && a.operation !== 'temporary' ? ` (${a.reason})` : '');

  function waitingTable(list) {
    if (!list.length) return h('p', { class: 'lead', 'data-testid': 'none-waiting' }, 'No request is waiting for you.');
    return h('table', { 'data-testid': 'waiting' }, h('caption', null, 'Waiting for your decision'),
      h('thead', null, h('tr', null, ['Request', 'What', 'Holder', 'Requested by', 'Approvals', 'Expires', 'Decision']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, list.map((a) => h('tr', { 'data-approval': String(a.id) },
        h('td', null, String(a.id)), h('td', null, what(a)), h('td', null, a.holder),
        h('td', null, a.requester), h('td', null, `${a.approvals.length} of ${a.required}`), h('td', null, day(a.expires)),
        h('td', null, st.denying === a.id ? denyForm(a) : [
          h('button', { type: 'button', 'aria-label': `Approve request ${a.id}`, onclick: () => decide(a, true) }, 'Approve'),
          h('button', { type: 'button', class: 'secondary', 'aria-label': `Deny request ${a.id}`,
            onclick: () => { st.denying = a.id; draw(); } }, 'Deny')])))));
  }

  function denyForm(a) {
    const id = `deny-${a.id}`;
    return h('form', { onsubmit: (ev) => { ev.preventDefault(); decide(a, false, ev.target.elements[id].value.trim()); } },
      h('label', { for: id }, 'Why (optional)'), h('input', { id, name: id, type: 'text', maxlength: 200 }),
      h('button', { type: 'submit', class: 'danger' }, 'Deny the request'),
      h('button', { type: 'button', class: 'secondary', onclick: () => { st.denying = null; draw(); } }, 'Back'));
  }

  function mineTable(list) {
    if (!list.length) return null;
    return h('table', { 'data-testid': 'mine' }, h('caption', null, 'Your requests'),
      h('thead', null, h('tr', null, ['Request', 'What', 'Holder', 'State', 'Approvals', 'Expires', 'Action']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, list.map((a) => h('tr', { 'data-approval': String(a.id) },
        h('td', null, String(a.id)), h('td', null, what(a)), h('td', null, a.holder),
        h('td', { 'data-testid': `state-${a.id}` }, STATE_TEXT[a.state] || a.state),
        h('td', null, `${a.approvals.length} of ${a.required}`), h('td', null, day(a.expires)),
        h('td', null, a.state === 'approved' && (a.operation === 'replace' || a.operation === 'temporary')
          ? h('button', { type: 'button', 'aria-label': `Carry out request ${a.id}`,
            onclick: () => ctx.go(a.operation, { approval: String(a.id) }) }, 'Carry out\u2026') : null)))));
  }

  function draw() {
    const me = (session.current() || {}).operator;
    const waiting = st.list.filter((a) => a.waiting);
    const mine = st.list.filter((a) => a.requester === me && ['pending', 'approved'].includes(a.state));
    replace(main, h('h1', null, 'Approvals'), st.note,
      st.loading ? h('p', { role: 'status' }, 'Reading the requests\u2026') : [waitingTable(waiting), mineTable(mine),
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => { st.note = null; load(); } }, 'Refresh'))]);
    main.setAttribute('data-step', st.loading ? 'loading' : 'shown');
  }

  draw();
  load();
  return {};
}
