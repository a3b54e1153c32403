import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
});
