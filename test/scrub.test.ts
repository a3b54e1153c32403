/**
 * The fast start, verified reads and the scrubber under a real daemon (issue 15): a node with a
 * committed chain is stopped, one byte of a stored block below its start-up window is flipped on
 * disk (and one of another block's header record, what lists of blocks read), and it is started
 * again. It starts (only the head and last blocks are checked before
 * serving), refuses to serve the altered block (STORE_CORRUPT, never the bytes), serves the
 * intact ones, and its scrubber finds the damage and halts it, naming the height and the store
 * key in `status`; the metrics carry the scrubber and cache gauges.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RpcError } from '@ehr/api';
import { parseGenesis } from '@ehr/ledger';
import { blockKey, headerKey, Store } from '@ehr/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';
import { patientSignup } from './harness/load.ts';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 1 });
  cluster.start('node1');
  await until('a leader', () => cluster.leader(), 120_000);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

async function metrics(): Promise<string> {
  const port = cluster.node('node1').metricsPort;
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

describe('scrubber and verified reads under a real daemon', () => {
  it('starts past damage below its window, refuses to serve the damaged block, and the scrubber halts it', async () => {
    const rpc = cluster.client('node1');
    const chainId = cluster.plan.chainId;
    // Six blocks at least (one commit-mode submission at a time: a block each).
    for (let i = 0; i < 6; i++) {
      const { tx, body } = patientSignup(chainId);
      const r = await rpc.submitEncoded(tx, {
        mode: 'commit',
        payloads: [body],
        timeoutMs: 20_000,
      });
      expect(r.status.status).toBe('committed');
    }
    const before = (await cluster.status('node1'))!;
    expect(before.height).toBeGreaterThanOrEqual(6);
    expect(before.scrub).toMatchObject({ enabled: true, failed: null });
    await until(
      'a scrub round to complete',
      async () => {
        const s = await cluster.status('node1');
        return s?.scrub?.lastCompletedAt ? s : undefined;
      },
      60_000,
    );
    const text = await metrics();
    expect(text).toMatch(/^ehr_cache_bytes\{cache="state"\} \d+/m);
    expect(text).toMatch(/^ehr_cache_bytes\{cache="tx_status"\} \d+/m);
    expect(text).toMatch(/^ehr_scrub_rounds_total [1-9]/m);

    await cluster.kill('node1', 'SIGTERM');
    const dir = join(cluster.node('node1').dir, 'data');
    const genesis = parseGenesis(readFileSync(cluster.plan.genesis, 'utf8'));
    const store = await Store.open(dir, genesis);
    const bytes = (await store.blockBytes(2))!.slice();
    bytes[Math.floor(bytes.length / 2)]! ^= 0x08;
    await store.db.put(blockKey(2), bytes, true);
    // And a byte of block 4's header record, what lists of blocks read.
    const header = (await store.headerBytes(4))!.slice();
    header[Math.floor(header.length / 2)]! ^= 0x08;
    await store.db.put(headerKey(4), header, true);
    await store.close();
    // Start-up checks only the last block; the scrubber goes slowly enough to be seen first.
    appendFileSync(
      cluster.node('node1').config,
      '\nscrub: { startupBlocks: 1, blocksPerSecond: 2 }\n',
    );
    cluster.start('node1');
    await until('node1 to serve again', () => cluster.status('node1'), 120_000);

    // The intact block is served; the altered one never is.
    const one = await rpc.call<{ height: number }>('chain_getBlock', { height: 1 });
    expect(one.height).toBe(1);
    const err = (await rpc.call('chain_getBlock', { height: 2 }).catch((e) => e)) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(-32070);
    expect(err.data).toMatchObject({ code: 'STORE_CORRUPT' });
    expect(err.message).toMatch(/height 2 .*not served/);
    // Lists of blocks read headers: the blocks above the altered record are served...
    const above = before.height - 4;
    const served = await rpc.call<{ items: { height: number }[] }>('chain_blocks', {
      limit: above,
    });
    expect(served.items.map((b) => b.height)).toEqual(
      Array.from({ length: above }, (_, i) => before.height - i),
    );
    // ...a page reaching it is refused, naming it; never served altered.
    const page = (await rpc.call('chain_blocks', { limit: 100 }).catch((e) => e)) as RpcError;
    expect(page).toBeInstanceOf(RpcError);
    expect(page.code).toBe(-32070);
    expect(page.data).toMatchObject({ code: 'STORE_CORRUPT' });
    expect(page.message).toMatch(/header of block 4 .*not served/);

    // The scrubber reaches block 2 and halts the node, saying where.
    const halted = await until(
      'the scrubber to halt node1',
      async () => {
        const s = await cluster.status('node1');
        return s?.halted ? s : undefined;
      },
      60_000,
    );
    expect(halted.halted).toMatch(/height 2/);
    expect(halted.halted).toMatch(/blockByHeight\/2/);
    expect(halted.scrub).toMatchObject({ phase: 'failed' });
    expect(halted.scrub?.failed).toMatch(/height 2/);
    expect(await metrics()).toMatch(/^ehr_scrub_failures_total 1/m);
    expect(cluster.log('node1')).toMatch(/scrubber found the store damaged: halting the node/);
    // Halted: nothing more is taken.
    const { tx, body } = patientSignup(chainId);
    const refused = await rpc
      .submitEncoded(tx, { mode: 'async', payloads: [body] })
      .catch((e) => e);
    expect(refused).toBeInstanceOf(RpcError);
  }, 300_000);
});
