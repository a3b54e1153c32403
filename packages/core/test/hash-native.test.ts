/** The native SHA-256 the Node entry installs gives noble's bytes, for every size and input. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256, sha256Native, sha256Noble, taggedHash, utf8 } from '../src/index.ts';

describe('SHA-256 backends', () => {
  it('native and noble agree on empty, block-boundary, odd and large inputs', () => {
    const sizes = [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 343, 1000, 65_536, 3 << 20];
    for (const n of sizes) {
      const data = new Uint8Array(randomBytes(n));
      expect(sha256Native(data)).toEqual(sha256Noble(data));
    }
    // A view into a larger buffer hashes only its own bytes.
    const big = new Uint8Array(randomBytes(100));
    const view = big.subarray(10, 50);
    expect(sha256Native(view)).toEqual(sha256Noble(view.slice()));
  });

  it('sha256 as the Node entry installs it returns a plain Uint8Array of 32 bytes and matches the known vector', () => {
    const h = sha256(utf8('abc'));
    expect(Object.getPrototypeOf(h)).toBe(Uint8Array.prototype);
    expect(h.length).toBe(32);
    expect(Buffer.from(h).toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(taggedHash('t', utf8('x'))).toEqual(
      sha256Noble(new Uint8Array([1, ...utf8('t'), ...utf8('x')])),
    );
  });
});
