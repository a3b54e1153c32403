/**
 * The streamed full walk, the start-up check of the last blocks, and reads that verify what they
 * serve, on real stores with real signed blocks, damaged the way a disk damages them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  blockHash,
  decodeBlock,
  encodeBlock,
  isEhrError,
  sha256,
  signBlock,
  toHex,
  utf8,
} from '@ehr/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Bucket, u64 } from '../src/buckets.ts';
import { checkRecent } from '../src/recent-check.ts';
import { servedBlockBytes, servedPayload } from '../src/served.ts';
import { blockKey, hashKey, headerKey, Store } from '../src/store.ts';
import { type WalkProgress, walkStore } from '../src/walk.ts';
import { buildChain, commitNext, hospitalTx, testGenesis, testKeys } from './chain.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ehr-walk-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const keys = testKeys(7);
const genesis = testGenesis(keys);

async function chain(blocks: number) {
  const store = await Store.open(tempDir(), genesis);
  const built = await buildChain(store, keys, blocks);
  return { store, ...built };
}

async function drain(store: Store, maxKeysPerPass?: number) {
  const steps: WalkProgress[] = [];
  const walk = walkStore(store.db, store.genesis, maxKeysPerPass ? { maxKeysPerPass } : {});
  for (;;) {
    const s = await walk.next();
    if (s.done) return { report: s.value, steps };
    steps.push({ ...s.value });
  }
}

const flipValue = async (store: Store, key: Uint8Array, at?: number) => {
  const v = (await store.db.get(key))!.slice();
  v[at ?? Math.floor(v.length / 2)]! ^= 0x10;
  await store.db.put(key, v, true);
};

describe('walkStore', () => {
  it('walks every block, then the state in bounded partitions, then the payloads, yielding as it goes', async () => {
    const { store } = await chain(12);
    const one = await drain(store);
    // 12 blocks of 2 transactions, 1 payload.
    expect(one.report).toMatchObject({ height: 12, blocks: 12, txs: 24, payloads: 1 });
    expect(one.steps.filter((s) => s.phase === 'blocks').map((s) => s.height)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    // Forced into many partitions (at most 1,000 keys each is the config floor; the walk itself
    // takes any positive bound): the same keys are checked, in several passes.
    const many = await drain(store, 4);
    // Every write set is read once per partition: more bytes, the same findings.
    expect({ ...many.report, bytes: 0 }).toEqual({ ...one.report, bytes: 0 });
    expect(many.report.bytes).toBeGreaterThan(one.report.bytes);
    const passes = Math.max(...many.steps.map((s) => s.passes));
    expect(passes).toBeGreaterThanOrEqual(Math.ceil(one.report.stateKeys / 4));
    expect(one.report.bytes).toBeGreaterThan(0);
    await store.close();
  });

  it('reads one snapshot: blocks committed during the walk neither break nor join it', async () => {
    const { store } = await chain(4);
    const walk = walkStore(store.db, store.genesis);
    const first = await walk.next();
    expect(first.done).toBe(false);
    // The chain moves on while the walk is in the middle of it.
    for (let i = 0; i < 3; i++)
      await commitNext(store, keys, [hospitalTx(keys.admin, 7 + i, `late${i}`)]);
    let last: WalkProgress | undefined;
    for (;;) {
      const s = await walk.next();
      if (s.done) {
        expect(s.value.height).toBe(4);
        break;
      }
      last = s.value;
    }
    expect(last?.target).toBe(4);
    expect((await drain(store)).report.height).toBe(7);
    await store.close();
  });

  it('names the height and the store key of a flipped byte in a block, a write set, the state and a body', async () => {
    const cases: [string, (s: Store) => Promise<void>, RegExp, number | undefined][] = [
      ['block', (s) => flipValue(s, blockKey(5)), /^blockByHeight\/5$/, 5],
      ['header record', (s) => flipValue(s, headerKey(4)), /^blockHeader\/4$/, 4],
      [
        'write set',
        (s) => flipValue(s, new Uint8Array([Bucket.writeSet, 0, 0, 0, 0, 0, 0, 0, 3])),
        /^writeSet\/3$/,
        3,
      ],
      [
        'body',
        async (s) => {
          for await (const [k] of s.db.range(new Uint8Array([Bucket.payload]))) {
            await flipValue(s, k);
            return;
          }
        },
        /^payload\/[0-9a-f]{64}$/,
        1,
      ],
      [
        'state',
        async (s) => {
          let i = 0;
          for await (const [k] of s.db.range(new Uint8Array([Bucket.state]))) {
            if (i++ === 4) return flipValue(s, k);
          }
        },
        /^state\//,
        undefined,
      ],
    ];
    for (const [name, damage, key, height] of cases) {
      const { store } = await chain(6);
      await damage(store);
      const err = await drain(store, 3).catch((e) => e);
      expect(isEhrError(err, 'STORE_CORRUPT'), `${name}: ${err}`).toBe(true);
      expect(err.data.key, name).toMatch(key);
      if (height !== undefined) expect(err.data.height, name).toBe(height);
      expect(err.message).toContain(store.db.dir);
      expect(err.message).toContain('store key');
      await store.close();
    }
  });

  it('a deleted block and a deleted state entry are named', async () => {
    const { store } = await chain(5);
    await store.db.batch([{ type: 'del', key: headerKey(3) }], true);
    expect((await drain(store).catch((e) => e)).data).toMatchObject({
      height: 3,
      what: 'header record is missing',
      key: 'blockHeader/3',
    });
    await store.db.batch([{ type: 'del', key: blockKey(2) }], true);
    expect((await drain(store).catch((e) => e)).data).toMatchObject({
      height: 2,
      what: 'block is missing',
    });
    await store.close();
    const b = await chain(3);
    let victim: Uint8Array | undefined;
    for await (const [k] of b.store.db.range(new Uint8Array([Bucket.state]))) victim = k;
    await b.store.db.batch([{ type: 'del', key: victim! }], true);
    const err = await drain(b.store, 2).catch((e) => e);
    expect(err.data.what).toMatch(/state entries are missing/);
    await b.store.close();
  });

  it('refuses a bound that is not a positive integer', async () => {
    const { store } = await chain(1);
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(
        walkStore(store.db, store.genesis, { maxKeysPerPass: bad }).next(),
      ).rejects.toMatchObject({ code: 'STORE_WALK_OPTIONS' });
    }
    await store.close();
  });
});

describe('checkRecent (start-up)', () => {
  it('checks only the last blocks: damage below them is left to the scrubber, damage within is named', async () => {
    const { store } = await chain(10);
    expect(await checkRecent(store, 3)).toEqual({ height: 10, from: 8 });
    await flipValue(store, blockKey(4));
    // Below the window: start-up does not read it (the scrubber will).
    expect(await checkRecent(store, 3)).toEqual({ height: 10, from: 8 });
    await flipValue(store, blockKey(9));
    const err = await checkRecent(store, 3).catch((e) => e);
    expect(err).toMatchObject({ code: 'STORE_CORRUPT', data: { height: 9 } });
    await store.close();
  });

  it('takes fewer blocks when their bytes pass the bound, never fewer than the head block', async () => {
    const { store } = await chain(10);
    const size = async (h: number) => (await store.blockBytes(h))!.length;
    const last3 = (await size(10)) + (await size(9)) + (await size(8));
    expect(await checkRecent(store, 5, last3)).toEqual({ height: 10, from: 8 });
    expect(await checkRecent(store, 5, last3 - 1)).toEqual({ height: 10, from: 9 });
    // The block count still bounds it; the head block is checked whatever its size.
    expect(await checkRecent(store, 2, 10 ** 9)).toEqual({ height: 10, from: 9 });
    expect(await checkRecent(store, 5, 1)).toEqual({ height: 10, from: 10 });
    // Damage below a byte-bounded window (and the block under it, read for its hashes) is the
    // scrubber's; within it, it is named.
    await flipValue(store, blockKey(6));
    expect(await checkRecent(store, 5, last3)).toEqual({ height: 10, from: 8 });
    await flipValue(store, blockKey(8));
    expect(await checkRecent(store, 5, last3).catch((e) => e)).toMatchObject({
      code: 'STORE_CORRUPT',
      data: { height: 8 },
    });
    // A block missing inside the count window is taken in and named, whatever the bytes.
    await flipValue(store, blockKey(8)); // the same bit back: block 8 intact again
    await store.db.batch([{ type: 'del', key: blockKey(9) }], true);
    expect(await checkRecent(store, 5, 1).catch((e) => e)).toMatchObject({
      code: 'STORE_CORRUPT',
      data: { height: 9, what: 'block is missing' },
    });
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(await checkRecent(store, 5, bad).catch((e) => e)).toMatchObject({
        code: 'STORE_CHECK_OPTIONS',
      });
    await store.close();
  });

  it('a write set altered within the window breaks the state-hash chain at its height', async () => {
    const { store } = await chain(6);
    await flipValue(store, new Uint8Array([Bucket.writeSet, 0, 0, 0, 0, 0, 0, 0, 6]));
    const err = await checkRecent(store, 2).catch((e) => e);
    expect(err.data).toMatchObject({ height: 6, key: 'writeSet/6' });
    await store.close();
  });

  it('takes time proportional to the window, not the chain', async () => {
    const { store } = await chain(200);
    const time = async (n: number) => {
      const t = performance.now();
      for (let i = 0; i < 5; i++) await checkRecent(store, n);
      return (performance.now() - t) / 5;
    };
    await time(4); // warm-up
    const small = await time(4);
    const whole = await time(200);
    expect(whole).toBeGreaterThan(small * 5);
    await expect(checkRecent(store, 0)).rejects.toMatchObject({ code: 'STORE_CHECK_OPTIONS' });
    await expect(checkRecent(store, -3)).rejects.toMatchObject({ code: 'STORE_CHECK_OPTIONS' });
    await store.close();
  });
});

describe('served reads', () => {
  it('serve intact blocks and bodies, and refuse altered ones with STORE_CORRUPT', async () => {
    const { store, profile } = await chain(4);
    const intact = (await store.blockBytes(3))!;
    expect(await servedBlockBytes(store, 3)).toEqual(intact);
    expect(await servedBlockBytes(store, 99)).toBeUndefined();
    const hash = toHex(sha256(profile));
    expect(await servedPayload(store, hash)).toEqual(profile);
    // Every single flipped byte of the block is caught (header, signature or a transaction).
    for (let at = 0; at < intact.length; at += 5) {
      const copy = intact.slice();
      copy[at]! ^= 0x01;
      await store.db.put(blockKey(3), copy, true);
      const err = await servedBlockBytes(store, 3).catch((e) => e);
      expect(isEhrError(err, 'STORE_CORRUPT'), `flip at ${at}`).toBe(true);
      expect(err.data).toMatchObject({ height: 3, key: 'blockByHeight/3' });
    }
    await store.db.put(blockKey(3), intact, true);
    await flipValue(store, new Uint8Array([Bucket.payload, ...sha256(profile)]));
    const err = await servedPayload(store, hash).catch((e) => e);
    expect(err).toMatchObject({ code: 'STORE_CORRUPT', data: { payload: hash } });
    expect(err.message).toMatch(/does not match its hash .*; it is not served/);
    // A body stored under another hash is not served either.
    await store.db.put(new Uint8Array([Bucket.payload, ...sha256(utf8('x'))]), utf8('y'), true);
    await expect(servedPayload(store, toHex(sha256(utf8('x'))))).rejects.toMatchObject({
      code: 'STORE_CORRUPT',
    });
    await store.close();
  });
});

describe('served reads: the link to the block below', () => {
  it('refuse a block, signed and indexed, whose previous-block hash is not the block below it', async () => {
    const { store } = await chain(4);
    const original = decodeBlock((await store.blockBytes(3))!);
    // What a store restored from another history looks like: a well-formed block of height 3,
    // signed by the proposer and indexed under its hash, after some other block 2.
    const header = { ...original.header, prevHash: sha256(utf8('another block 2')) };
    const forged = encodeBlock(signBlock(header, original.txs, keys.node));
    await store.db.batch(
      [
        { type: 'put', key: blockKey(3), value: forged },
        { type: 'put', key: hashKey(blockHash(header)), value: u64(3) },
      ],
      true,
    );
    const err = await servedBlockBytes(store, 3).catch((e) => e);
    expect(err).toMatchObject({
      code: 'STORE_CORRUPT',
      data: { height: 3, what: 'previous-block hash does not link', key: 'blockByHeight/3' },
    });
    expect(err.message).toMatch(
      /height 3 is damaged \(previous-block hash does not link\); it is not served/,
    );
    // Block 1 links to the genesis: served.
    expect(await servedBlockBytes(store, 1)).toBeDefined();
    await store.close();
  });
});
