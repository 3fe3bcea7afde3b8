// Small DOM helpers: elements are built with textContent, never innerHTML,
// so nothing the station or a holder record says can become markup.

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

export function replace(el, ...kids) {
  clear(el);
  for (const c of kids.flat(Infinity)) if (c) el.append(c);
}

// Spoken by screen readers, invisible on screen.
export function announce(text) {
  const s = document.getElementById('status');
  if (!s) return;
  s.textContent = '';
  setTimeout(() => { s.textContent = text; }, 50);
}

// A message box: kind is error, ok, warn or info. Errors interrupt (alert).
export function msg(kind, text, extra) {
  return h('div', { class: `msg ${kind}`, role: kind === 'error' || kind === 'warn' ? 'alert' : 'status',
    'data-kind': kind }, text, extra || null);
}

// Put focus on the first heading of a new step so keyboard and screen reader
// users start where the step starts.
export function focusHeading(root) {
  const hd = root.querySelector('h1, h2');
  if (hd) { hd.setAttribute('tabindex', '-1'); hd.focus(); }
}
