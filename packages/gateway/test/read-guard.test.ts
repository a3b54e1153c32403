import { readSigningBytes, signRead } from '@ehr/api';
import { generateSecretKey, publicKeyOf, sign, toHex } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/dispatcher.ts';
import { ReadGuard } from '../src/read-guard.ts';
import { READ_NONCE_BYTES } from '../src/read-nonces.ts';
import { code } from './codes.ts';

const NODE = 'aa'.repeat(32);
const C = { chainId: 'c', node: NODE };

describe('signed reads', () => {
  const sk = generateSecretKey();
  it('accepts a fresh read once, then refuses the replay', () => {
    let now = 1_000_000;
    const guard = new ReadGuard('c', NODE, { now: () => now });
    const p = signRead(C, 'patient_reports', { patient: 'ab' }, sk, now);
    expect(code(() => guard.check('patient_reports', p))).toBe('ok');
    now += 5_000;
    expect(code(() => guard.check('patient_reports', p))).toBe('READ_REPLAYED');
  });

  it('refuses reads outside the clock window either way', () => {
    const now = 1_000_000;
    const guard = new ReadGuard('c', NODE, { now: () => now, maxSkewMs: 30_000 });
    const at = (t: number) => signRead(C, 'm', {}, sk, t);
    expect(code(() => guard.check('m', at(now - 30_001)))).toBe('READ_STALE');
    expect(code(() => guard.check('m', at(now + 30_001)))).toBe('READ_STALE');
    expect(code(() => guard.check('m', at(now - 30_000)))).toBe('ok');
  });

  it('binds the signature to chain, method and every param', () => {
    const guard = new ReadGuard('c', NODE, { now: () => 5 });
    expect(
      code(() => guard.check('m', signRead({ chainId: 'other', node: NODE }, 'm', {}, sk, 5))),
    ).toBe('BAD_SIGNATURE');
    expect(code(() => guard.check('n', signRead(C, 'm', {}, sk, 5)))).toBe('BAD_SIGNATURE');
    const p = signRead(C, 'm', { limit: 1 }, sk, 5);
    expect(code(() => guard.check('m', { ...p, limit: 2 }))).toBe('BAD_SIGNATURE');
    // Key order does not matter: both sides sign canonical JSON.
    const q = signRead(C, 'm', { b: 1, a: { y: 2, x: 1 } }, sk, 5);
    const reordered = { auth: q['auth'], a: { x: 1, y: 2 }, b: 1 };
    expect(code(() => guard.check('m', reordered))).toBe('ok');
  });

  it('is good for the node it names only (one signed read cannot be served by three nodes)', () => {
    const other = 'bb'.repeat(32);
    const here = new ReadGuard('c', NODE, { now: () => 5 });
    const there = new ReadGuard('c', other, { now: () => 5 });
    const p = signRead(C, 'record_get', { id: 'ab' }, sk, 5);
    expect(code(() => there.check('record_get', p))).toBe('READ_WRONG_NODE');
    // Claiming the other node in the credential breaks the signature.
    const lied = { ...p, auth: { ...(p['auth'] as object), node: other } };
    expect(code(() => there.check('record_get', lied))).toBe('BAD_SIGNATURE');
    expect(code(() => here.check('record_get', p))).toBe('ok');
    expect(code(() => here.check('record_get', p))).toBe('READ_REPLAYED');
  });

  it('forgets nonces once they could no longer pass the clock check', () => {
    let now = 0;
    const guard = new ReadGuard('c', NODE, { now: () => now, maxSkewMs: 1000 });
    guard.check('m', signRead(C, 'm', {}, sk, now));
    now = 2001;
    guard.check('m', signRead(C, 'm', {}, sk, now));
    expect(guard.nonces.size).toBe(1);
  });

  it('at its bound refuses further reads with RATE_LIMITED, reporting the bytes it holds', () => {
    let now = 1_000_000;
    const reported: number[] = [];
    const guard = new ReadGuard('c', NODE, {
      now: () => now,
      maxRemembered: 3,
      onBytes: (b) => reported.push(b),
    });
    for (let i = 0; i < 3; i++)
      expect(code(() => guard.check('m', signRead(C, 'm', { i }, sk, now)))).toBe('ok');
    const refused = signRead(C, 'm', { i: 3 }, sk, now);
    expect(code(() => guard.check('m', refused))).toBe('RATE_LIMITED');
    expect(guard.nonces.size).toBe(3);
    expect(reported).toEqual([1, 2, 3].map((n) => n * READ_NONCE_BYTES));
    // Twice the skew later the first three are forgotten: the same read passes now.
    now += 61_000;
    expect(code(() => guard.check('m', signRead(C, 'm', { i: 3 }, sk, now)))).toBe('ok');
    expect(reported.at(-1)).toBe(READ_NONCE_BYTES);
  });

  it('takes a nonce of exactly 32 hex characters and refuses a longer one, naming the field', async () => {
    const guard = new ReadGuard('c', NODE, { now: () => 5 });
    const d = new Dispatcher();
    // As registerQueryMethods does: the published params schema, then the guard, then the read.
    d.register('patient_reports', async (p) =>
      guard.check('patient_reports', p as Record<string, unknown>),
    );
    const params = { patient: 'ab'.repeat(32) };
    const withNonce = (nonce: string) => ({
      ...params,
      auth: {
        reader: toHex(publicKeyOf(sk)),
        node: NODE,
        time: 5,
        nonce,
        signature: toHex(sign(readSigningBytes(C, 'patient_reports', params, 5, nonce), sk)),
      },
    });
    const rx = async (p: unknown) =>
      JSON.parse(
        (await d.receive(
          JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'patient_reports', params: p }),
        ))!,
      );
    expect((await rx(withNonce('f'.repeat(32)))).result).toBe(toHex(publicKeyOf(sk)));
    for (const nonce of ['f'.repeat(33), 'f'.repeat(1_000_000), 'f'.repeat(31)]) {
      const r = await rx(withNonce(nonce));
      expect(r.error.code, `${nonce.length} characters`).toBe(-32602);
      expect(r.error.message).toMatch(/^Invalid params: params\.auth\.nonce: /);
      expect(r.error.message.length).toBeLessThan(300);
    }
    expect(guard.nonces.size).toBe(1);
  });
});
