/**
 * Soak: a real daemon on a generated chain (gen-chain.ts; generated first when the data
 * directory is empty) under a steady load of `--clients` clients for `--seconds`, printing every
 * `--every` seconds the node's RSS, V8 heap, event-loop delay (p99, prom-client's monitor), the
 * commit latency p99 of that interval, commits per second, the cache bytes and the scrubber's
 * progress; writes every sample as JSON. It measures, it asserts nothing.
 *
 *   npx --yes pnpm@12.4.2 run soak -- --dir .bench/soak/data --patients 2000 --seconds 300
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { intFlag, scriptArgs } from '../args.ts';
import { GEN_CHAIN_ID } from './gen-chain.ts';
import { quantileSince, startLoad } from './gen-load.ts';
import { nodeDir, nodeMetrics, rssMb, startGenNode, status } from './gen-node.ts';

const USAGE = `
usage: node scripts/bench/soak.ts [flags]   (or: pnpm run soak -- [flags])
  --dir D         generated data directory (default .bench/soak/data; generated if empty)
  --patients N    patients to generate when D is empty (default 1000, ~19 transactions each)
  --seconds N     how long to load (default 120)
  --every N       seconds between samples (default 5)
  --clients N     concurrent clients (default 64)
  --out FILE      JSON output (default .bench/soak.json)
  --help          this text`;
const { values } = scriptArgs(USAGE, {
  dir: { type: 'string' },
  patients: { type: 'string' },
  seconds: { type: 'string' },
  every: { type: 'string' },
  clients: { type: 'string' },
  out: { type: 'string' },
});
const dir = resolve(values.dir ?? '.bench/soak/data');
const patients = intFlag(USAGE, 'patients', values.patients, 1000, { min: 1 });
const seconds = intFlag(USAGE, 'seconds', values.seconds, 120, { min: 1 });
const every = intFlag(USAGE, 'every', values.every, 5, { min: 1 });
const clients = intFlag(USAGE, 'clients', values.clients, 64, { min: 1 });
const out = resolve(values.out ?? '.bench/soak.json');

let empty = true;
try {
  empty = readdirSync(dir).length === 0;
} catch {}
if (empty) {
  const { generateChain, genGenesis } = await import('./gen-chain.ts');
  const { Store } = await import('@ehr/store');
  mkdirSync(dir, { recursive: true });
  const store = await Store.open(dir, genGenesis());
  const t = performance.now();
  const r = await generateChain(store, { patients, reports: 10 });
  await store.close();
  console.log(
    `generated ${r.txs} transactions in ${((performance.now() - t) / 1000).toFixed(1)} s -> ${dir}`,
  );
}

const paths = await nodeDir(dir, join(dirname(dir), 'node'));
const node = await startGenNode(paths);
console.log(`node serving after ${(node.startupMs / 1000).toFixed(2)} s (pid ${node.proc.pid})`);
for (let i = 0; i < 150; i++) {
  if ((await status(node.gatewayUrl)).role === 'leader') break;
  await new Promise((r) => setTimeout(r, 200));
}
const load = startLoad(node.gatewayUrl, GEN_CHAIN_ID, clients);
const samples: Record<string, unknown>[] = [];
const t0 = performance.now();
console.log(
  't (s)  height  RSS MB  heap MB  loop p99 ms  commit p99 ms  tx/s  cache MB (state/status/mempool)  scrub',
);
try {
  let last = t0;
  let lastCount = 0;
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, every * 1000));
    const now = performance.now();
    const m = await nodeMetrics(node.metricsUrl);
    const s = await status(node.gatewayUrl);
    const count = load.commits.length;
    const cache = (c: string) => (m[`ehr_cache_bytes{cache="${c}"}`] ?? 0) / 1048576;
    const scrub = s.scrub as { round: number; phase: string; height: number; target: number };
    const sample = {
      t: Math.round((now - t0) / 1000),
      height: s.height as number,
      rssMb: Math.round(rssMb(node.proc.pid!)),
      heapMb: Math.round((m['nodejs_heap_size_used_bytes'] ?? 0) / 1048576),
      loopP99Ms: Math.round((m['nodejs_eventloop_lag_p99_seconds'] ?? 0) * 1000),
      commitP99Ms: quantileSince(load.commits, last, 0.99),
      txPerSec: Math.round((count - lastCount) / ((now - last) / 1000)),
      cacheMb: { state: cache('state'), txStatus: cache('tx_status'), mempool: cache('mempool') },
      scrub: `${scrub.round}:${scrub.phase} ${scrub.height}/${scrub.target}`,
      errors: load.errors,
      load: loadavg()[0],
    };
    samples.push(sample);
    console.log(
      [
        String(sample.t).padStart(5),
        String(sample.height).padStart(7),
        String(sample.rssMb).padStart(7),
        String(sample.heapMb).padStart(8),
        String(sample.loopP99Ms).padStart(12),
        String(sample.commitP99Ms ?? '-').padStart(14),
        String(sample.txPerSec).padStart(5),
        `  ${sample.cacheMb.state.toFixed(1)}/${sample.cacheMb.txStatus.toFixed(1)}/${sample.cacheMb.mempool.toFixed(1)}`.padEnd(
          34,
        ),
        sample.scrub,
      ].join(' '),
    );
    last = now;
    lastCount = count;
  }
} finally {
  await load.stop();
  await node.stop();
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    { dir, clients, seconds, startupMs: Math.round(node.startupMs), loadavg: loadavg(), samples },
    null,
    2,
  ),
);
console.log(`${load.commits.length} commits, ${load.errors} errors; samples -> ${out}`);
