// Live reader and card status: GET /v1/readers polled about once a second
// (the API has no push), shown in the bar under the header on every screen,
// and handed to the screen in view so a journey notices a card pulled out.
import { api } from './api.js';
import { h, replace } from './dom.js';

const listeners = new Set();
let last = [];
let timer = null;
let paused = 0;
let failed = false;

export const POLL_MS = 1000;

export function current() { return last; }
export function subscribe(fn) { listeners.add(fn); fn(last); return () => listeners.delete(fn); }

// A card is there: listed ("card"), or held by a request this moment ("busy").
export function present(r) { return !!r && (r.state === 'card' || r.state === 'busy'); }

// While a screen's own request holds a reader the list would only say "busy".
export function pause() { paused++; }
export function resume() { if (paused > 0) paused--; }

function label(r) {
  switch (r.state) {
    case 'card': {
      const inv = r.inventory === 'unknown' ? 'not issued here' : r.inventory;
      return `${r.name}: card ${r.serial || ''} (${inv})`;
    }
    case 'empty': return `${r.name}: no card`;
    case 'busy': return `${r.name}: working\u2026`;
    default: return `${r.name}: ${r.state}`;
  }
}

function draw() {
  const bar = document.getElementById('readers');
  if (!bar) return;
  if (failed) {
    replace(bar, h('span', { class: 'reader busy' }, 'Readers: the station does not answer'));
    return;
  }
  if (last.length === 0) {
    replace(bar, h('span', { class: 'reader' }, 'No card reader connected'));
    return;
  }
  replace(bar, last.map((r) => h('span', { class: `reader ${r.state}`, 'data-reader': r.name,
    'data-state': r.state }, label(r))));
}

async function tick() {
  if (paused === 0) {
    try {
      // A card that stops answering can hold the list for the card
      // timeout: the bar says so instead of showing old news.
      const r = await api('GET', '/v1/readers', undefined, { timeoutMs: 8000 });
      const list = Array.isArray(r.body.readers) ? r.body.readers : [];
      // A reader held by the screen's own request keeps its last known card.
      last = list.map((x) => {
        if (x.state !== 'busy') return x;
        const old = last.find((o) => o.name === x.name);
        return old && old.state === 'card' ? { ...old, state: 'busy' } : x;
      });
      failed = false;
    } catch (e) {
      failed = true;
    }
    draw();
    for (const fn of listeners) fn(last);
  }
  timer = setTimeout(tick, POLL_MS);
}

export function start() {
  if (timer === null) tick();
}
