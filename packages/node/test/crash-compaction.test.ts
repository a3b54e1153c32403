/**
 * Crashes while the log is compacted: a child process runs a single validator that compacts
 * every 2 entries (a flush, then one synced batch) while committing transactions one by one, and
 * is SIGKILLed at random moments, mid-flush or mid-compaction as often as not. Each time the
 * store reopens consistent (verified in full), the node restarts from the snapshot and tail it
 * finds, every transaction the child acknowledged is in the chain, and a new one commits.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromHex, generateSecretKey, publicKeyOf, seededRandom, toHex } from '@ehr/core';
import { nextNonce } from '@ehr/ledger';
import { Store, verifyStore } from '@ehr/store';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from './one-node.ts';
import { boot, fixedGenesis, hospital } from './validator.ts';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ehr-compact-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const admin = generateSecretKey();
const key = generateSecretKey();
const genesis = fixedGenesis(admin, key);

/** Runs the writer until `acks` acknowledgments, then SIGKILLs it `ms` later. */
function runAndKill(acks: number, ms: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(here, 'compacting-writer.ts'), dir, toHex(admin), toHex(key)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const acked: string[] = [];
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^ack ([0-9a-f]+)$/.exec(l);
        if (m) acked.push(m[1]!);
      }
      if (acked.length >= acks && !timer) timer = setTimeout(() => child.kill('SIGKILL'), ms);
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own: ${err}`));
      else resolve(acked);
    });
  });
}

describe('crash during compaction', () => {
  it('reopens consistent, restarts from its snapshot and tail, and keeps every acknowledged transaction', async () => {
    const rand = seededRandom(77);
    const kills = Number(process.env.CRASH_KILLS ?? 4);
    let compactedBefore = 0;
    for (let i = 0; i < kills; i++) {
      const acked = await runAndKill(8 + Math.floor(rand() * 8), Math.floor(rand() * 60));
      const store = await Store.open(dir, genesis);
      try {
        await verifyStore(store);
        const compacted = store.raft.compactedIndex;
        expect(compacted, `kill ${i}: compacted`).toBeGreaterThanOrEqual(compactedBefore);
        compactedBefore = compacted;
        expect(await store.raft.countAtOrBelow(compacted)).toBe(0);
        const node = await boot(store, genesis, key);
        try {
          expect(node.daemon.halted()).toBeUndefined();
          await until(() => store.head().applied >= node.daemon.consensus.status().commit, 10_000);
          for (const h of acked) {
            expect(await store.receipt(fromHex(h)), `kill ${i}: ${h} kept`).toBeDefined();
          }
          const nonce = await nextNonce(store.state, toHex(publicKeyOf(admin)));
          const r = await node.txs.submit(hospital(admin, nonce, genesis.chainId), [], 'commit');
          expect(r.status.status).toBe('committed');
        } finally {
          await node.stop();
        }
      } finally {
        await store.close();
      }
    }
    expect(compactedBefore).toBeGreaterThan(kills * 8);
  }, 180_000);
});
