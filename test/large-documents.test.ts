/**
 * Documents at the genesis maximum (8 MiB sealed) on five real daemons: ten patients upload one
 * each at the same time through different nodes, and every upload commits without an election
 * (the term stays where it was), then one more through the CLI. Before, consensus messages over
 * libp2p's 4 MiB stream buffer were cut and resent forever, leaders changed for minutes, and a
 * 5 MB body overflowed the gateway's hex pattern. Then (issue 12 item 1), one 8 MiB block
 * committed about every 10 s and the last uploads missed their deadline: gossip carried each
 * document about sixteen times, the ping monitor aborted every loaded connection (its adaptive
 * timeout sat at a 500 ms floor), and SHA-256 ran in JavaScript. Measured on a loaded two-core
 * machine since: all ten in about 56 s, p50 32 s, p99 56 s, no election.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Content, EhrClient, encodeContent, sealForReaders } from '@ehr/api';
import { generateSecretKey, publicKeyOf, saveKeyFile } from '@ehr/core';
import { DEFAULT_LIMITS } from '@ehr/ledger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileContent } from '../packages/cli/src/content.ts';
import { TestCluster, until } from './harness/cluster.ts';

const BIN = resolve(import.meta.dirname, '../packages/cli/src/bin.ts');
const MAX = DEFAULT_LIMITS.maxDocumentBytes;
const UPLOADS = 10;

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 5 });
  cluster.startAll();
  // Start-up time depends on the machine's load (over a minute on a busy CI box); what the
  // test bounds is the election once every node answers.
  await until(
    'every node answering',
    async () =>
      (await Promise.all(cluster.plan.nodes.map((n) => cluster.status(n.name)))).every(Boolean) ||
      undefined,
    180_000,
  );
  await until('a leader', () => cluster.leader(), 60_000);
}, 270_000);
afterAll(async () => {
  await cluster?.stop();
});

/** File bytes whose sealed body (as the client seals it for the patient alone) is exactly MAX. */
function atMax(make: (n: number) => Content, reader: Uint8Array): Content {
  let n = MAX - 4096;
  for (let i = 0; i < 4; i++) {
    const size = sealForReaders(encodeContent(make(n)), [reader]).payloadSize;
    if (size === MAX) return make(n);
    n += MAX - size;
  }
  throw new Error('could not size a document to the maximum');
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function terms(): Promise<number[]> {
  return Promise.all(
    cluster.plan.nodes.map(async (n) => (await cluster.status(n.name))?.term ?? -1),
  );
}

describe('documents at the genesis maximum', () => {
  it('ten concurrent uploads through five nodes all commit with no election', async () => {
    const names = cluster.plan.nodes.map((n) => n.name);
    const patients = Array.from({ length: UPLOADS }, (_, i) => {
      const secret = generateSecretKey();
      const via = names[i % names.length]!;
      // Commit mode waits up to two minutes: ten 8 MiB blocks go to four followers each.
      return {
        secret,
        via,
        ehr: new EhrClient(cluster.node(via).gatewayUrl, secret, { timeoutMs: 120_000 }),
      };
    });
    await Promise.all(patients.map((p, i) => p.ehr.patient.register({ name: `patient ${i}` })));
    // Everyone settled on one term before the burst.
    const before = await until(
      'all nodes on one term',
      async () => {
        const t = await terms();
        return t.every((x) => x > 0 && x === t[0]) ? t[0] : undefined;
      },
      30_000,
    );
    const docs = patients.map((p, i) =>
      atMax(
        (n) => ({
          type: 'file',
          name: `scan-${i}.pdf`,
          mediaType: 'application/pdf',
          data: bytes(n, i + 1),
        }),
        publicKeyOf(p.secret),
      ),
    );
    const latencies: number[] = [];
    const started = performance.now();
    const results = await Promise.all(
      patients.map(async (p, i) => {
        const t0 = performance.now();
        const r = await p.ehr.patient.attachDocument({ content: docs[i]! });
        latencies.push(performance.now() - t0);
        return r;
      }),
    );
    const wall = performance.now() - started;
    for (const r of results) expect(r.status).toBe('committed');
    // Every node holds every document, and nobody held an election meanwhile.
    const top = Math.max(...results.map((r) => r.height ?? 0));
    await until(
      'every node at the last upload',
      async () => {
        const st = await Promise.all(names.map((n) => cluster.status(n)));
        return st.every((s) => s && s.height >= top) || undefined;
      },
      60_000,
    );
    expect(await terms()).toEqual(names.map(() => before));
    latencies.sort((a, b) => a - b);
    const q = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]!;
    console.table({
      uploads: UPLOADS,
      'sealed bytes each': MAX,
      'wall s': (wall / 1000).toFixed(1),
      'p50 s': (q(0.5) / 1000).toFixed(1),
      'p99 s': (q(0.99) / 1000).toFixed(1),
      term: before,
    });
    for (const n of names)
      expect(cluster.log(n)).not.toMatch(/StreamBufferError|Read buffer overflow/);
  }, 420_000);

  it('the CLI attaches a file that seals to the maximum', async () => {
    const secret = generateSecretKey();
    const keyFile = join(cluster.dir, 'cli-patient.key.json');
    saveKeyFile(keyFile, { secretKey: secret, publicKey: publicKeyOf(secret) }, { dev: true });
    const rpc = cluster.node('node2').gatewayUrl;
    await new EhrClient(rpc, secret).patient.register({ name: 'cli patient' });
    const file = join(cluster.dir, 'scan.pdf');
    const content = atMax((n) => {
      writeFileSync(file, bytes(n, 99));
      return fileContent(file);
    }, publicKeyOf(secret));
    expect(content.type).toBe('file');
    const run = spawnSync(
      process.execPath,
      [
        BIN,
        '--rpc',
        rpc,
        '--key',
        keyFile,
        '--json',
        'patient',
        'document',
        'attach',
        '--file',
        file,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    // The client's outcome (TxOutcome): a refusal exits non-zero, so committed here means applied.
    const out = JSON.parse(run.stdout) as { status: string; height?: number; kind: string };
    expect(out).toMatchObject({ status: 'committed', height: expect.any(Number) });
  }, 180_000);
});
