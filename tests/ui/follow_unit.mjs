// The kiosk's operation follower (kiosk-ui/js/api.js followOp) against a
// stand-in fetch, in node: following() says whether a screen follows an
// operation (the idle timer in app.js does not go home while one runs),
// counted once per follower whether it ends, is stopped, or both.
// Prints TAP lines for t_ui_follow.sh.
let n = 0;
const ok = (c, what) => { n++; console.log(`${c ? 'ok' : 'not ok'} ${n} - ${what}`); };
const replies = [];
globalThis.fetch = async () => {
  const body = replies.length ? replies.shift() : { state: 'running', steps: [] };
  return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
};
const { followOp, following } = await import(process.argv[2]);
const tick = () => new Promise((r) => setTimeout(r, 20));

ok(following() === false, 'nothing followed at first');
replies.push({ state: 'running', steps: [{ name: 'a' }] }, { state: 'running', steps: [{ name: 'a' }, { name: 'b' }] },
  { state: 'done', steps: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] });
let ended = null;
let updates = 0;
followOp('op1', { onUpdate: () => { updates++; }, onEnd: (o) => { ended = o; } });
ok(following() === true, 'following while the operation runs');
for (let i = 0; i < 100 && ended === null; i++) await tick();
ok(ended && ended.state === 'done', 'the follower ends with the final state');
ok(updates === 2, `two updates before the end (${updates})`);
ok(following() === false, 'not following once it ended');

const a = followOp('op2', { onUpdate() {}, onEnd() {} });
const b = followOp('op3', { onUpdate() {}, onEnd() {} });
ok(following() === true, 'two followers');
a.stop(); a.stop();
ok(following() === true, 'one stopped (twice): the other still counts');
b.stop();
ok(following() === false, 'both stopped: nothing followed');
console.log(`1..${n}`);
