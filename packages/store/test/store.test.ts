import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEhrError, sha256, toHex } from '@ehr/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Bucket } from '../src/buckets.ts';
import { Store } from '../src/store.ts';
import { verifyStore } from '../src/verify.ts';
import { buildChain, hospitalTx, testGenesis, testKeys } from './chain.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ehr-store-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const keys = testKeys(1);
const genesis = testGenesis(keys);

async function corruptedStoreError(mutate: (store: Store) => Promise<void>) {
  const dir = tempDir();
  const store = await Store.open(dir, genesis);
  await buildChain(store, keys, 6);
  await verifyStore(store);
  await mutate(store);
  try {
    await verifyStore(store);
    return null;
  } catch (err) {
    if (isEhrError(err, 'STORE_CORRUPT')) return err.data as { height: number; what: string };
    throw err;
  } finally {
    await store.close();
  }
}

/** Flips one bit of the value stored under the first key of `bucket` matching `pick`. */
async function flip(
  store: Store,
  bucket: number,
  pick: (key: Uint8Array, i: number) => boolean,
  bit = 3,
) {
  let i = 0;
  for await (const [k, v] of store.db.range(new Uint8Array([bucket]))) {
    if (pick(k, i++)) {
      const copy = v.slice();
      copy[Math.floor(copy.length / 2)]! ^= 1 << bit;
      await store.db.put(k, copy, true);
      return;
    }
  }
  throw new Error('nothing to flip');
}

describe('store', () => {
  it('commits blocks atomically, survives reopening and verifies', async () => {
    const dir = tempDir();
    let store = await Store.open(dir, genesis);
    const { profile } = await buildChain(store, keys, 5);
    const head = store.head();
    expect(head.height).toBe(5);
    await store.close();
    store = await Store.open(dir, genesis);
    expect(store.head()).toEqual(head);
    expect(await store.payload(toHex(sha256(profile)))).toEqual(profile);
    const report = await verifyStore(store);
    expect(report).toMatchObject({ height: 5, txs: 10, payloads: 1 });
    expect((await store.receipt(sha256(hospitalTx(keys.admin, 0, 'h0'))))?.height).toBe(1);
    await store.close();
  });

  it('refuses a store made from another genesis', async () => {
    const dir = tempDir();
    await (await Store.open(dir, genesis)).close();
    const err = await Store.open(dir, testGenesis(testKeys(2))).catch((e) => e);
    expect(err.code).toBe('STORE_GENESIS_MISMATCH');
  });

  it('detects a flipped bit in a block, naming its height', async () => {
    const bad = await corruptedStoreError((s) => flip(s, Bucket.blockByHeight, (_k, i) => i === 3));
    expect(bad?.height).toBe(4);
  });

  it('detects a flipped bit in a transaction receipt', async () => {
    const bad = await corruptedStoreError((s) => flip(s, Bucket.txByHash, (_k, i) => i === 0, 0));
    expect(bad).not.toBeNull();
  });

  it('detects a flipped bit in a write set, naming its height', async () => {
    const bad = await corruptedStoreError((s) => flip(s, Bucket.writeSet, (_k, i) => i === 2));
    expect(bad?.height).toBe(2);
    expect(bad?.what).toMatch(/state hash chain|write set/);
  });

  it('detects a flipped bit in the live state', async () => {
    const bad = await corruptedStoreError((s) => flip(s, Bucket.state, (_k, i) => i === 5));
    expect(bad?.what).toMatch(/state/);
  });

  it('detects a flipped bit in a payload body', async () => {
    const bad = await corruptedStoreError((s) => flip(s, Bucket.payload, () => true));
    expect(bad?.what).toMatch(/payload .* does not match its hash/);
    expect(bad?.height).toBe(1);
  });

  it('detects every single-bit flip across all stored block bytes of one block', async () => {
    const dir = tempDir();
    const store = await Store.open(dir, genesis);
    await buildChain(store, keys, 3);
    const original = (await store.blockBytes(2))!;
    let detected = 0;
    for (let byte = 0; byte < original.length; byte += 7) {
      const copy = original.slice();
      copy[byte]! ^= 1;
      await store.db.put(
        new Uint8Array([Bucket.blockByHeight, 0, 0, 0, 0, 0, 0, 0, 2]),
        copy,
        true,
      );
      const err = await verifyStore(store).catch((e) => e);
      if (isEhrError(err, 'STORE_CORRUPT') && (err.data as { height: number }).height === 2)
        detected++;
      else throw new Error(`flip at byte ${byte} went unnoticed`);
    }
    expect(detected).toBeGreaterThan(10);
    await store.close();
  });
});
