/**
 * Catch-up sync on a real store, engine and daemon: members serve a real log through the sync
 * protocols (over an in-process transport; the libp2p path is covered end to end in test/), one
 * of them corrupts what it serves. The node must refuse that peer's batches, take the rest from
 * the honest ones, and end with their chain, state and consensus log.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '@ehr/consensus';
import { RaftNode } from '@ehr/consensus';
import { equalBytes, generateSecretKey, publicKeyOf, toHex } from '@ehr/core';
import { genesisBlockHash, wireLimits } from '@ehr/ledger';
import { Store } from '@ehr/store';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blockVerifier, raftPort, storePort } from '../src/adapters.ts';
import { CatchUp } from '../src/catch-up.ts';
import { parseConfig } from '../src/config.ts';
import { wireLoop } from '../src/loop-wiring.ts';
import { nodeMetrics } from '../src/metrics.ts';
import { nodeStatus } from '../src/node-status.ts';
import { serveSync } from '../src/sync-protocol.ts';
import { capturingLogger } from './capture.ts';
import { buildLog, type TestLog, tamperTx } from './log.ts';
import { MemNet } from './mem-net.ts';

/** A member serving the first `limit.n` entries of `log` (all blocks tampered when `lie`). */
function member(net: MemNet, log: TestLog, limit: { n: number }, lie = false): void {
  const heightAt = (index: number) =>
    log.entries.slice(0, index).filter((e) => e.type === 'block').length;
  serveSync(net, {
    position: async () => {
      const n = limit.n;
      return {
        index: n,
        term: log.entries[n - 1]!.term,
        height: heightAt(n),
        // Only the height matters to the client; the hash is informative.
        hash: log.tip.hash,
      };
    },
    async *entries(from, to) {
      for (const e of log.entries.slice(from - 1, Math.min(to, limit.n)))
        yield lie && e.type === 'block' ? tamperTx(e) : e;
    },
  });
}

let log: TestLog;
const cleanup: (() => Promise<void>)[] = [];
beforeAll(async () => {
  log = await buildLog(150, 2);
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function client(all: Map<string, MemNet>, members: string[], checkMs = 60_000) {
  const dir = mkdtempSync(join(tmpdir(), 'ehr-catchup-'));
  const store = await Store.open(dir, log.genesis);
  const key = generateSecretKey();
  const id = toHex(publicKeyOf(key));
  const net = new MemNet(id, all);
  const raft = new RaftNode({
    id,
    initial: { voters: [toHex(publicKeyOf(log.validator))], learners: [id], removed: [] },
    genesisHash: genesisBlockHash(log.genesis),
    storage: { entries: [], applied: 0 },
    electionTick: 10,
    heartbeatTick: 2,
    random: Math.random,
    blockVerifier,
  });
  const config = parseConfig(
    {
      name: 'client',
      dataDir: dir,
      keyFile: 'k',
      genesisFile: 'g',
      p2p: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      sync: { batchSize: 16, parallel: 3, threshold: 8, checkMs, startupWaitMs: 200 },
    },
    join(dir, 'node.yaml'),
  );
  const metrics = nodeMetrics();
  const { logger, lines } = capturingLogger('info');
  const nodeStore = storePort(store);
  const {
    daemon: loop,
    txs,
    syncPort,
  } = wireLoop({
    config,
    chainId: log.genesis.chainId,
    secretKey: key,
    maxTxBytes: log.genesis.limits.maxTxBytes,
    wire: wireLimits(log.genesis.limits),
    store: nodeStore,
    network: net,
    engine: raftPort(raft),
    logger,
    metrics,
  });
  const catchUp = new CatchUp({
    network: net,
    store: nodeStore,
    chain: syncPort(() => {}),
    logger,
    metrics,
    members: () => members,
    config: config.sync,
    logEveryBatches: 2,
  });
  loop.start({ paused: true });
  catchUp.start();
  cleanup.push(async () => {
    await catchUp.stop();
    await loop.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const status = () =>
    nodeStatus({
      name: 'client',
      chainId: log.genesis.chainId,
      raft: loop.consensus.status(),
      head: store.head(),
      sync: catchUp.status,
      announced: 0,
      peers: net.peers().length,
      mempool: { txs: txs.mempool.size, bytes: txs.mempool.byteSize },
      halted: loop.halted(),
      loop: loop.loopStatus(),
      log: {
        compactedIndex: store.raft.compactedIndex,
        firstIndex: store.raft.firstIndex,
        lastIndex: store.raft.lastIndex,
        durableHeight: store.durable().height,
      },
    });
  return { store, daemon: loop, catchUp, status, raft, lines, metrics, dir };
}

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function expectSameLog(stored: Entry[], upTo: number): void {
  expect(stored.map((e) => e.index)).toEqual(log.entries.slice(0, upTo).map((e) => e.index));
  for (const e of stored) {
    const want = log.entries[e.index - 1]!;
    expect(e.term).toBe(want.term);
    expect(e.type).toBe(want.type);
    expect(equalBytes(e.data, want.data)).toBe(true);
  }
}

describe('catch-up sync (store, engine, daemon)', () => {
  it('fetches from several members in parallel, refuses a member serving corrupted blocks, and ends with the chain, state and log', async () => {
    const all = new Map<string, MemNet>();
    const full = { n: log.entries.length };
    member(new MemNet('good1', all), log, full);
    member(new MemNet('good2', all), log, full);
    member(new MemNet('liar', all), log, full, true);
    const c = await client(all, ['good1', 'good2', 'liar']);
    await until(() => c.catchUp.status?.finishedAt != null);
    const st = c.catchUp.status!;
    expect(st.error).toBeNull();
    const head = c.store.head();
    expect(head.height).toBe(log.tip.height);
    expect(toHex(head.hash)).toBe(toHex(log.tip.hash));
    expect(toHex(head.stateHash)).toBe(toHex(log.tip.stateHash));
    expect(head.applied).toBe(log.entries.length);
    // The liar was asked, refused every time, and then avoided; both honest members served.
    expect(st.refused['liar']).toBeGreaterThan(0);
    expect(st.peers['liar']).toBeUndefined();
    expect(st.peers['good1']).toBeGreaterThan(0);
    expect(st.peers['good2']).toBeGreaterThan(0);
    expect(
      c.lines.some(
        (l) =>
          l['msg'] === 'catch-up sync refused a batch; asking another member' &&
          l['peer'] === 'liar' &&
          /txRoot does not match/.test(String(l['err'])),
      ),
    ).toBe(true);
    expect(c.lines.some((l) => l['msg'] === 'catch-up sync progress')).toBe(true);
    const done = c.lines.find((l) => l['msg'] === 'catch-up sync done')!;
    expect(done['blocks']).toBe(log.tip.height);
    expect(done['txs']).toBe(log.tip.height * 2);
    // What came from batches and what replication applied meanwhile add up to what it did.
    const fetched = done['fetched'] as { blocks: number; txs: number };
    const replicated = done['replicated'] as { blocks: number; txs: number };
    expect(fetched.blocks + replicated.blocks).toBe(log.tip.height);
    expect(fetched.txs + replicated.txs).toBe(log.tip.height * 2);
    expect(done['from']).toBe(0);
    expect(done['height']).toBe(log.tip.height);
    const text = await c.metrics.registry.render();
    expect(text).toMatch(/ehr_sync_batches_total\{peer="good1"\} \d+/);
    expect(text).toMatch(/ehr_sync_refused_total\{peer="liar"\} \d+/);
    expect(text).toMatch(/ehr_sync_progress 1/);
    // Persisted as the consensus log, with the commit index; a restart applies nothing again.
    expectSameLog(await c.store.raft.entries(1, c.store.raft.lastIndex), log.entries.length);
    expect((await c.store.raft.hardState())!.commit).toBe(log.entries.length);
    const again = new RaftNode({
      id: c.raft.id,
      initial: { voters: [toHex(publicKeyOf(log.validator))], learners: [c.raft.id], removed: [] },
      genesisHash: genesisBlockHash(log.genesis),
      storage: {
        hardState: (await c.store.raft.hardState())!,
        entries: await c.store.raft.entries(1, c.store.raft.lastIndex),
        applied: c.store.head().applied,
      },
      electionTick: 10,
      heartbeatTick: 2,
      random: Math.random,
      blockVerifier,
    });
    expect(again.applied).toBe(log.entries.length);
    expect(again.hasReady()).toBe(false);
    // The engine runs again after the sync.
    expect(c.status().loop.paused).toBe(false);
    expect(c.status().catchingUp).toBe(false);
    expect(c.status().sync?.active).toBe(false);
  }, 60_000);

  it('a node that falls behind while running syncs again when the periodic check sees the gap', async () => {
    const all = new Map<string, MemNet>();
    const served = { n: 40 };
    member(new MemNet('a', all), log, served);
    member(new MemNet('b', all), log, served);
    const c = await client(all, ['a', 'b'], 150);
    await until(() => c.store.head().applied === 40);
    // The network moves on while this node hears nothing of it.
    served.n = log.entries.length;
    await until(() => c.store.head().applied === log.entries.length);
    expect(toHex(c.store.head().stateHash)).toBe(toHex(log.tip.stateHash));
    const starts = c.lines.filter((l) => l['msg'] === 'catch-up sync started');
    expect(starts.map((l) => l['reason'])).toEqual(['start', 'behind']);
    expectSameLog(await c.store.raft.entries(1, c.store.raft.lastIndex), log.entries.length);
  }, 60_000);

  it('does nothing when within the threshold, and lets consensus run', async () => {
    const all = new Map<string, MemNet>();
    member(new MemNet('a', all), log, { n: 5 });
    const c = await client(all, ['a']);
    await until(() => !c.status().loop.paused);
    expect(c.catchUp.status).toBeNull();
    expect(c.lines.some((l) => l['msg'] === 'catch-up sync started')).toBe(false);
    expect(c.store.head().applied).toBe(0);
  }, 30_000);
});
