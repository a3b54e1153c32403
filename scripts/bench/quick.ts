/**
 * bench:quick: five daemons, N clients, a pool of pre-signed sign-ups submitted in commit mode;
 * prints tx/s, transactions per block, latency and CPU seconds per node (the number to watch when
 * optimizing: it does not depend on how busy the machine is). Writes .bench/quick.json.
 *
 *   node scripts/bench/quick.ts [--clients 64] [--txs 2000] [--batch 1]   (or CLIENTS=, TXS=)
 *
 * `--batch N`: each client sends N transactions per HTTP request, as one JSON-RPC batch array of
 * tx_submit calls (the gateway answers once all N are committed): what per-request cost is left.
 *
 * `--profile DIR`: every daemon runs under `node --cpu-prof`, stops gracefully after the load
 * (SIGTERM: the profile is written on exit) and leaves its .cpuprofile in DIR, beside
 * window.json (when the load ran); read them with `node scripts/bench/profile-top.ts DIR`.
 */

import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RpcClient, type SubmitResult } from '@ehr/api';
import { toBase64, toHex } from '@ehr/core';
import { TestCluster, until } from '../../test/harness/cluster.ts';
import { patientSignup } from '../../test/harness/load.ts';
import { intFlag, scriptArgs } from '../args.ts';

const USAGE = `
usage: node scripts/bench/quick.ts [flags]   (or: pnpm run bench:quick -- [flags])
  --clients N   concurrent clients (default 64; or CLIENTS)
  --txs N       transactions to commit (default 2000; or TXS)
  --batch N     transactions per request, as a JSON-RPC batch array (default 1)
  --profile DIR run the daemons under --cpu-prof, profiles into DIR
  --help        this text`;
const { values } = scriptArgs(USAGE, {
  clients: { type: 'string' },
  txs: { type: 'string' },
  profile: { type: 'string' },
  batch: { type: 'string' },
});
const CLIENTS = intFlag(USAGE, 'clients', values.clients, 64, { env: 'CLIENTS', min: 1 });
const TXS = intFlag(USAGE, 'txs', values.txs, 2000, { env: 'TXS', min: 1 });
const BATCH = intFlag(USAGE, 'batch', values.batch, 1, { min: 1, max: 100 });
const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

const cluster = await TestCluster.create({ validators: 5 });
if (values.profile) {
  mkdirSync(values.profile, { recursive: true });
  cluster.nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${resolve(values.profile)}`];
}
try {
  cluster.startAll();
  // Five daemons compiling their sources on a busy two-core machine can take a while.
  await until('a leader', () => cluster.leader(), 180_000);
  const names = cluster.plan.nodes.map((n) => n.name);
  const pool = Array.from({ length: TXS }, () => patientSignup(cluster.plan.chainId));
  const procs = (cluster as unknown as { procs: Map<string, ChildProcess> }).procs;
  const cpu0 = names.map((n) => cpuSeconds(procs.get(n)!.pid!));
  const s0 = (await cluster.status(names[0]!))!;
  const h0 = s0.height;
  const latencies: number[] = [];
  // Commit waits that timed out (the same bytes are submitted again: the node answers their
  // status, or waits once more); reported, since a healthy run has none.
  let timeouts = 0;
  let next = 0;
  const t0 = performance.now();
  // The load's window on the monotonic clock the profiles' timestamps use (microseconds).
  const window = { fromUs: Number(process.hrtime.bigint() / 1000n), toUs: 0 };
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, k) => {
      const rpc = new RpcClient(cluster.node(names[k % names.length]!).gatewayUrl);
      while (next < pool.length) {
        const batch = pool.slice(next, next + BATCH);
        next += batch.length;
        const t = performance.now();
        if (BATCH > 1) {
          await submitBatch(rpc.url, batch);
          for (let i = 0; i < batch.length; i++) latencies.push(performance.now() - t);
          continue;
        }
        const { tx, body } = batch[0]!;
        let r: Awaited<ReturnType<typeof rpc.submitEncoded>> | undefined;
        while (!r) {
          r = await rpc
            .submitEncoded(tx, { mode: 'commit', payloads: [body], timeoutMs: 20_000 })
            .catch((err: unknown) => {
              if ((err as { data?: { code?: string } }).data?.code !== 'TX_TIMEOUT') throw err;
              if (++timeouts > 500) throw err;
              return undefined;
            });
        }
        if (r.status.status !== 'committed')
          throw new Error(`not committed: ${JSON.stringify(r.status)}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  window.toUs = Number(process.hrtime.bigint() / 1000n);
  const s1 = (await cluster.status(names[0]!))!;
  const blocks = s1.height - h0;
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!);
  const out = {
    clients: CLIENTS,
    batch: BATCH,
    txs: TXS,
    txPerSec: Math.round(TXS / wall),
    txPerBlock: +(TXS / blocks).toFixed(1),
    p50ms: q(0.5),
    p99ms: q(0.99),
    // Elections while loaded: 0 unless a leader stalled past the election timeout.
    termsDuringLoad: s1.term - s0.term,
    commitTimeouts: timeouts,
    cpuSecondsPerNode: names.map((n, i) => +(cpuSeconds(procs.get(n)!.pid!) - cpu0[i]!).toFixed(1)),
    cpuMsPerTxPerNode: +(
      (names.reduce((a, n, i) => a + cpuSeconds(procs.get(n)!.pid!) - cpu0[i]!, 0) /
        names.length /
        TXS) *
      1000
    ).toFixed(2),
  };
  console.table([out]);
  mkdirSync('.bench', { recursive: true });
  writeFileSync('.bench/quick.json', `${JSON.stringify(out, null, 2)}\n`);
  // A graceful stop writes each daemon's profile (SIGKILL would lose it).
  if (values.profile) {
    writeFileSync(join(values.profile, 'window.json'), `${JSON.stringify(window)}\n`);
    await Promise.all(names.map((n) => cluster.kill(n, 'SIGTERM')));
  }
} finally {
  await cluster.stop();
}

/** N tx_submit calls (commit mode) in one JSON-RPC batch array; throws unless all committed. */
async function submitBatch(url: string, txs: { tx: Uint8Array; body: Uint8Array }[]) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(
      txs.map(({ tx, body }, id) => ({
        jsonrpc: '2.0',
        id,
        method: 'tx_submit',
        params: { tx: toHex(tx), bodies: [toBase64(body)], mode: 'commit', timeoutMs: 60_000 },
      })),
    ),
    signal: AbortSignal.timeout(90_000),
  });
  const out = (await res.json()) as { result?: SubmitResult; error?: { message: string } }[];
  for (const r of out) {
    if (r.error || r.result?.status.status !== 'committed')
      throw new Error(`not committed: ${JSON.stringify(r)}`);
  }
}
