/** Cryptographically secure random bytes from Web Crypto (browsers and Node >= 20 alike). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65,536 bytes per call.
  for (let i = 0; i < n; i += 65_536) {
    globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65_536)));
  }
  return out;
}
