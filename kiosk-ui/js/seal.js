// Secrets (PINs, answers) leave the page only sealed with libsodium's
// crypto_box_seal to the engine's key (GET /v1/session-key), as the CLI does
// (cardmgr/cli/cardmgr_secret.c). Plaintext lives in a Secret: a byte array
// that is zeroed after sealing, never a string (strings cannot be wiped) and
// never in the DOM.
import { api } from './api.js';

export class Secret {
  constructor(max) {
    this.buf = new Uint8Array(max);
    this.len = 0;
  }
  push(byte) {
    if (this.len >= this.buf.length) return false;
    this.buf[this.len++] = byte;
    return true;
  }
  pop() {
    if (this.len > 0) this.buf[--this.len] = 0;
  }
  get length() { return this.len; }
  // Digits only, as the policy checks before sending (no copy kept).
  allDigits() {
    for (let i = 0; i < this.len; i++) if (this.buf[i] < 0x30 || this.buf[i] > 0x39) return false;
    return true;
  }
  equals(other) {
    if (this.len !== other.len) return false;
    let d = 0;
    for (let i = 0; i < this.len; i++) d |= this.buf[i] ^ other.buf[i];
    return d === 0;
  }
  wipe() {
    this.buf.fill(0);
    this.len = 0;
  }
}

async function sodium() {
  const s = globalThis.sodium;
  if (!s) throw new Error('libsodium did not load (make ui-deps)');
  await s.ready;
  return s;
}

// The key is fetched for every submission: after a daemon restart it changes.
async function sessionKey(s) {
  const r = await api('GET', '/v1/session-key');
  return s.from_base64(r.body.key, s.base64_variants.ORIGINAL);
}

// Seal each Secret (in order) and wipe it: [base64 ciphertext, ...].
export async function sealAll(secrets) {
  try {
    const s = await sodium();
    const key = await sessionKey(s);
    const out = [];
    for (const sec of secrets) {
      const view = sec.buf.subarray(0, sec.len);
      const ct = s.crypto_box_seal(view, key);
      out.push(s.to_base64(ct, s.base64_variants.ORIGINAL));
      ct.fill(0);
    }
    return out;
  } finally {
    for (const sec of secrets) sec.wipe();
  }
}

// A text answer typed into an input: into a Secret, and the input emptied.
export function takeInput(input, max) {
  const sec = new Secret(max * 4);
  const bytes = new TextEncoder().encode(input.value);
  for (const b of bytes) sec.push(b);
  bytes.fill(0);
  input.value = '';
  return sec;
}
