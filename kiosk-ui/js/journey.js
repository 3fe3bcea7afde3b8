// What every card journey shares: following the card it works on. When that
// card leaves its reader the overlay says so and the journey waits; when the
// same card is back it goes on where it was; another card restarts it.
import * as readers from './readers.js';
import { h, msg } from './dom.js';

let overlayOwner = null;

function overlay(show, onCancel) {
  const ov = document.getElementById('card-away');
  if (!ov) return;
  // Modal: the screen behind can be neither clicked nor reached with Tab.
  for (const id of ['main', 'nav', 'operator']) {
    const el = document.getElementById(id);
    if (el) el.inert = !!show;
  }
  const cancel = document.getElementById('card-away-cancel');
  if (show) {
    ov.hidden = false;
    cancel.onclick = () => { overlay(false); onCancel(); };
    cancel.focus();
  } else {
    ov.hidden = true;
    cancel.onclick = null;
  }
}

export class CardWatch {
  // handlers: away(), back(), other(reader) and cancel()
  constructor(handlers) {
    this.h = handlers;
    this.reader = null;
    this.guid = null;
    this.away = false;
    this.unsub = null;
  }

  follow(reader, guid) {
    this.reader = reader;
    this.guid = guid || null;
    this.away = false;
    if (!this.unsub) this.unsub = readers.subscribe((list) => this.update(list));
  }

  update(list) {
    if (!this.reader) return;
    const r = list.find((x) => x.name === this.reader);
    const here = readers.present(r);
    if (here && r.state === 'card' && this.guid && r.guid && r.guid !== this.guid) {
      this.stop();
      this.h.other && this.h.other(r);
      return;
    }
    if (!here && !this.away) {
      this.away = true;
      overlayOwner = this;
      overlay(true, () => { this.stop(); this.h.cancel && this.h.cancel(); });
      this.h.away && this.h.away();
    } else if (here && this.away && r.state === 'card') {
      this.away = false;
      if (overlayOwner === this) overlay(false);
      this.h.back && this.h.back();
    }
  }

  stop() {
    if (this.unsub) this.unsub();
    this.unsub = null;
    this.reader = null;
    if (overlayOwner === this) { overlay(false); overlayOwner = null; }
  }
}

// Cards listed now, with the inventory state a journey wants ("active",
// "unknown" for a blank card, or any when null).
export function cardsIn(list, inventory) {
  return list.filter((r) => r.state === 'card' && (inventory == null ||
    (Array.isArray(inventory) ? inventory.includes(r.inventory) : r.inventory === inventory)));
}

// Everything a profile's PIN rules say, as sentences.
export function policyItems(pol) {
  if (!pol) return ['6 to 8 digits'];
  const out = [];
  out.push(pol.min_length === pol.max_length ? `exactly ${pol.min_length} ${pol.digits_only ? 'digits' : 'characters'}`
    : `${pol.min_length} to ${pol.max_length} ${pol.digits_only ? 'digits' : 'characters'}`);
  if (pol.repeat_run) out.push(`no digit ${pol.repeat_run} times in a row (like ${'1'.repeat(pol.repeat_run)})`);
  if (pol.sequence_run) {
    const up = '123456789'.slice(0, pol.sequence_run);
    out.push(`no run of ${pol.sequence_run} in sequence (like ${up} or ${[...up].reverse().join('')})`);
  }
  if (pol.not_previous) out.push('not the same as the current PIN');
  if (pol.blocklist) out.push('not a common, easily guessed PIN');
  return out;
}

// The card's id in API paths: its GUID when the card has a CHUID, else serial.
export function cardId(r) { return r.guid || r.serial; }

// A holder's screen after the card blocked its PIN (PIN change, renewal):
// what happened and the way to the help desk. line: the card's line.
export function pinBlockedView(line, go) {
  return [h('h1', null, 'Your PIN is blocked'), line,
    msg('error', 'Too many wrong PINs: the card has blocked its PIN. The help desk can unblock it after a few questions: bring this card to them.'),
    h('div', { class: 'actions' },
      h('a', { class: 'button', href: '#unblock', 'data-testid': 'to-helpdesk' }, 'Help desk: unblock this card'),
      h('button', { type: 'button', class: 'secondary', onclick: () => go('') }, 'Back'))];
}

// The last screen of a holder's journey that worked: text, and Done home.
export function holderDoneView(title, line, text, extra, watch, go) {
  watch.h.away = () => { watch.stop(); go(''); };
  return [h('h1', null, title), line, msg('ok', text), extra,
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => { watch.stop(); go(''); } }, 'Done'))];
}
