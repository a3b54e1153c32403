import { encodeTx, generateSecretKey, isEhrError, publicKeyOf, signTx, toHex } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { Mempool } from '../src/mempool.ts';

const limits = { maxTxs: 100, maxBytes: 1 << 20, maxPerAccount: 8, maxTxBytes: 4096 };

function txBytes(secret: Uint8Array, nonce: number, chainId = 'test-chain', note = 'x') {
  return encodeTx(
    signTx(
      { chainId, author: publicKeyOf(secret), nonce, kind: 'patient.register', payload: { note } },
      secret,
    ),
  );
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (isEhrError(err)) return err.code;
    throw err;
  }
}

describe('mempool', () => {
  const a = generateSecretKey();
  const b = generateSecretKey();
  const committed = new Map<string, number>();
  const pool = () => new Mempool('test-chain', limits, async (h) => committed.get(h) ?? 0);

  it('admits valid transactions and refuses bad ones with a code', async () => {
    const m = pool();
    await m.add(txBytes(a, 0), 0);
    expect(m.size).toBe(1);
    expect(await codeOf(m.add(txBytes(a, 0), 0))).toBe('DUPLICATE');
    expect(await codeOf(m.add(txBytes(a, 0, 'test-chain', 'other'), 0))).toBe('DUPLICATE');
    expect(await codeOf(m.add(txBytes(a, 1, 'other-chain'), 0))).toBe('WRONG_CHAIN');
    expect(await codeOf(m.add(txBytes(a, 99), 0))).toBe('BAD_NONCE');
    expect(await codeOf(m.add(new Uint8Array([1, 2, 3]), 0))).toBe('MALFORMED');
    const forged = txBytes(a, 1);
    forged[forged.length - 1]! ^= 1;
    expect(await codeOf(m.add(forged, 0))).toBe('BAD_SIGNATURE');
    expect(await codeOf(m.add(new Uint8Array(5000), 0))).toBe('PAYLOAD_TOO_LARGE');
    expect(m.size).toBe(1);
  });

  it('selects consecutive nonces per account, round-robin, within limits', async () => {
    const m = pool();
    for (const n of [0, 1, 2, 4]) await m.add(txBytes(a, n), 0);
    for (const n of [0, 1]) await m.add(txBytes(b, n), 0);
    const next = (h: string) =>
      h === toHex(publicKeyOf(a)) || h === toHex(publicKeyOf(b)) ? 0 : undefined;
    const picked = m
      .select({ txs: 10, txBytes: 1 << 20 }, next)
      .map((p) => [p.author === toHex(publicKeyOf(a)) ? 'a' : 'b', p.tx.nonce]);
    expect(picked).toEqual([
      ['a', 0],
      ['b', 0],
      ['a', 1],
      ['b', 1],
      ['a', 2],
    ]);
    expect(m.select({ txs: 3, txBytes: 1 << 20 }, next)).toHaveLength(3);
  });

  it('evicts what the chain moved past and what is too old', async () => {
    const m = pool();
    await m.add(txBytes(a, 0), 0);
    await m.add(txBytes(a, 1), 10);
    committed.set(toHex(publicKeyOf(a)), 1);
    expect(await m.evictStale()).toBe(1);
    expect(m.evictOlderThan(1000, 500)).toHaveLength(1);
    expect(m.size).toBe(0);
    expect(m.byteSize).toBe(0);
    committed.clear();
  });

  it('refuses when full', async () => {
    const m = new Mempool('test-chain', { ...limits, maxTxs: 2 }, async () => 0);
    await m.add(txBytes(a, 0), 0);
    await m.add(txBytes(b, 0), 0);
    expect(await codeOf(m.add(txBytes(generateSecretKey(), 0), 0))).toBe('MEMPOOL_FULL');
  });
});
