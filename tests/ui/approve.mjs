// The Approvals screen (issue 9) in headless Chromium against the real
// daemon: Olga asks for a replacement that needs an approval, Bob approves
// it on his screen, Olga carries it out. Each operator logs in with their
// own card in reader 1 (the shell swaps them); the holder's blank card is
// in reader 0. Driven by t_ui_approve.sh, which checks the effects through
// the CLI. Environment: UI_URL, UI_ARTIFACTS, UI_PROFILE, UI_OP_READER.
import { launch, ask, ok, eq, note, axe, shot, typePin, submitPad, pickHolder, domHasNone, failures } from './lib.mjs';

const URL = process.env.UI_URL;
const ART = process.env.UI_ARTIFACTS;
const OP_READER = process.env.UI_OP_READER;
const OLGA = '461937';
const BOB = '572814';
const PIN = '975310';

const { ctx, page, problems } = await launch(process.env.UI_PROFILE);
const step = (s) => page.waitForSelector(`main[data-step="${s}"]`, { timeout: 60000 });
const heading = (t) => page.waitForSelector(`main h1:text("${t}")`, { timeout: 60000 });

async function login(pin, name) {
  await page.goto(`${URL}/#login`);
  await heading('Operator login');
  await page.locator(`input[name="reader"][value="${OP_READER}"]`).check({ timeout: 30000 });
  await typePin(page, 'login-pin', pin);
  await submitPad(page, 'login-pin');
  await page.waitForSelector('[data-testid="operator-name"]', { timeout: 30000 });
  ok(new RegExp(name).test(await page.locator('[data-testid="operator-name"]').innerText()), `${name} is logged in by card and PIN`);
}

async function logout() {
  await page.locator('#operator button:text("Log out")').click();
  await page.waitForSelector('#operator a[href="#login"]', { timeout: 30000 });
}

async function newPin() {
  await step('pin');
  await typePin(page, 'replace-pin', PIN);
  await submitPad(page, 'replace-pin');
  await typePin(page, 'replace-pin2', PIN);
  await submitPad(page, 'replace-pin2');
  await step('confirm');
  await page.locator('button:text("Replace the card")').click();
}

try {
  // --- Olga asks: the kiosk answers with a request, nothing else happens
  await login(OLGA, 'Olga Operator');
  await page.locator('a.brand').click();
  await page.locator('a.tile[href="#replace"]').click();
  await pickHolder(page, 'rpq', 'E400', 'E400');
  await page.locator('button[aria-label="Replace card 5301"]').click();
  await step('reason');
  await page.locator('input[name="reason"][value="lost"]').check();
  await page.locator('main button[type="submit"]').click();
  await step('blank');
  eq('done', await ask('insert-blank 5302'), 'a blank card goes into reader 0');
  await page.locator('button.choice:has-text("5302")').click({ timeout: 30000 });
  await newPin();
  await step('requested');
  eq('1', await page.locator('[data-testid="approval-id"]').innerText(), 'the kiosk shows approval request 1');
  ok(/needs 1 of 1/.test(await page.locator('main').innerText()), 'needing 1 approval of the 1 operator who may give it');
  await axe(page, 'the approval requested screen');
  await shot(page, ART, '01-requested');
  ok(await domHasNone(page, [PIN, OLGA]), 'no PIN in the page');
  eq('pending  Olga Operator', await ask('approval 1'), 'the station has request 1 pending, by Olga, no approval (CLI)');
  eq('blank', await ask('blank'), 'the card in reader 0 is still blank');
  eq('active', await ask('state 5301'), 'and the lost card is still active');
  await page.locator('a.brand').click();
  await page.locator('a.tile[href="#approvals"]').click();
  await step('shown');
  ok(await page.locator('[data-testid="none-waiting"]').isVisible(), 'nothing waits for Olga: her own request is not hers to decide');
  eq('Pending', await page.locator('[data-testid="state-1"]').innerText(), 'her requests list it pending');
  await logout();

  // --- Bob approves
  eq('done', await ask('op-card 6002'), 'Bob\'s card goes into the operator reader');
  await login(BOB, 'Bob Approver');
  await page.locator('nav a[href="#approvals"]').click();
  await step('shown');
  await page.waitForSelector('[data-testid="waiting"] tr[data-approval="1"]', { timeout: 30000 });
  ok(/Replacement of card 5301 \(lost\)/.test(await page.locator('[data-testid="waiting"]').innerText()),
    'request 1 waits for Bob: the replacement of card 5301, lost');
  await axe(page, 'the approvals screen');
  await shot(page, ART, '02-waiting');
  await page.locator('button[aria-label="Approve request 1"]').click();
  await page.waitForSelector('main .msg.ok', { timeout: 30000 });
  ok(/approved by you: 1 of 1 \(approved\)/.test(await page.locator('main .msg.ok').innerText()), 'Bob\'s approval approves it');
  await page.waitForSelector('[data-testid="none-waiting"]', { timeout: 30000 });
  ok(true, 'and it no longer waits for him');
  await shot(page, ART, '03-approved');
  eq('approved Bob Approver Olga Operator', await ask('approval 1'), 'the station has it approved by Bob (CLI)');
  await logout();

  // --- Olga carries it out
  eq('done', await ask('op-card 6001'), 'Olga\'s card goes back into the operator reader');
  await login(OLGA, 'Olga Operator');
  await page.locator('nav a[href="#approvals"]').click();
  await step('shown');
  eq('Approved', await page.locator('[data-testid="state-1"]').innerText(), 'Olga sees her request approved');
  await page.locator('button[aria-label="Carry out request 1"]').click();
  await step('blank');
  ok(/card 5301/.test(await page.locator('[data-testid="replace-context"]').innerText()), 'the replacement screen opens on card 5301');
  await page.locator('button.choice:has-text("5302")').click({ timeout: 30000 });
  await newPin();
  await step('summary');
  ok(/Card replaced/.test(await page.locator('main h1').innerText()), 'the summary says the card is replaced');
  eq('lost active', `${await page.locator('[data-testid="old-state"]').innerText()} ${await page.locator('[data-testid="new-state"]').innerText()}`,
    'the old card lost, the new one active');
  await shot(page, ART, '04-replaced');
  eq('carried_out Bob Approver Olga Operator', await ask('approval 1'), 'request 1 is carried out (CLI)');
  eq('lost', await ask('state 5301'), 'the inventory has 5301 lost (CLI)');
  eq('active', await ask('state 5302'), 'and 5302 active (CLI)');

  // --- a temporary card (also a key recovery): requested, approved by Bob,
  // carried out by Olga from her Approvals screen
  const tempPin = async () => {
    await step('pin');
    await typePin(page, 'temp-pin', PIN);
    await submitPad(page, 'temp-pin');
    await typePin(page, 'temp-pin2', PIN);
    await submitPad(page, 'temp-pin2');
    await step('confirm');
    await page.locator('button:text("Issue the temporary card")').click();
  };
  eq('done', await ask('pull'), 'the holder leaves 5302 at home');
  await page.locator('a.brand').click();
  await page.locator('a.tile[href="#temporary"]').click();
  await pickHolder(page, 'tq', 'E400', 'E400');
  await page.locator('button[aria-label="Forgotten card 5302"]').click();
  await step('blank');
  eq('done', await ask('insert-blank 5303'), 'a blank card goes into reader 0');
  await page.locator('button.choice:has-text("5303")').click({ timeout: 30000 });
  await tempPin();
  await step('refused');
  ok(/carry it out from Approvals \(request 2\)/.test(await page.locator('main').innerText()), 'the temporary card is an approval request (2), nothing issued');
  eq('pending  Olga Operator', await ask('approval 2'), 'the station has request 2 pending (CLI)');
  eq('blank', await ask('blank'), 'the card in reader 0 is still blank');
  await logout();
  eq('done', await ask('op-card 6002'), 'Bob\'s card goes into the operator reader');
  await login(BOB, 'Bob Approver');
  await page.locator('nav a[href="#approvals"]').click();
  await step('shown');
  await page.waitForSelector('[data-testid="waiting"] tr[data-approval="2"]', { timeout: 30000 });
  await page.locator('button[aria-label="Approve request 2"]').click();
  await page.waitForSelector('main .msg.ok', { timeout: 30000 });
  await logout();
  eq('done', await ask('op-card 6001'), 'Olga\'s card goes back into the operator reader');
  await login(OLGA, 'Olga Operator');
  await page.locator('nav a[href="#approvals"]').click();
  await step('shown');
  await page.locator('button[aria-label="Carry out request 2"]').click();
  await step('blank');
  await page.locator('button.choice:has-text("5303")').click({ timeout: 30000 });
  await tempPin();
  await step('summary');
  eq('suspended temporary', `${await page.locator('[data-testid="perm-state"]').innerText()} ${await page.locator('[data-testid="temp-state"]').innerText()}`,
    'carried out at the kiosk: 5302 held, 5303 temporary');
  await shot(page, ART, '05-temporary');
  eq('carried_out Bob Approver Olga Operator', await ask('approval 2'), 'request 2 is carried out (CLI)');
  eq('suspended temporary', `${await ask('state 5302')} ${await ask('state 5303')}`, 'as the inventory says (CLI)');
  ok(problems.length === 0, 'no console error or page error', problems.join('\n'));
} catch (e) {
  ok(false, `the journey runs to its end: ${e.message.split('\n')[0]}`);
  await shot(page, ART, 'failure').catch(() => {});
  note(e.stack);
}
await ctx.close();
process.exit(failures ? 1 : 0);
