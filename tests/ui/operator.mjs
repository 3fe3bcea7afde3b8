// Journeys 1, 2 and 4, replacement, temporary card and its return, the
// reports and the stock screen, in headless Chromium against the real daemon, with an
// operator logging in at the kiosk with their own card (reader 1) and the
// holder's card in reader 0. Driven by t_ui_operator.sh, which issued and
// registered the operator card and checks every effect with stock clients,
// the inventory (CLI) and the test CA's CRL. Environment: UI_URL,
// UI_ARTIFACTS, UI_PROFILE, UI_OP_READER, UI_OP_PIN, UI_READER.
import { launch, ask, ok, eq, note, axe, shot, typePin, submitPad, pickHolder, domHasNone, failures } from './lib.mjs';

const URL = process.env.UI_URL;
const ART = process.env.UI_ARTIFACTS;
const OP_READER = process.env.UI_OP_READER;
const OP_PIN = process.env.UI_OP_PIN;
const PIN = '246813';
const PIN2 = '975310';
const PIN3 = '864209';
const PIN4 = '531864';
const ANSWER = (id) => `answer number ${id}`;

const { ctx, page, problems } = await launch(process.env.UI_PROFILE);
const step = (s) => page.waitForSelector(`main[data-step="${s}"]`, { timeout: 60000 });
const heading = (t) => page.waitForSelector(`main h1:text("${t}")`, { timeout: 60000 });

async function login(pin) {
  await page.goto(`${URL}/#login`);
  await heading('Operator login');
  await page.locator(`input[name="reader"][value="${OP_READER}"]`).check();
  await typePin(page, 'login-pin', pin);
  await submitPad(page, 'login-pin');
}

try {
  // --- operator login: a wrong PIN first, the card's count on screen
  await login('000000');
  await page.waitForSelector('[data-testid="tries-left"]', { timeout: 30000 });
  eq('2', await page.locator('[data-testid="tries-left"]').innerText(), 'a wrong operator PIN: 2 tries left on screen');
  eq('2', await ask('tries 1'), 'as the operator\'s card counts them (yubico-piv-tool)');
  await axe(page, 'the operator login screen');
  await shot(page, ART, '01-login-wrong-pin');
  await typePin(page, 'login-pin', OP_PIN);
  await submitPad(page, 'login-pin');
  await page.waitForSelector('[data-testid="operator-name"]', { timeout: 30000 });
  ok(/Olga Operator/.test(await page.locator('[data-testid="operator-name"]').innerText()), 'the operator is logged in by card and PIN');
  const ck = (await ctx.cookies()).find((c) => c.name === 'cm_session');
  ok(ck && ck.httpOnly && ck.sameSite === 'Strict', 'the session cookie is HttpOnly, SameSite=Strict', JSON.stringify(ck));
  ok(await domHasNone(page, [OP_PIN]), 'no operator PIN in the page');
  await shot(page, ART, '02-logged-in');

  // --- journey 1: badge office issues a card
  await page.locator('nav a[href="#issue"]').click();
  await step('holder');
  await page.fill('#hq', 'E200');
  await page.locator('form[role="search"] button[type="submit"]').click();
  await page.waitForSelector('.msg.info', { timeout: 30000 });
  await page.fill('#hid', 'E200');
  await page.fill('#hname', 'Eve Example');
  await page.fill('#hemail', 'eve@example.com');
  await page.locator('button:text("Add holder")').click();
  await step('profile');
  await page.locator('button.choice:has-text("employee:")').click();
  await step('card');
  eq('done', await ask('insert-blank 5201'), 'a blank card goes into reader 0');
  await page.locator('button.choice:has-text("5201")').click({ timeout: 30000 });
  await step('pin');
  await axe(page, 'the issue PIN screen');
  await typePin(page, 'issue-pin', PIN);
  await submitPad(page, 'issue-pin');
  await typePin(page, 'issue-pin2', PIN);
  await submitPad(page, 'issue-pin2');
  await step('answers');
  const n = await page.locator('select[id^="q"]').count();
  for (let i = 0; i < n; i++) {
    const id = await page.locator(`#q${i}`).inputValue();
    await page.fill(`#a${i}`, ANSWER(id));
  }
  await page.locator('main button[type="submit"]').click();
  await step('confirm');
  await shot(page, ART, '03-issue-confirm');
  // The progress: every request the page makes for the operation, and every
  // list of steps it draws (a MutationObserver in the page; no timing).
  const opReqs = [];
  page.on('request', (r) => { const u = new globalThis.URL(r.url()); if (u.pathname.startsWith('/v1/operations/')) opReqs.push(u); });
  await page.evaluate(() => {
    window.stepsDrawn = [];
    const read = () => [...document.querySelectorAll('[data-testid="steps"] li')].map((li) => li.dataset.step);
    new MutationObserver(() => {
      const l = read(), last = window.stepsDrawn.at(-1);
      if (l.length && (!last || l.join() !== last.join())) window.stepsDrawn.push(l);
    }).observe(document.querySelector('main'), { childList: true, subtree: true });
  });
  await page.locator('button:text("Issue the card")').click();
  await step('progress').catch(() => {});
  await shot(page, ART, '04-issue-progress');
  await step('summary');
  ok(/Card issued/.test(await page.locator('main h1').innerText()), 'journey 1: the summary says the card is issued');
  await shot(page, ART, '05-issue-summary');
  const drawn = await page.evaluate(() => window.stepsDrawn);
  const opId = opReqs.length ? opReqs[0].pathname.split('/')[3] : '?';
  const asked = opReqs.map((u) => [u.searchParams.get('wait'), u.searchParams.get('steps')]);
  ok(opReqs.length > 0 && asked.every(([w, n]) => /^[1-9][0-9]*$/.test(w || '') && Number(w) <= 30 && /^[0-9]+$/.test(n || '')),
    'the page follows the operation with wait= (1 to 30 s) and steps= on every request (no polling)', JSON.stringify(asked));
  note(`issue progress: ${asked.length} requests, steps= ${asked.map(([, n]) => n).join(' ')}; lists drawn: ${drawn.map((d) => d.length).join(' ')}`);
  const lens = new Set([0, ...drawn.map((d) => d.length)]);
  ok(asked.length > 0 && asked[0][1] === '0' && asked.every(([, n], i) => lens.has(Number(n)) && (i === 0 || Number(n) >= Number(asked[i - 1][1]))),
    'each request asks for the steps beyond a list the page drew (steps= 0 first, never going back)', JSON.stringify({ asked, drawn: drawn.map((d) => d.length) }));
  const journal = await ask(`opsteps ${opId}`);
  const jl = journal.split(',');
  ok(drawn.length > 0 && drawn.every((d) => d.every((x, k) => x === jl[k])),
    'each list of steps the page drew is the start of the operation\'s journal, in order', JSON.stringify({ journal, drawn }));
  eq(journal, (drawn.at(-1) || []).join(','), 'the steps the page shows at the end are the operation\'s journal (cardmgr --json op show)');
  eq('active 4', await ask('card 5201'), 'the inventory has the card active with 4 certificates (CLI)');
  eq('ok', await ask(`verify ${PIN}`), 'the holder\'s PIN set at the kiosk verifies on the card (yubico-piv-tool, pkcs11-tool)');

  // --- journey 2: help desk unblock
  eq('0', await ask('block'), 'the holder blocks the PIN (three wrong PINs, yubico-piv-tool)');
  await page.locator('nav a[href="#unblock"]').click();
  await page.locator('button.choice:has-text("5201")').click({ timeout: 30000 });
  await step('answers');
  const qs = await page.locator('main input[type="password"]').evaluateAll((l) => l.map((x) => x.id.replace(/^ans/, '')));
  ok(qs.length > 0, `the station picks ${qs.length} questions`);
  for (const id of qs) await page.fill(`#ans${id}`, ANSWER(id));
  await axe(page, 'the unblock questions');
  await shot(page, ART, '06-unblock-questions');
  await page.locator('main button[type="submit"]').click();
  await step('pin');
  await typePin(page, 'unblock-pin', PIN2);
  await submitPad(page, 'unblock-pin');
  await typePin(page, 'unblock-pin2', PIN2);
  await submitPad(page, 'unblock-pin2');
  await step('done');
  ok(true, 'journey 2: the card is unblocked');
  ok(await domHasNone(page, [PIN2, ANSWER(qs[0])]), 'no PIN or answer in the page after sending');
  eq('ok', await ask(`verify ${PIN2}`), 'the new PIN verifies on the card (yubico-piv-tool, pkcs11-tool)');

  // --- replacement: 5201 is damaged, 5202 takes its place with its keys
  eq('done', await ask('pull 0'), 'the holder takes the card: it is damaged later');
  const tile = async (route) => {
    await page.locator('a.brand').click();
    await page.locator(`a.tile[href="#${route}"]`).click();
  };
  const findEve = (id) => pickHolder(page, id, 'Eve', 'E200');
  await tile('replace');
  await findEve('rpq');
  await page.locator('button[aria-label="Replace card 5201"]').click();
  await step('reason');
  await page.locator('input[name="reason"][value="damaged"]').check();
  await page.locator('main button[type="submit"]').click();
  await step('blank');
  eq('done', await ask('insert-blank 5202'), 'a blank card goes into reader 0');
  await page.locator('button.choice:has-text("5202")').click({ timeout: 30000 });
  await step('pin');
  await axe(page, 'the replacement PIN screen');
  await typePin(page, 'replace-pin', PIN3);
  await submitPad(page, 'replace-pin');
  await typePin(page, 'replace-pin2', PIN3);
  await submitPad(page, 'replace-pin2');
  await step('confirm');
  await shot(page, ART, '07-replace-confirm');
  await page.locator('button:text("Replace the card")').click();
  await step('summary');
  ok(/Card replaced/.test(await page.locator('main h1').innerText()), 'replacement: the summary says the card is replaced');
  eq('damaged active', `${await page.locator('[data-testid="old-state"]').innerText()} ${await page.locator('[data-testid="new-state"]').innerText()}`,
    'the summary names the old card damaged and the new one active');
  eq('1', await page.locator('[data-testid="recovered"]').innerText(), 'and the one escrowed key recovered');
  await axe(page, 'the replacement summary');
  await shot(page, ART, '08-replace-summary');
  ok(await domHasNone(page, [PIN3]), 'no PIN in the page after the replacement');
  // The reader bar follows: the new card is the inventory's, not "not issued here".
  const barActive = await page.waitForFunction(() => [...document.querySelectorAll('#readers [data-reader]')]
    .some((e) => /card 5202 \(active\)/.test(e.textContent)), null, { timeout: 15000 }).then(() => true, () => false);
  ok(barActive, 'the reader bar shows the new card 5202 as active',
    await page.locator('#readers').innerText().catch(() => ''));
  eq('damaged 4', await ask('card 5201'), 'the inventory has the old card damaged (CLI)');
  eq('active 4', await ask('card 5202'), 'and the new card active with 4 certificates (CLI)');
  eq('ok', await ask('crl CessationOfOperation 5201'), 'the test CA\'s CRL lists the old card\'s 4 certificates (cessationOfOperation)');
  eq('ok', await ask(`verify ${PIN3}`), 'the PIN set at the kiosk verifies on the new card (yubico-piv-tool, pkcs11-tool)');

  // --- temporary card: 5202 left at home, 5203 lent, then returned
  eq('done', await ask('pull 0'), 'the holder forgets the new card at home');
  await tile('temporary');
  await findEve('tq');
  await page.locator('button[aria-label="Forgotten card 5202"]').click();
  await step('blank');
  eq('done', await ask('insert-blank 5203'), 'a blank card goes into reader 0');
  await page.locator('button.choice:has-text("5203")').click({ timeout: 30000 });
  await step('pin');
  await typePin(page, 'temp-pin', PIN4);
  await submitPad(page, 'temp-pin');
  await typePin(page, 'temp-pin2', PIN4);
  await submitPad(page, 'temp-pin2');
  await step('confirm');
  await page.locator('button:text("Issue the temporary card")').click();
  await step('summary');
  eq('suspended temporary', `${await page.locator('[data-testid="perm-state"]').innerText()} ${await page.locator('[data-testid="temp-state"]').innerText()}`,
    'temporary card: the summary says the permanent card is held and the new one temporary');
  await axe(page, 'the temporary card summary');
  await shot(page, ART, '09-temporary-summary');
  eq('suspended temporary', `${await ask('state 5202')} ${await ask('state 5203')}`, 'as the inventory says (CLI)');
  eq('ok', await ask('crl CertificateHold 5202'), 'the CRL holds the permanent card\'s certificates (certificateHold)');
  eq('done', await ask('pull 0'), 'the holder is back with the permanent card: the temporary one is handed in');
  await tile('return');
  await findEve('rtq');
  await page.locator('button[aria-label="Return card 5203"]').click();
  await step('confirm');
  await page.locator('button:text("End the loan")').click();
  await step('result');
  await page.waitForFunction(() => /confirmed by the CA/.test(document.querySelector('[data-testid="ca-sync"]')?.textContent || ''),
    null, { timeout: 60000 });
  await axe(page, 'the return result');
  await shot(page, ART, '10-returned');
  eq('active returned', `${await ask('state 5202')} ${await ask('state 5203')}`, 'return: the permanent card active again, the temporary card returned (CLI)');
  eq('ok', await ask('crl CessationOfOperation 5203'), 'the CRL revokes the temporary card\'s certificates');
  eq('ok', await ask('crl absent 5202'), 'and no longer lists the permanent card\'s (removeFromCRL)');

  // --- journey 4: security officer retires the lost card
  await page.locator('nav a[href="#retire"]').click();
  await findEve('rq');
  await page.locator('button[aria-label="Retire card 5202"]').click();
  await step('reason');
  await page.locator('input[name="reason"][value="lost"]').check();
  await page.locator('main button[type="submit"]').click();
  await step('confirm');
  await axe(page, 'the retire confirmation');
  await page.locator('button:text("Retire the card")').click();
  await step('result');
  await page.waitForFunction(() => /confirmed by the CA/.test(document.querySelector('[data-testid="ca-sync"]')?.textContent || ''),
    null, { timeout: 60000 });
  ok(/lost/.test(await page.locator('[data-testid="retire-result"]').innerText()), 'journey 4: the card is lost, its revocations confirmed by the CA');
  await shot(page, ART, '11-retired');
  eq('lost', await ask('state 5202'), 'the inventory says lost (CLI)');
  eq('2', await ask('unrevoked'), 'the test CA\'s CRL revokes all 12 holder certificates (only the operator card\'s 2 remain)');

  // --- reports: the charts' numbers are the CLI's
  await tile('reports');
  await step('shown');
  // Far enough ahead to reach the operator card's certificates.
  await page.fill('#rep-expdays', '3650');
  await page.locator('main form button[type="submit"]').click();
  await page.waitForFunction(() => document.querySelector('main').dataset.step === 'shown' &&
    /within 3650 days/.test(document.querySelector('#rep-exp')?.textContent || ''), null, { timeout: 30000 });
  const charts = await page.evaluate(() => {
    const out = {};
    for (const svg of document.querySelectorAll('svg[data-chart]')) {
      const m = {};
      for (const r of svg.querySelectorAll('rect[data-label]')) if (Number(r.dataset.value)) m[r.dataset.label] = Number(r.dataset.value);
      out[svg.dataset.chart] = m;
    }
    const tables = {};
    for (const t of document.querySelectorAll('table[data-table]')) {
      const m = {};
      for (const tr of t.querySelectorAll('tbody tr')) {
        const v = Number(tr.querySelector('td').textContent);
        if (v) m[tr.querySelector('th').textContent] = v;
      }
      tables[t.dataset.table] = m;
    }
    return { charts: out, tables };
  });
  const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)).map(
    ([k, v]) => [k, typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v])));
  const cli = await ask('figures 14 3650');
  eq(cli, sorted(charts.charts), 'reports: every chart\'s bars are the CLI\'s report figures (cardmgr report)');
  eq(sorted(charts.charts), sorted(charts.tables), 'and each table beside its chart says the same');
  ok(Object.keys(charts.charts.expiring || {}).length > 0, 'the expiring chart has bars to compare', JSON.stringify(charts.charts));
  ok(charts.charts.state && charts.charts.state.lost === 1 && charts.charts.state.damaged === 1 && charts.charts.state.returned === 1,
    'the inventory chart counts the lost, damaged and returned cards once each', JSON.stringify(charts.charts.state));
  await axe(page, 'the reports screen');
  await shot(page, ART, '12-reports');

  // --- stock: levels with the threshold warning, a receipt by range and one
  // of the card in a reader; the CLI's report says the same.
  await tile('stock');
  await step('shown');
  await page.waitForSelector('[data-testid="stock-levels"]', { timeout: 30000 });
  const stockRows = () => page.evaluate(() => [...document.querySelectorAll('[data-testid="stock-levels"] tbody tr')]
    .map((tr) => [...tr.children].map((c) => c.textContent).join('/')).join(' '));
  eq(await ask('stocklevels'), await stockRows(), 'stock: the levels table is the CLI\'s report stock');
  ok(/Reorder: piv-yubico at desk/.test(await page.locator('main .msg.warn').first().innerText()),
    'a level below its threshold is flagged on screen');
  await page.fill('#st-serials', '6301-6303');
  await page.fill('#st-batch', 'UI1');
  await page.locator('main form button[type="submit"]').click();
  await page.waitForSelector('[data-testid="stock-result"] .msg', { timeout: 30000 });
  ok(/Received 3 cards \(batch UI1\) at desk/.test(await page.locator('[data-testid="stock-result"]').innerText()),
    'stock: a range of 3 cards is received', await page.locator('[data-testid="stock-result"]').innerText());
  eq('6301 6302 6303', await ask('instock UI1'), 'the CLI lists them in stock, batch UI1');
  await page.waitForFunction(() => document.querySelector('main').dataset.step === 'shown', null, { timeout: 30000 });
  eq(await ask('stocklevels'), await stockRows(), 'and the levels on screen moved with them');
  await page.fill('#st-serials', '6303-6301');
  await page.locator('main form button[type="submit"]').click();
  await page.waitForSelector('[data-testid="stock-result"] .msg.error', { timeout: 30000 });
  ok(/A <= B/.test(await page.locator('[data-testid="stock-result"]').innerText()), 'a range the wrong way round: the station says why');
  eq('done', await ask('insert-unstocked 6401'), 'a new blank card (not in stock) goes into reader 0');
  await page.locator('input[name="st-mode"][value="reader"]').check();
  await page.locator(`input[name="st-reader"][value="${process.env.UI_READER}"]`).check({ timeout: 30000 });
  await page.fill('#st-batch', 'UI2');
  await page.locator('main form button[type="submit"]').click();
  await page.waitForSelector('[data-testid="stock-result"] .msg.ok', { timeout: 30000 });
  eq('6401', await ask('instock UI2'), 'stock: the card in the reader is received under its serial');
  await axe(page, 'the stock screen');
  await shot(page, ART, '13-stock');
  eq('done', await ask('pull 0'), 'the received card leaves the reader');

  // --- the operator's card leaves its reader: the session ends
  eq('done', await ask('pull 1'), 'the operator pulls their card');
  await page.waitForSelector('main h1:text("Operator login")', { timeout: 30000 });
  ok(/ended/.test(await page.locator('main').innerText()), 'the kiosk goes back to the login and says the session ended');
  ok(/Operator login/.test(await page.locator('#operator').innerText()), 'no operator is shown any more');
  ok(problems.length === 0, 'no console error, page error or CSP violation', problems.join('\n'));
} catch (e) {
  ok(false, `the journeys ran to their end: ${e.message.split('\n')[0]}`, e.stack);
  try { await shot(page, ART, 'zz-failure'); } catch (e2) { /* gone */ }
} finally {
  await ctx.close();
}
process.exit(failures ? 1 : 0);
