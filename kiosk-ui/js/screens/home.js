// Home: what can be done here, by whom.
import { h } from '../dom.js';
import * as session from '../session.js';
import * as readers from '../readers.js';
import { cardsIn } from '../journey.js';
import { needsRenewal } from './renew.js';

export function mount(main, ctx) {
  const tile = (route, title, text) => h('a', { class: 'tile', href: `#${route}` }, h('strong', null, title), text);
  const tiles = [tile('pin', 'Change my PIN', 'Insert your card, type your current PIN, then a new one.'),
    tile('renew', 'Renew my card', 'Insert your card: what it needs renewed is shown, then your PIN.')];
  const s = session.current();
  if (s) {
    if (session.hasRole(ctx.NEEDS.issue)) tiles.push(tile('issue', 'Issue a card', 'Find or add the holder, pick a profile, insert a blank card.'));
    if (session.hasRole(ctx.NEEDS.unblock)) tiles.push(tile('unblock', 'Unblock a card', 'Ask the questions the station picks; the holder sets a new PIN.'));
    if (session.hasRole(ctx.NEEDS.retire)) tiles.push(tile('retire', 'Retire a card', 'Lost, stolen, damaged or returned: revoke its certificates.'));
    if (session.hasRole(ctx.NEEDS.replace)) tiles.push(tile('replace', 'Replace a card', 'Lost, stolen, damaged or expired: a new card with the holder\'s keys recovered.'));
    if (session.hasRole(ctx.NEEDS.temporary)) tiles.push(tile('temporary', 'Temporary card', 'The holder forgot their card: a temporary one, the permanent card on hold.'));
    if (session.hasRole(ctx.NEEDS.return)) tiles.push(tile('return', 'Return a temporary card', 'End the loan: the temporary card revoked, the permanent card released.'));
    if (session.hasRole(ctx.NEEDS.approvals)) tiles.push(tile('approvals', 'Approvals', 'Key recovery requests waiting for your decision; your own requests.'));
    if (session.hasRole(ctx.NEEDS.reports)) tiles.push(tile('reports', 'Reports', 'Inventory, operations per day, expiring certificates.'));
    if (session.hasRole(ctx.NEEDS.stock)) tiles.push(tile('stock', 'Stock', 'Blank cards per model and location; receive a delivery.'));
  } else {
    tiles.push(tile('login', 'Operator login', 'Staff: insert your own card in the operator reader.'));
  }
  // Renewal on presentation: a card in a reader that needs something says so.
  const offer = h('div', { 'data-testid': 'renew-offer-box' });
  let seen = null;
  const unsub = readers.subscribe((list) => {
    const due = cardsIn(list, 'active').filter(needsRenewal);
    const key = due.map((r) => r.guid).join(',');
    if (key === seen) return;
    seen = key;
    offer.replaceChildren(...due.map((r) => h('p', { class: 'msg warn', role: 'status' },
      `Card ${r.serial || r.guid} in ${r.name} needs renewing. `,
      h('a', { href: '#renew', 'data-testid': 'renew-offer' }, 'Renew it now'))));
  });
  main.append(h('h1', null, 'Welcome'), offer, h('div', { class: 'tiles' }, tiles));
  return { unmount() { unsub(); } };
}
