/**
 * Bodies in params: hex and base64 are checked in one pass, so a document at the genesis maximum
 * (8 MiB, 16 M hex characters) is checked instead of overflowing a backtracking pattern.
 */
import { fromBase64, toBase64, toHex } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { METHODS } from '../src/methods.ts';
import { check, s } from '../src/schema.ts';

const submit = METHODS.find((m) => m.name === 'tx_submit')!;
const params = s.object('params', submit.params, submit.required);

function body(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + 7) & 255;
  return b;
}

describe('tx_submit bodies', () => {
  it('checks an 8 MiB body in hex and in base64 without overflowing, and round-trips base64', () => {
    const big = body(8 * 1024 * 1024);
    const hex = toHex(big);
    const b64 = toBase64(big);
    expect(check(params, { tx: '00', payloads: [hex] }, 'params')).toBeNull();
    expect(check(params, { tx: '00', bodies: [b64] }, 'params')).toBeNull();
    expect(b64.length).toBe(Math.ceil(big.length / 3) * 4);
    expect(Buffer.from(fromBase64(b64)).equals(Buffer.from(big))).toBe(true);
    expect(Buffer.from(b64, 'base64').equals(Buffer.from(big))).toBe(true);
  });

  it('round-trips every length modulo 3 against Node', () => {
    for (let n = 0; n < 40; n++) {
      const b = body(n);
      expect(toBase64(b)).toBe(Buffer.from(b).toString('base64'));
      expect(fromBase64(toBase64(b))).toEqual(b);
    }
  });

  it('refuses damaged encodings, naming the field', () => {
    const good = toBase64(body(30));
    for (const bad of [
      `${good}=`,
      `${good.slice(0, -1)}`,
      `${good.slice(0, 8)}*${good.slice(9)}`,
      'ab=c',
      'a===',
      'YQ==YQ==',
    ]) {
      expect(check(params, { tx: '00', bodies: [bad] }, 'params')).toMatch(
        /^params\.bodies\[0\]: expected standard base64/,
      );
    }
    for (const bad of ['abc', 'ABCD', '0g', `${'00'.repeat(100)}x0`]) {
      expect(check(params, { tx: '00', payloads: [bad] }, 'params')).toMatch(
        /^params\.payloads\[0\]: expected lowercase hex/,
      );
    }
    expect(() => fromBase64('ab=c')).toThrow(/offset 2/);
  });

  it('refuses a transaction longer than its limit by length, before looking at the characters', () => {
    const e = check(params, { tx: 'zz'.repeat(2 * 1024 * 1024) }, 'params');
    expect(e).toMatch(/params\.tx: expected at most 2097152 characters/);
  });
});
