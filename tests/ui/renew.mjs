// Renewal on presentation at the kiosk (issue 9) in headless Chromium
// against the real daemon: the holder's card, whose profile changed since it
// was issued, is in a reader; the home screen offers the renewal; the
// renewal screen lists what the card needs; a wrong PIN shows the tries
// left; the right one renews. Driven by t_ui_renew.sh, which reads the card
// and the CA's CRL with stock clients for every effect asserted here.
// Environment: UI_URL, UI_ARTIFACTS, UI_PROFILE, UI_PIN.
import { launch, ask, ok, eq, axe, shot, typePin, submitPad, domHasNone, failures } from './lib.mjs';

const URL = process.env.UI_URL;
const ART = process.env.UI_ARTIFACTS;
const PIN = process.env.UI_PIN;
const WRONG = '111111';

const { ctx, page, problems } = await launch(process.env.UI_PROFILE);
const step = (s) => page.waitForSelector(`main[data-step="${s}"]`, { timeout: 60000 });

try {
  await page.goto(`${URL}/`);
  await page.waitForSelector('[data-testid="renew-offer"]', { timeout: 30000 });
  ok(/6201/.test(await page.locator('[data-testid="renew-offer-box"]').innerText()),
    'the home screen offers the renewal of the card in the reader (serial 6201)');
  await axe(page, 'the home screen with the offer');
  await shot(page, ART, '01-offer');
  await page.locator('[data-testid="renew-offer"]').click();
  await step('pin');
  const items = await page.locator('[data-testid="requirements"] li').evaluateAll((l) => l.map((x) => x.dataset.slot));
  eq((await ask('needs')), items.join(' '), 'the screen lists the slots the station lists (GET /v1/cards/{card}/requirements)');
  ok(/profile changed/.test(await page.locator('[data-testid="requirements"]').innerText()), 'with the reason: the card profile changed');
  await axe(page, 'the renewal screen');
  await shot(page, ART, '02-requirements');

  await typePin(page, 'pin-renew', WRONG);
  await submitPad(page, 'pin-renew');
  await page.waitForSelector('[data-testid="tries-left"]', { timeout: 60000 });
  eq('2', await page.locator('[data-testid="tries-left"]').innerText(), 'a wrong PIN: the screen says 2 tries left');
  eq('2', await ask('tries'), 'the card says 2 tries left too (yubico-piv-tool)');
  eq('same', await ask('serial'), 'and still holds its old certificate');
  await shot(page, ART, '03-wrong-pin');

  await typePin(page, 'pin-renew', PIN, { touch: true });
  await submitPad(page, 'pin-renew');
  await step('done');
  ok(true, 'the right PIN (tapped): the card is renewed');
  ok(await domHasNone(page, [PIN, WRONG]), 'no PIN in the page after sending');
  await axe(page, 'the renewed screen');
  await shot(page, ART, '04-renewed');
  eq('new', await ask('serial'), 'the card holds a new certificate in the slot (yubico-piv-tool)');
  ok(problems.length === 0, 'no console error, page error or CSP violation', problems.join('\n'));
} catch (e) {
  ok(false, `the journey ran to its end: ${e.message.split('\n')[0]}`, e.stack);
  try { await shot(page, ART, 'zz-failure'); } catch (e2) { /* gone */ }
} finally {
  await ctx.close();
}
process.exit(failures ? 1 : 0);
