import { encodeTx, generateSecretKey, isEhrError, publicKeyOf, signTx, toHex } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { Mempool } from '../src/mempool.ts';

const limits = { maxTxs: 100, maxBytes: 1 << 20, maxPerAccount: 8, maxTxBytes: 4096 };

function txBytes(
  secret: Uint8Array,
  nonce: number,
  chainId = 'test-chain',
  note = 'x',
  expires: number | null = 60_000,
) {
  return encodeTx(
    signTx(
      {
        chainId,
        author: publicKeyOf(secret),
        nonce,
        kind: 'patient.register',
        payload: { note },
        ...(expires === null ? {} : { expires }),
      },
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
    // Same slot, same deadline: the first one stays.
    expect(await codeOf(m.add(txBytes(a, 0, 'test-chain', 'other'), 0))).toBe('NONCE_PENDING');
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

  it('evicts what the chain moved past and what is past its deadline', async () => {
    const m = pool();
    await m.add(txBytes(a, 0), 0);
    await m.add(txBytes(a, 1, 'test-chain', 'x', 5_000), 10);
    committed.set(toHex(publicKeyOf(a)), 1);
    expect((await m.evictStale()).map((p) => p.tx.nonce)).toEqual([0]);
    expect(m.evictExpired(5_000)).toHaveLength(0);
    expect(m.evictExpired(5_001).map((p) => p.tx.nonce)).toEqual([1]);
    expect(m.size).toBe(0);
    expect(m.byteSize).toBe(0);
    committed.clear();
  });

  it('refuses a nonce the chain already used, final and distinct from one too far ahead', async () => {
    const m = pool();
    committed.set(toHex(publicKeyOf(a)), 3);
    expect(await codeOf(m.add(txBytes(a, 2), 0))).toBe('NONCE_USED');
    expect(await codeOf(m.add(txBytes(a, 3 + limits.maxPerAccount), 0))).toBe('BAD_NONCE');
    expect(await codeOf(m.add(txBytes(a, 3), 0))).toBe('ok');
    committed.clear();
  });

  it('refuses transactions without a deadline, already expired, or too far ahead', async () => {
    const m = pool();
    expect(await codeOf(m.add(txBytes(a, 0, 'test-chain', 'x', null), 0))).toBe(
      'DEADLINE_REQUIRED',
    );
    expect(await codeOf(m.add(txBytes(a, 0, 'test-chain', 'x', 999), 1000))).toBe('EXPIRED');
    expect(await codeOf(m.add(txBytes(a, 0, 'test-chain', 'x', 16 * 60_000), 0))).toBe(
      'DEADLINE_TOO_FAR',
    );
    expect(await codeOf(m.add(txBytes(a, 0, 'test-chain', 'x', Number.MAX_SAFE_INTEGER), 0))).toBe(
      'DEADLINE_TOO_FAR',
    );
    expect(m.size).toBe(0);
  });

  it("a later deadline takes an earlier one's slot (the author's newer word), never the reverse", async () => {
    const m = pool();
    const share = txBytes(a, 0, 'test-chain', 'share', 30_000);
    const revoke = txBytes(a, 0, 'test-chain', 'revoke', 40_000);
    const first = await m.add(share, 0);
    const second = await m.add(revoke, 1);
    expect(second.replaced?.hash).toBe(first.hash);
    expect(m.size).toBe(1);
    expect(m.has(first.hash)).toBe(false);
    // The older one arriving again (gossip from a node that had it) does not win the slot back.
    expect(await codeOf(m.add(share, 2))).toBe('NONCE_PENDING');
    expect(m.pendingOf(toHex(publicKeyOf(a))).map((p) => p.hash)).toEqual([second.hash]);
    expect(m.byteSize).toBe(revoke.length);
  });

  it('refuses when full', async () => {
    const m = new Mempool('test-chain', { ...limits, maxTxs: 2 }, async () => 0);
    await m.add(txBytes(a, 0), 0);
    await m.add(txBytes(b, 0), 0);
    expect(await codeOf(m.add(txBytes(generateSecretKey(), 0), 0))).toBe('MEMPOOL_FULL');
  });
});
