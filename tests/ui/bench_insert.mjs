// make bench (tests/bench_ui.sh, part a), not a test: the time from a card
// insertion to the kiosk's journey screen updating, in headless Chromium
// against the real daemon. The page is on #pin (journey 3) with reader 0
// empty; a MutationObserver in the page stamps (Date.now(), the host's wall
// clock) the first moment the reader bar shows the card and the first moment
// the screen leaves "insert" for the current-PIN step. The shell stamps the
// insertion ($EPOCHREALTIME right before vcard starts) and answers
// "T0 T1" (T1: vcard_insert returned, pcscd sees the card).
// Prints "@@round BAR_S SCREEN_S PCSC_S" per round; "@@notok" if a round broke.
// Environment: UI_URL, UI_PROFILE, UI_READER (reader 0's name), BENCH_UI_ROUNDS.
import { launch, ask, ok, note, failures } from './lib.mjs';

const URL = process.env.UI_URL;
const READER = process.env.UI_READER;
const ROUNDS = Number(process.env.BENCH_UI_ROUNDS || 10);

const { ctx, page, problems } = await launch(process.env.UI_PROFILE);
const sel = (s) => `[data-reader="${READER.replace(/"/g, '\\"')}"][data-state="${s}"]`;

// The page on #pin, reader 0 shown empty, the screen waiting for a card.
async function ready() {
  await page.goto('about:blank');	// a fresh page each round, not a hash change
  await page.goto(`${URL}/#pin`);
  await page.waitForSelector(sel('empty'), { timeout: 30000 });
  await page.waitForSelector('main[data-step="insert"]', { timeout: 30000 });
  await page.evaluate((s) => {
    window.benchStamp = { bar: 0, screen: 0 };
    const look = () => {
      const now = Date.now();
      if (!window.benchStamp.bar && document.querySelector(s)) window.benchStamp.bar = now;
      const step = document.querySelector('main').getAttribute('data-step');
      if (!window.benchStamp.screen && step && step !== 'insert') window.benchStamp.screen = now;
    };
    new MutationObserver(look).observe(document.body, { childList: true, subtree: true, attributes: true });
  }, sel('card'));
}

try {
  for (let i = 0; i < ROUNDS; i++) {
    await ready();
    // A random phase against the page's once-a-second reader poll.
    await new Promise((res) => setTimeout(res, Math.floor(Math.random() * 1000)));
    const [t0, t1] = (await ask('insert')).split(' ').map(Number);
    if (!(t0 > 0)) throw new Error(`the card did not go in (round ${i + 1})`);
    await page.waitForSelector('main[data-step="old"]', { timeout: 30000 });
    const s = await page.evaluate(() => window.benchStamp);
    if (!s.bar || !s.screen) throw new Error(`no stamp (round ${i + 1}): ${JSON.stringify(s)}`);
    process.stdout.write(`@@round ${(s.bar / 1000 - t0).toFixed(3)} ${(s.screen / 1000 - t0).toFixed(3)} ${(t1 - t0).toFixed(3)}\n`);
    if ((await ask('pull')) !== 'done') throw new Error(`the card did not come out (round ${i + 1})`);
  }
  ok(problems.length === 0, 'no console error, page error or CSP violation', problems.join('\n'));
} catch (e) {
  ok(false, `the rounds ran to their end: ${e.message.split('\n')[0]}`, e.stack);
  note(`page problems: ${problems.join('; ')}`);
} finally {
  await ctx.close();
}
process.exit(failures ? 1 : 0);
