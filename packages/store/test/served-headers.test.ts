/**
 * Lists of blocks read header records (a few hundred bytes a block) instead of blocks, and
 * verify each against the block-hash index before serving it; stores written before the
 * records existed get them at open. Real signed blocks, damaged the way a disk damages them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockHash, decodeBlock, encodeHeader, isEhrError, utf8 } from '@ehr/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Bucket, key } from '../src/buckets.ts';
import { servedHeaders } from '../src/served-headers.ts';
import { blockKey, headerKey, Store } from '../src/store.ts';
import { buildChain, testGenesis, testKeys } from './chain.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const keys = testKeys(11);
const genesis = testGenesis(keys);

async function chain(blocks: number) {
  const dir = mkdtempSync(join(tmpdir(), 'ehr-headers-'));
  dirs.push(dir);
  const store = await Store.open(dir, genesis);
  await buildChain(store, keys, blocks);
  return { dir, store };
}

async function corrupt(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isEhrError(err), String(err)).toBe(true);
  return err as { code: string; message: string; data: Record<string, unknown> };
}

describe('served block headers', () => {
  it('pages newest first, each the header of the stored block, linked', async () => {
    const { store } = await chain(7);
    const head = store.head().height;
    expect(head).toBe(7);
    const all = await servedHeaders(store, head, 100);
    expect(all.map((h) => h.height)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    for (const h of all) {
      const block = decodeBlock((await store.blockBytes(h.height))!);
      expect(h.header).toEqual(block.header);
      expect(h.hash).toEqual(blockHash(block.header));
    }
    expect(all[0]!.hash).toEqual(store.head().hash);
    // A page from the middle, and limits that run past height 1.
    expect((await servedHeaders(store, 4, 2)).map((h) => h.height)).toEqual([4, 3]);
    expect((await servedHeaders(store, 2, 100)).map((h) => h.height)).toEqual([2, 1]);
    expect(await servedHeaders(store, 0, 10)).toEqual([]);
    await store.close();
  });

  it('refuses a damaged record, naming the height, and serves the intact ones', async () => {
    const { store } = await chain(6);
    const record = (await store.headerBytes(3))!;
    // Every byte flipped in turn: never served as the header of block 3.
    for (let i = 0; i < record.length; i++) {
      const bad = record.slice();
      bad[i]! ^= 0x01;
      await store.db.put(headerKey(3), bad, false);
      const err = await corrupt(servedHeaders(store, 6, 10));
      expect(err.code, `byte ${i}`).toBe('STORE_CORRUPT');
      expect(err.data['height']).toBe(3);
      expect(err.data['key']).toBe('blockHeader/3');
      expect(err.message).toMatch(/header of block 3 .*not served.*ehr node verify/);
    }
    await store.db.put(headerKey(3), record, false);
    expect((await servedHeaders(store, 6, 10)).length).toBe(6);
    // Another block's header under height 3, and one that is valid but of another chain.
    await store.db.put(headerKey(3), (await store.headerBytes(4))!, false);
    expect((await corrupt(servedHeaders(store, 3, 1))).data['what']).toBe('says height 4');
    const header = decodeBlock((await store.blockBytes(3))!).header;
    await store.db.put(headerKey(3), encodeHeader({ ...header, chainId: 'other' }), false);
    expect((await corrupt(servedHeaders(store, 3, 1))).data['what']).toBe('is for chain other');
    // Right height and chain, another time: it does not hash to the indexed block.
    await store.db.put(headerKey(3), encodeHeader({ ...header, time: header.time + 1 }), false);
    expect((await corrupt(servedHeaders(store, 3, 1))).message).toMatch(/does not match its hash/);
    // Empty and truncated records.
    await store.db.put(headerKey(3), new Uint8Array(0), false);
    expect((await corrupt(servedHeaders(store, 3, 1))).message).toMatch(/does not decode/);
    await store.db.put(headerKey(3), record.subarray(0, 40), false);
    expect((await corrupt(servedHeaders(store, 3, 1))).message).toMatch(/does not decode/);
    await store.close();
  });

  it('reads a block without a record from the block itself, verified whole', async () => {
    const { store } = await chain(4);
    const want = await servedHeaders(store, 4, 10);
    await store.db.batch([{ type: 'del', key: headerKey(2) }], false);
    expect(await servedHeaders(store, 4, 10)).toEqual(want);
    // ...and then the block's own damage is found (the record no longer covers for it).
    const bytes = (await store.blockBytes(2))!.slice();
    bytes[bytes.length - 5]! ^= 0x10;
    await store.db.put(blockKey(2), bytes, false);
    const err = await corrupt(servedHeaders(store, 4, 10));
    expect(err.code).toBe('STORE_CORRUPT');
    expect(err.data['height']).toBe(2);
    await store.close();
  });

  it('a store written before header records gets them at open, and lists the same', async () => {
    const { dir, store } = await chain(5);
    const want = await servedHeaders(store, 5, 10);
    const records = [];
    for (let h = 1; h <= 5; h++) records.push(await store.headerBytes(h));
    // As an older version left it: no records, no marker.
    await store.db.batch(
      [
        ...[1, 2, 3, 4, 5].map((h) => ({ type: 'del' as const, key: headerKey(h) })),
        { type: 'del' as const, key: key(Bucket.meta, utf8('headers')) },
      ],
      true,
    );
    await store.close();
    const reopened = await Store.open(dir, genesis);
    for (let h = 1; h <= 5; h++) expect(await reopened.headerBytes(h)).toEqual(records[h - 1]);
    expect(await servedHeaders(reopened, 5, 10)).toEqual(want);
    // Done once: the next open has nothing to write.
    expect(await reopened.ensureHeaders()).toBeNull();
    await reopened.close();
  });

  it('a block committed with the header of another refuses to store', async () => {
    const { store } = await chain(2);
    const block = decodeBlock((await store.blockBytes(2))!);
    const err = await corrupt(
      store.commitBlock({
        blockBytes: new Uint8Array([1]),
        header: block.header,
        hash: blockHash(block.header),
        height: 3,
        stateHash: block.header.stateHash,
        time: block.header.time,
        receipts: [],
        writes: [],
        payloads: new Map(),
        erased: [],
        raftIndex: 4,
      }),
    );
    expect(err.code).toBe('STORE_OUT_OF_ORDER');
    expect(store.head().height).toBe(2);
    await store.close();
  });
});
