// Following a long operation (issue, replace, temporary card): GET
// /v1/operations/{op}?wait=S&steps=N answers as soon as the journal has
// more than N steps or the operation has ended (or after S seconds), so the
// screen moves when the card does, without polling every second.
import { followOp as follow } from './api.js';

// onStep(opState) is called with every answer while it runs; done resolves
// with the final state (done, failed, rolled_back; "unknown" for an
// operation the station does not know). stop() ends the wait early. The
// long-poll itself is api.js's followOp, shared with the issue screen.
export function followOp(op, onStep) {
  let f = null;
  const done = new Promise((resolve) => {
    f = follow(op, { onUpdate: (o) => { if (onStep) onStep(o); }, onEnd: resolve });
  });
  return { done, stop() { f.stop(); } };
}

// Journal step names as words ("keygen:9a:done" -> "keygen 9a done").
export function stepLabel(name) {
  return String(name).replace(/[_:]+/g, ' ');
}
