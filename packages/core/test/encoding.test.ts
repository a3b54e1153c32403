import { describe, expect, it } from 'vitest';
import { decode, encode, fromHex, toHex } from '../src/index.ts';

describe('canonical encoding', () => {
  it('round-trips a map with sorted keys', () => {
    const v = { b: 1, a: 'x', c: new Uint8Array([1, 2]), d: [true, false, null, -5] };
    expect(decode(encode(v))).toEqual(v);
    expect(toHex(encode({ b: 1, a: 2 }))).toBe('a2616102616201');
  });
  it('rejects a non-minimal head', () => {
    expect(() => decode(fromHex('1805'))).toThrow(/non-minimal/);
  });
});
