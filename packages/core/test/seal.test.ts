import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSealed,
  encodeSealed,
  generateSecretKey,
  isEhrError,
  open,
  openWithDataKey,
  publicKeyOf,
  seal,
  unwrapDataKey,
  utf8,
  wrapDataKey,
} from '../src/index.ts';

const patient = generateSecretKey();
const hospital = generateSecretKey();
const other = generateSecretKey();
const text = utf8('Blood pressure 120/80; no known allergies.');

function openCode(fn: () => unknown): string {
  try {
    fn();
    return 'opened';
  } catch (err) {
    if (isEhrError(err)) return err.code;
    throw err;
  }
}

describe('sealing', () => {
  it('each recipient opens; others cannot', () => {
    const s = seal(text, [publicKeyOf(patient), publicKeyOf(hospital)]);
    expect(open(s, patient)).toEqual(text);
    expect(open(s, hospital)).toEqual(text);
    expect(openCode(() => open(s, other))).toBe('SEAL_OPEN_FAILED');
  });

  it('sharing wraps the same data key for a new reader', () => {
    const s = seal(text, [publicKeyOf(patient)]);
    const key = unwrapDataKey(s, patient);
    const shared = { ...s, keys: [...s.keys, wrapDataKey(key, publicKeyOf(hospital))] };
    expect(open(shared, hospital)).toEqual(text);
    expect(openWithDataKey(s, key)).toEqual(text);
  });

  it('a wrapped key moved to another recipient does not open', () => {
    const s = seal(text, [publicKeyOf(patient)]);
    const moved = { ...s, keys: [{ ...s.keys[0]!, recipient: publicKeyOf(other) }] };
    expect(openCode(() => open(moved, other))).toBe('SEAL_OPEN_FAILED');
  });

  it('any single-bit change of a sealed payload fails to open (property)', () => {
    const s = seal(text, [publicKeyOf(patient), publicKeyOf(hospital)]);
    const bytes = encodeSealed(s);
    expect(open(decodeSealed(bytes), hospital)).toEqual(text);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), (bit) => {
        const b = bytes.slice();
        b[bit >> 3]! ^= 1 << (bit & 7);
        // The changed bit belongs to someone's material: that reader (at least) cannot open.
        let results: string[];
        try {
          const d = decodeSealed(b);
          results = [openCode(() => open(d, hospital)), openCode(() => open(d, patient))];
        } catch (err) {
          results = [isEhrError(err) ? err.code : 'threw'];
        }
        expect(results.every((r) => r === 'opened')).toBe(false);
        for (const r of results)
          expect(['opened', 'SEAL_OPEN_FAILED', 'ENCODING_INVALID']).toContain(r);
      }),
      { numRuns: 400 },
    );
  });

  it('needs at least one recipient', () => {
    expect(openCode(() => seal(text, []))).toBe('SEAL_NO_RECIPIENTS');
  });
});
