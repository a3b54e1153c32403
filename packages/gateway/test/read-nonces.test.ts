/**
 * The signed-read nonce memory: replays refused, expiry, a hard bound that refuses rather than
 * grows, a fixed size per nonce whatever the request carried, and the bytes it really holds
 * (measured on the heap after a full collection).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { READ_NONCE_BYTES, ReadNonces } from '../src/read-nonces.ts';
import { code } from './codes.ts';

const READER = 'ab'.repeat(32);
const nonce = (i: number) => i.toString(16).padStart(32, '0');

// A full collection on demand without --expose-gc (vitest starts its workers without it).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
};

describe('ReadNonces', () => {
  it('refuses a nonce seen before from the same reader, not from another reader', () => {
    const m = new ReadNonces(10, 60_000);
    m.admit(READER, nonce(1), 1000);
    expect(code(() => m.admit(READER, nonce(1), 2000))).toBe('READ_REPLAYED');
    expect(code(() => m.admit('cd'.repeat(32), nonce(1), 2000))).toBe('ok');
    expect(m.size).toBe(2);
  });

  it('forgets a nonce once its lifetime is over, never before', () => {
    const m = new ReadNonces(10, 60_000);
    m.admit(READER, nonce(1), 1_000_000);
    m.admit(READER, nonce(2), 1_030_000);
    // One millisecond before the first one's lifetime ends it is still a replay.
    expect(code(() => m.admit(READER, nonce(1), 1_059_999))).toBe('READ_REPLAYED');
    // After it (whole seconds, rounded up: at most a second longer), the first is forgotten.
    expect(code(() => m.admit(READER, nonce(1), 1_061_000))).toBe('ok');
    expect(code(() => m.admit(READER, nonce(2), 1_061_000))).toBe('READ_REPLAYED');
    expect(m.size).toBe(2);
    m.admit(READER, nonce(3), 1_200_000);
    expect(m.size).toBe(1);
  });

  it('at the bound it refuses with RATE_LIMITED, holds no more, and admits again as nonces expire', () => {
    const m = new ReadNonces(1000, 60_000);
    for (let i = 0; i < 1000; i++) m.admit(READER, nonce(i), 5000 + i);
    let err: unknown;
    try {
      m.admit(READER, nonce(5000), 6000);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'RATE_LIMITED', data: { remembered: 1000, max: 1000 } });
    expect((err as Error).message).toMatch(/remembers 1000 against replay \(gateway\.readNonces\)/);
    for (let i = 0; i < 100; i++)
      expect(code(() => m.admit(READER, nonce(10_000 + i), 7000))).toBe('RATE_LIMITED');
    expect(m.size).toBe(1000);
    expect(m.bytes).toBe(1000 * READ_NONCE_BYTES);
    // A replay at the bound is still named as a replay.
    expect(code(() => m.admit(READER, nonce(3), 7000))).toBe('READ_REPLAYED');
    // Once the first ones expire there is room again.
    expect(code(() => m.admit(READER, nonce(5000), 70_000))).toBe('ok');
  });

  it('refuses a bound that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(code(() => new ReadNonces(bad, 1000))).toBe('READ_NONCES_OPTIONS');
  });

  it('holds a fixed size per nonce: 2,000 nonces of 64 KiB each keep well under 1 MB', () => {
    const m = new ReadNonces(10_000, 60_000);
    const before = heapAfterGc();
    for (let i = 0; i < 2000; i++) m.admit(READER, `${nonce(i)}${'f'.repeat(64 * 1024)}`, 1000);
    const grown = heapAfterGc() - before;
    // Kept whole, they would be 2,000 x 64 KiB = 131 MB.
    expect(m.size).toBe(2000);
    expect(grown).toBeLessThan(1_000_000);
  });

  it(`200,000 remembered nonces stay under ${READ_NONCE_BYTES} bytes each (${(200_000 * READ_NONCE_BYTES) / 1e6} MB), measured`, () => {
    const n = 200_000;
    const m = new ReadNonces(n, 60_000);
    const before = heapAfterGc();
    for (let i = 0; i < n; i++) m.admit(READER, nonce(i), 1_000_000 + (i >> 4));
    const grown = heapAfterGc() - before;
    expect(m.size).toBe(n);
    console.log(
      `read nonces: ${n} remembered hold ${grown} bytes on the heap (${(grown / n).toFixed(1)} per nonce; estimated ${READ_NONCE_BYTES})`,
    );
    expect(grown).toBeLessThan(n * READ_NONCE_BYTES);
    // The estimate is not wildly above what they hold either (the gauge would mislead).
    expect(grown).toBeGreaterThan((n * READ_NONCE_BYTES) / 3);
    expect(m.bytes).toBe(n * READ_NONCE_BYTES);
  });
});
