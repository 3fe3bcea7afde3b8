// What the kiosk UI tests share: Debian's chromium under playwright-core
// (never a browser npm would download), axe-core, screenshots, and the line
// protocol with the test's shell (t_ui_*.sh): this script prints
//   @@ok DESC | @@notok DESC       one TAP result (the shell numbers them)
//   @@do ACTION ARGS               the shell acts (pull or insert a card,
//                                  read the card with a stock client) and
//                                  answers one line on stdin
// and anything else as a comment.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
export const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const rl = readline.createInterface({ input: process.stdin });
const replies = [];
const waiting = [];
rl.on('line', (l) => { const w = waiting.shift(); if (w) w(l); else replies.push(l); });

export function ask(action) {
  process.stdout.write(`@@do ${action}\n`);
  return new Promise((res) => { const r = replies.shift(); if (r !== undefined) res(r); else waiting.push(res); });
}

export let failures = 0;
export function ok(cond, desc, detail) {
  const d = desc.replace(/\n/g, ' ');
  if (cond) process.stdout.write(`@@ok ${d}\n`);
  else {
    failures++;
    process.stdout.write(`@@notok ${d}\n`);
    if (detail !== undefined) process.stdout.write(`#   ${String(detail).replace(/\n/g, '\n#   ')}\n`);
  }
  return cond;
}
export function eq(want, got, desc) {
  return ok(want === got, desc, `want: ${JSON.stringify(want)} got: ${JSON.stringify(got)}`);
}
export function note(s) { process.stdout.write(`# ${s}\n`); }

// One browser for the whole file: a fresh profile, the flags the station's
// kiosk runs with, no network beyond the test's own loopback.
export async function launch(userDataDir) {
  fs.mkdirSync(userDataDir, { recursive: true });
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1024, height: 768 },
    hasTouch: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const problems = [];
  // An API answer of 4xx is part of the journeys (a wrong PIN is 403): the
  // console's "Failed to load resource" for it is not a problem; anything
  // else at error level (a CSP violation, a script error) is.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()))
      problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { ctx, page, problems };
}

export async function shot(page, dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

// axe-core on the page as it is now: serious and critical violations only.
// (Evaluated through the DevTools protocol, which the page's CSP does not
// govern: the page itself still allows no inline or foreign script.)
export async function axe(page, desc) {
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!has) await page.evaluate(AXE_SOURCE);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  ok(res.length === 0, `axe: no serious or critical violation on ${desc}`, res.join('\n'));
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  return ok(w <= 1024, `${desc} fits 1024 px wide (no horizontal scrolling)`, `scrollWidth ${w}`);
}

// Type digits on a keypad (by the keys' labels: the layout may be shuffled).
export async function typePin(page, keypadId, digits, { touch = false } = {}) {
  const kp = page.locator(`#${keypadId}`);
  for (const d of digits) {
    const key = kp.locator(`button[data-key="${d}"]`);
    if (touch) await key.tap(); else await key.click();
  }
}

export async function submitPad(page, keypadId) {
  await page.locator(`#${keypadId} button[data-key="ok"]`).click();
}

// A journey's holder step: search field #inputId for query, choose the
// holder listed as choice, and wait for the card step.
export async function pickHolder(page, inputId, query, choice) {
  const step = (s) => page.waitForSelector(`main[data-step="${s}"]`, { timeout: 60000 });
  await step('holder');
  await page.fill(`#${inputId}`, query);
  await page.locator('form[role="search"] button[type="submit"]').click();
  await page.locator(`button.choice:has-text("${choice}")`).click({ timeout: 30000 });
  await step('card');
}

// The page's DOM and form fields hold none of these strings.
export async function domHasNone(page, secrets) {
  return page.evaluate((s) => {
    const html = document.documentElement.outerHTML;
    const vals = [...document.querySelectorAll('input, textarea')].map((i) => i.value).join('\n');
    return s.every((x) => !html.includes(x) && !vals.includes(x));
  }, secrets);
}
