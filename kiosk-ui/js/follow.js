// Following a long operation (issue, replace, temporary card): GET
// /v1/operations/{op}?wait=S&steps=N answers as soon as the journal has
// more than N steps or the operation has ended (or after S seconds), so the
// screen moves when the card does, without polling every second.
import { api } from './api.js';

// onStep(opState) is called with every answer while it runs; resolves with
// the final state (done, failed, rolled_back). stop() ends the wait early.
export function followOp(op, onStep) {
  let stopped = false;
  const run = async () => {
    let seen = 0;
    for (let fails = 0; !stopped;) {
      let r;
      try {
        r = await api('GET', `/v1/operations/${encodeURIComponent(op)}?wait=10&steps=${seen}`, undefined,
          { timeoutMs: 20000 });
        fails = 0;
      } catch (e) {
        // A moment without the station (a restart): ask again, a little later.
        if (++fails > 20) throw e;
        await new Promise((res) => setTimeout(res, 1000));
        continue;
      }
      const o = r.body;
      seen = (o.steps || []).length;
      if (o.state !== 'running') return o;
      if (onStep && !stopped) onStep(o);
    }
    return null;
  };
  const done = run();
  return { done, stop() { stopped = true; } };
}

// Journal step names as words ("keygen:9a:done" -> "keygen 9a done").
export function stepLabel(name) {
  return String(name).replace(/[_:]+/g, ' ');
}
