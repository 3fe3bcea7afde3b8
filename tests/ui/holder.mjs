// Journey 3 in headless Chromium against the real daemon: a holder changes
// their own PIN at the kiosk. Driven by t_ui_holder.sh, which owns the card
// (pull, insert) and reads it with stock clients for every effect asserted
// here. Environment: UI_URL, UI_ARTIFACTS (screenshots), UI_PROFILE (a fresh
// browser profile), UI_PIN (the card's PIN now).
import { launch, ask, ok, eq, note, axe, shot, typePin, submitPad, domHasNone, failures } from './lib.mjs';

const URL = process.env.UI_URL;
const ART = process.env.UI_ARTIFACTS;
const OLD = process.env.UI_PIN;
const NEW = '572814';
const NEW2 = '680913';
const WRONG = '111111';

const { ctx, page, problems } = await launch(process.env.UI_PROFILE);
const step = (s) => page.waitForSelector(`main[data-step="${s}"]`, { timeout: 30000 });

// current, new, again on the three keypads of the PIN change screen.
async function change(cur, neu, again, opts = {}) {
  await step('old');
  await typePin(page, 'pin-old', cur, opts);
  await submitPad(page, 'pin-old');
  await step('new');
  if (opts.beforeNew) await opts.beforeNew();
  await typePin(page, 'pin-new', neu, opts);
  await submitPad(page, 'pin-new');
  await step('again');
  await typePin(page, 'pin-again', again, opts);
  await submitPad(page, 'pin-again');
}
async function triesShown() {
  await page.waitForSelector('[data-testid="tries-left"]', { timeout: 30000 });
  return page.locator('[data-testid="tries-left"]').innerText();
}

try {
  // --- the kiosk page, served by the api process
  const resp = await page.goto(`${URL}/`);
  eq(200, resp.status(), 'GET / serves the kiosk page');
  ok(/^default-src 'self'/.test(resp.headers()['content-security-policy'] || ''),
    'with CSP default-src \'self\'', resp.headers()['content-security-policy']);
  await page.waitForSelector('#readers [data-state="card"]', { timeout: 30000 });
  ok(/5101/.test(await page.locator('#readers').innerText()), 'the reader bar shows the card in reader 0 (serial 5101)');
  ok(await page.evaluate(async () => { await window.sodium.ready; return typeof window.sodium.crypto_box_seal === 'function'; }),
    'libsodium (node_modules, pinned) loads under that CSP');
  ok(await page.evaluate(() => document.documentElement.scrollWidth <= 1024), 'no horizontal scrolling at 1024x768');
  await axe(page, 'the home screen');
  await shot(page, ART, '01-home');

  // --- keyboard only: Tab to "Change my PIN", Enter
  let reached = false;
  for (let i = 0; i < 20 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('href') === '#pin');
  }
  await page.keyboard.press('Enter');
  await step('old');
  ok(reached, 'keyboard: Tab reaches "Change my PIN" and Enter opens it; the card is picked by itself');
  const pol = await page.locator('[data-testid="policy"]').innerText();
  ok(/6 to 8 digits/.test(pol) && /1234/.test(pol) && /111/.test(pol),
    'the PIN rules (length, runs, sequences) are shown before anything is typed', pol);
  await axe(page, 'the PIN change screen');
  await shot(page, ART, '02-rules-before-typing');

  // --- the keyboard types on the keypad too (focus on it), and Backspace erases
  await page.locator('#pin-old button[data-key="1"]').focus();
  await page.keyboard.type('99');
  await page.keyboard.press('Backspace');
  eq('1 digit entered', await page.locator('#pin-old-dots').getAttribute('aria-label'), 'keyboard: digits and Backspace on the focused keypad');
  await page.keyboard.press('Backspace');

  // --- a new PIN the rules refuse: refused before the card, no try spent
  await change(OLD, '123456', '123456');
  await page.waitForSelector('main[data-step="old"] .msg.error', { timeout: 30000 });
  ok(/consecutive|sequence|run/i.test(await page.locator('.msg.error').innerText()),
    'a new PIN with a run (123456) is refused with the rule it breaks');
  eq('3', await ask('tries'), 'and the card still has 3 tries (yubico-piv-tool)');

  // --- a wrong current PIN: tries left, as the card counts them
  await change(WRONG, NEW, NEW);
  eq('2', await triesShown(), 'a wrong current PIN: the screen says 2 tries left');
  eq('2', await ask('tries'), 'the card says 2 tries left too (yubico-piv-tool)');
  ok(await domHasNone(page, [WRONG, NEW, OLD]), 'no PIN in the page (DOM, fields) after sending');
  await shot(page, ART, '03-wrong-pin');

  // --- the card pulled mid-journey, then back: the journey goes on
  await change(OLD, NEW, NEW, {
    beforeNew: async () => {
      eq('done', await ask('pull'), 'the card is pulled out while the holder types');
      await page.waitForSelector('#card-away:not([hidden])', { timeout: 30000 });
      ok(true, 'the screen says the card was removed');
      await axe(page, 'the card-removed dialog');
      await shot(page, ART, '04-card-removed');
      eq('done', await ask('insert'), 'the same card goes back in');
      await page.waitForSelector('#card-away', { state: 'hidden', timeout: 30000 });
      eq('new', await page.locator('main').getAttribute('data-step'), 'the journey resumes at the new PIN, where it was');
      // The next keypad is drawn shuffled, and is tapped (touch).
      await page.evaluate(() => localStorage.setItem('kiosk.shuffle', '1'));
    },
  });
  await step('done');
  ok(true, 'the PIN is changed');
  await shot(page, ART, '05-pin-changed');
  ok(await domHasNone(page, [NEW, OLD]), 'no PIN in the page after the change');
  eq('ok', await ask(`verify ${NEW}`), 'the card takes the new PIN (yubico-piv-tool verify-pin, pkcs11-tool login)');

  // --- a shuffled, tapped keypad; then wrong PINs down to blocked
  await page.locator('nav a[href="#pin"]').click();
  await step('old');
  const order = await page.locator('#pin-old .keys button').evaluateAll((b) => b.map((x) => x.dataset.key).join(''));
  note(`shuffled layout: ${order}`);
  ok([...'0123456789'].every((d) => order.includes(d)), 'the shuffled keypad has every digit');
  await change(WRONG, NEW2, NEW2, { touch: true });
  eq('2', await triesShown(), 'wrong PIN (touch, shuffled keypad): 2 tries left on screen');
  eq('2', await ask('tries'), 'and on the card');
  await change(WRONG, NEW2, NEW2);
  await page.waitForFunction(() => document.querySelector('[data-testid="tries-left"]')?.textContent === '1', null, { timeout: 30000 });
  eq('1', await ask('tries'), 'wrong again: 1 try left on screen and on the card');
  await change(WRONG, NEW2, NEW2);
  await step('blocked');
  ok(/help desk/i.test(await page.locator('main').innerText()), 'the third wrong PIN: blocked, sent to the help desk');
  eq('0', await ask('tries'), 'the card\'s PIN is blocked (0 tries)');
  await axe(page, 'the PIN blocked screen');
  await shot(page, ART, '06-blocked');
  await page.locator('[data-testid="to-helpdesk"]').click();
  await page.waitForSelector('h1:text("Operator login")', { timeout: 30000 });
  ok(/next=unblock/.test(page.url()), 'the help desk link leads to the operator login, then the unblock');
  await axe(page, 'the operator login screen');
  await shot(page, ART, '07-operator-login');

  ok(problems.length === 0, 'no console error, page error or CSP violation', problems.join('\n'));
} catch (e) {
  ok(false, `the journey ran to its end: ${e.message.split('\n')[0]}`, e.stack);
  try { await shot(page, ART, 'zz-failure'); } catch (e2) { /* gone */ }
} finally {
  await ctx.close();
}
process.exit(failures ? 1 : 0);
