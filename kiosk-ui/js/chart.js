// Bar charts as inline SVG built with DOM calls (no library, nothing
// parsed as markup), each with the same numbers as a table beside it for
// screen readers and for reading exact values. Every bar carries its label
// and value in data-label and data-value (what the tests read).
import { h } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...kids) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of kids) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

// id: a short name (data-chart), title: the caption, head: [label column,
// value column], data: [[label, value], ...] in display order.
export function barChart(id, title, head, data) {
  const rowH = 30;
  const labelW = 170;
  const barW = 300;
  const width = labelW + barW + 60;
  const height = Math.max(1, data.length) * rowH + 10;
  const max = Math.max(1, ...data.map(([, v]) => v));
  const titleId = `chart-${id}-title`;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-labelledby': titleId,
    'data-chart': id, class: 'chart' },
  s('title', { id: titleId }, title));
  data.forEach(([label, v], i) => {
    const y = 5 + i * rowH;
    const w = Math.round((v / max) * barW);
    svg.append(
      s('text', { x: labelW - 8, y: y + rowH / 2 + 5, 'text-anchor': 'end', class: 'chart-label' }, label),
      s('rect', { x: labelW, y: y + 4, width: Math.max(w, v > 0 ? 2 : 0), height: rowH - 8, class: 'chart-bar',
        'data-label': label, 'data-value': v }, s('title', null, `${label}: ${v}`)),
      s('text', { x: labelW + Math.max(w, 0) + 6, y: y + rowH / 2 + 5, class: 'chart-value' }, String(v)));
  });
  if (data.length === 0) svg.append(s('text', { x: 10, y: 25, class: 'chart-label' }, 'nothing to show'));
  const table = h('table', { class: 'chart-table', 'data-table': id }, h('caption', null, title),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, head[0]), h('th', { scope: 'col' }, head[1]))),
    h('tbody', null, data.map(([label, v]) => h('tr', null, h('th', { scope: 'row' }, label), h('td', null, String(v))))));
  return h('figure', { class: 'chart-box' }, svg, table);
}
