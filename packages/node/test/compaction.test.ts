/**
 * Log compaction in the node: a single validator compacting every 2 entries behind a tail of 2
 * keeps a log of a few entries whatever the chain's length, restarts from the snapshot record
 * and that tail only, and goes on; what it compacted is still served, rebuilt from the block
 * store, read one entry at a time, and passes the full verification a catching-up node applies
 * (links, signatures, proposers, state hashes) on a fresh store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '@ehr/consensus';
import { blockHash, equalBytes, generateSecretKey, publicKeyOf, toHex } from '@ehr/core';
import { genesisBlockHash, makeGenesis, wireLimits } from '@ehr/ledger';
import { Bucket, blockKey, Store } from '@ehr/store';
import { afterAll, describe, expect, it } from 'vitest';
import { storePort } from '../src/adapters.ts';
import { decodeBlockEntry } from '../src/block-entry.ts';
import { snapshotHeight } from '../src/compaction.ts';
import { parseConfig } from '../src/config.ts';
import { loadEngine } from '../src/raft-load.ts';
import { serveEntries } from '../src/sync-protocol.ts';
import { checkEntries, executeBlocks } from '../src/sync-verify.ts';
import { boot, hospital } from './validator.ts';

const root = mkdtempSync(join(tmpdir(), 'ehr-compact-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const admin = generateSecretKey();
const key = generateSecretKey();
const genesis = makeGenesis({
  chainId: 'compact-test',
  genesisTime: Date.now() - 1000,
  admins: [publicKeyOf(admin)],
  validators: [publicKeyOf(key)],
});
const dir = join(root, 'node');
const minimalConfig = {
  name: 'n',
  dataDir: dir,
  keyFile: 'k',
  genesisFile: 'g',
  p2p: { listen: ['/ip4/127.0.0.1/tcp/0'] },
};

async function commit(txs: Awaited<ReturnType<typeof boot>>['txs'], from: number, n: number) {
  for (let nonce = from; nonce < from + n; nonce++) {
    const r = await txs.submit(hospital(admin, nonce, genesis.chainId), [], 'commit', 5000);
    expect(r.status.status).toBe('committed');
  }
}

async function logKeys(store: Store): Promise<number> {
  let n = 0;
  for await (const _ of store.db.range(new Uint8Array([Bucket.raftLog]), { values: false })) n++;
  return n;
}

describe('log compaction (single validator)', () => {
  it('keeps a bounded log, restarts from the snapshot and its tail, and goes on', async () => {
    let store = await Store.open(dir, genesis);
    let node = await boot(store, genesis, key);
    await commit(node.txs, 0, 40);
    await node.stop();
    // Stopped, nothing more happens: what follows reads a settled store.
    const compacted = store.raft.compactedIndex;
    expect(compacted).toBeGreaterThan(30);
    // Only the tail, what is not compacted yet and what the last flush did not cover: a
    // handful of entries for 40 blocks.
    expect(await logKeys(store)).toBeLessThan(20);
    expect(await store.raft.countAtOrBelow(compacted)).toBe(0);
    const snap = (await store.raft.snapshot())!;
    expect(snap.index).toBe(compacted);
    expect(snap.membership.voters).toEqual([toHex(publicKeyOf(key))]);
    // The snapshot names the block at its index and links to it.
    const height = snapshotHeight(snap.data);
    expect(height).toBeGreaterThan(0);
    const block = (await store.block(height))!;
    expect(equalBytes(snap.lastBlockHash, blockHash(block.header))).toBe(true);
    // The store made a flush cover at least the compacted part.
    expect(store.durable().applied).toBeGreaterThanOrEqual(compacted);
    const head = store.head();
    await store.close();

    store = await Store.open(dir, genesis);
    expect(store.head().height).toBe(head.height);
    // The engine as start loads it: the snapshot and the tail only.
    const engine = await loadEngine(parseConfig(minimalConfig, join(dir, 'n.yaml')), {
      nodeId: toHex(publicKeyOf(key)),
      genesis,
      wire: wireLimits(genesis.limits),
      store,
    });
    expect(engine.firstIndex()).toBe(compacted + 1);
    expect(engine.currentSnapshot()?.index).toBe(compacted);
    expect(engine.lastIndex() - compacted).toBe(await logKeys(store));
    expect(engine.applied).toBe(head.applied);
    node = await boot(store, genesis, key);
    await commit(node.txs, 40, 10);
    expect(store.head().height).toBeGreaterThanOrEqual(head.height + 10);
    expect(store.raft.compactedIndex).toBeGreaterThan(compacted);
    await node.stop();
    await store.close();
  }, 60_000);

  it('serves the compacted range rebuilt from the block store, streamed, and it verifies in full on a fresh store', async () => {
    const store = await Store.open(dir, genesis);
    const fresh = await Store.open(join(root, 'fresh'), genesis);
    try {
      const port = storePort(store);
      const compacted = store.raft.compactedIndex;
      let read = 0;
      const source = {
        position: async () => ({
          index: store.head().applied,
          term: 0,
          height: store.head().height,
          hash: store.head().hash,
        }),
        async *entries(from: number, to: number) {
          for await (const e of port.servedEntries(from, to)) {
            read++;
            yield e;
          }
        },
      };
      // A byte cap of one entry: one entry read (and at most the next looked at), not the range.
      const one = await serveEntries(source, 1, compacted, 1);
      expect(one).toHaveLength(1);
      expect(read).toBeLessThanOrEqual(2);
      // The whole compacted range, in replies as a catching-up node asks for them.
      const served: Entry[] = [];
      while (served.length < compacted) {
        const next = await serveEntries(source, served.length + 1, compacted);
        expect(next.length).toBeGreaterThan(0);
        served.push(...next);
      }
      expect(served.map((e) => e.index)).toEqual(
        Array.from({ length: compacted }, (_, i) => i + 1),
      );
      const blocks = served.filter((e) => e.type === 'block');
      // Each rebuilt block entry carries the stored block, byte for byte.
      for (const e of blocks) {
        const be = decodeBlockEntry(e.data);
        const stored = (await store.blockBytes(be.block.header.height))!;
        expect(equalBytes(be.blockBytes, stored)).toBe(true);
      }
      // Full verification from genesis on an empty store, as sync does.
      const checked = checkEntries(served, {
        index: 1,
        term: 0,
        height: 0,
        hash: genesisBlockHash(genesis),
        voters: [...genesis.validators],
        termVoters: new Map(),
        termProposer: new Map(),
      });
      expect(checked.blocks.length).toBe(blocks.length);
      const { stateHash } = await executeBlocks(
        fresh.state,
        checked.blocks,
        fresh.head().stateHash,
      );
      const last = checked.blocks.at(-1)!.entry.block.header;
      expect(toHex(stateHash)).toBe(toHex(last.stateHash));
      // Damaged: a block the stub names is gone, so the served range stops before it.
      const firstBlock = blocks[0]!;
      const h = decodeBlockEntry(firstBlock.data).block.header.height;
      await store.db.batch([{ type: 'del', key: blockKey(h) }], true);
      const cut = await serveEntries(source, 1, compacted);
      expect(cut.at(-1)!.index).toBe(firstBlock.index - 1);
    } finally {
      await store.close();
      await fresh.close();
    }
  }, 60_000);

  it('bounds the tail in bytes too: large entries are compacted long before the entry count says', async () => {
    const d = join(root, 'bytes');
    const g = makeGenesis({
      chainId: 'compact-bytes',
      genesisTime: Date.now() - 1000,
      admins: [publicKeyOf(admin)],
      validators: [publicKeyOf(key)],
    });
    const store = await Store.open(d, g);
    // A tail of 1,000 entries and compaction every 1,000: by entries, 40 blocks never compact.
    const node = await boot(store, g, key, { tail: 1000, every: 1000, tailBytes: 4096 });
    for (let nonce = 0; nonce < 40; nonce++) {
      const r = await node.txs.submit(hospital(admin, nonce, g.chainId), [], 'commit', 5000);
      expect(r.status.status).toBe('committed');
    }
    await node.stop();
    let bytes = 0;
    let entries = 0;
    for await (const [, v] of store.db.range(new Uint8Array([Bucket.raftLog]))) {
      bytes += v.length;
      entries++;
    }
    expect(store.raft.compactedIndex).toBeGreaterThan(20);
    // Within the bound, give or take what the last flush had not covered yet.
    expect(bytes).toBeLessThan(3 * 4096);
    expect(entries).toBeLessThan(20);
    await store.close();
  });
});
