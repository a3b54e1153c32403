import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@ehr/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Bucket, key } from '../src/buckets.ts';
import { readMarker } from '../src/raft-marker.ts';
import { Store } from '../src/store.ts';
import { testGenesis, testKeys } from './chain.ts';

const dir = mkdtempSync(join(tmpdir(), 'ehr-raft-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const genesis = testGenesis(testKeys(3));
const entry = (index: number, term: number) => ({
  index,
  term,
  type: 'block' as const,
  data: new Uint8Array([index, term]),
});

describe('raft log', () => {
  it('persists entries and hard state, replaces a conflicting suffix, survives reopen', async () => {
    let store = await Store.open(dir, genesis);
    await store.raft.save(
      [1, 2, 3, 4, 5].map((i) => entry(i, 1)),
      { term: 1, vote: 'a', commit: 2 },
    );
    // A new leader overwrites from index 4 with a shorter log of term 2.
    await store.raft.save([entry(4, 2)], { term: 2, vote: null, commit: 3 });
    expect(store.raft.lastIndex).toBe(4);
    await store.close();
    store = await Store.open(dir, genesis);
    expect(store.raft.lastIndex).toBe(4);
    expect(await store.raft.hardState()).toEqual({ term: 2, vote: null, commit: 3 });
    const all = await store.raft.entries(1, 10);
    expect(all.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
    ]);
    await store.raft.compact({
      index: 3,
      term: 1,
      membership: { voters: ['a'], learners: [], removed: [] },
      lastBlockHash: new Uint8Array(32),
      data: new Uint8Array([9]),
    });
    expect(store.raft.firstIndex).toBe(4);
    expect((await store.raft.entries(1, 10)).map((e) => e.index)).toEqual([4]);
    expect((await store.raft.snapshot())?.index).toBe(3);
    await store.close();
  });

  const snap = (index: number, term: number) => ({
    index,
    term,
    membership: { voters: ['a', 'b'], learners: ['c'], removed: ['d'] },
    lastBlockHash: new Uint8Array(32).fill(index),
    data: new Uint8Array([index]),
  });

  it('compacts up to the end of the log, and reopens with the snapshot holding the last position', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ehr-raft-end-'));
    try {
      let store = await Store.open(d, genesis);
      await store.raft.save(
        [1, 2, 3].map((i) => entry(i, 2)),
        { term: 2, vote: null, commit: 3 },
      );
      await store.raft.compact(snap(3, 2));
      expect(store.raft.compactedIndex).toBe(3);
      expect(await store.raft.countAtOrBelow(10)).toBe(0);
      // The marker follows: reopening proves nothing acknowledged was lost.
      const marker = readMarker(d);
      expect(marker.state === 'ok' && marker.position.lastIndex).toBe(3);
      await store.close();
      store = await Store.open(d, genesis);
      expect(store.raft.compactedIndex).toBe(3);
      expect(store.raft.lastIndex).toBe(3);
      expect(store.raft.position).toMatchObject({ lastIndex: 3, lastTerm: 2, term: 2 });
      expect(await store.raft.snapshot()).toEqual(snap(3, 2));
      expect(await store.raft.termAt(3)).toBe(2);
      // The log goes on after it.
      await store.raft.save([entry(4, 3)], { term: 3, vote: null, commit: 4 });
      expect((await store.raft.entries(1, 10)).map((e) => e.index)).toEqual([4]);
      await store.close();
      store = await Store.open(d, genesis);
      expect(store.raft.lastIndex).toBe(4);
      await store.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('installing a snapshot drops the whole log (entries after it too) and keeps stubs', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ehr-raft-install-'));
    try {
      let store = await Store.open(d, genesis);
      await store.raft.save(
        [1, 2, 3, 4, 5].map((i) => entry(i, 1)),
        { term: 1, vote: null, commit: 2 },
      );
      await store.raft.compact(snap(9, 3), {
        discard: true,
        stubs: [{ index: 2, term: 1, type: 'config', data: new Uint8Array([7]) }],
      });
      expect(await store.raft.countAtOrBelow(100)).toBe(0);
      expect(store.raft.lastIndex).toBe(9);
      expect(await store.raft.stub(2)).toEqual({
        index: 2,
        term: 1,
        type: 'config',
        data: new Uint8Array([7]),
      });
      expect(await store.raft.termAt(2)).toBe(1);
      expect(await store.raft.termAt(9)).toBe(3);
      expect(await store.raft.termAt(5)).toBeUndefined();
      await store.close();
      store = await Store.open(d, genesis);
      expect(store.raft.position).toMatchObject({ lastIndex: 9, lastTerm: 3 });
      expect(store.raft.firstIndex).toBe(10);
      await store.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('refuses a snapshot record without membership (not written by this node): STORE_UNSUPPORTED', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ehr-raft-foreign-'));
    try {
      const store = await Store.open(d, genesis);
      await store.db.put(
        key(Bucket.raftState, new Uint8Array([2])),
        encode({ index: 3, term: 1, data: new Uint8Array(0) }),
        true,
      );
      await store.close();
      await expect(Store.open(d, genesis)).rejects.toMatchObject({ code: 'STORE_UNSUPPORTED' });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('flush makes the head durable and reports it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ehr-raft-flush-'));
    try {
      const store = await Store.open(d, genesis);
      await store.setApplied(5, { term: 1, type: 'noop' });
      expect(store.durable().applied).toBe(0);
      const h = await store.flush();
      expect(h.applied).toBe(5);
      expect(store.durable().applied).toBe(5);
      expect(await store.raft.stub(5)).toEqual({ index: 5, term: 1, type: 'noop' });
      await store.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
