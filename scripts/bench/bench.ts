/**
 * bench: five ehr-ledger daemons against etcd 3.4 (five members) on this machine, side by side.
 * Committed transactions/s and p50/p99 commit latency at 1 and 64 clients (each client signs
 * real EHR transactions and waits for commitment), failover time over several leader kills,
 * catch-up rate of a node that was down, RSS per node. Writes BENCHMARKS.md and .bench/bench.json.
 *
 *   node scripts/bench/bench.ts [--seconds 8] [--kills 3] [--catchup-txs 3000] [--only ours|etcd]
 *   (or BENCH_SECONDS, BENCH_KILLS, BENCH_CATCHUP_TXS, BENCH_CATCHUP_MAX_SECONDS, BENCH_POOL, BENCH_ONLY)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcClient } from '@ehr/api';
import { TestCluster, until } from '../../test/harness/cluster.ts';
import { patientSignup, runLoad } from '../../test/harness/load.ts';
import { intFlag, scriptArgs, usageError } from '../args.ts';

const USAGE = `
usage: node scripts/bench/bench.ts [flags]   (or: pnpm run bench -- [flags])
  --seconds N              seconds per load phase (default 8; or BENCH_SECONDS)
  --kills N                leader kills for the failover time (default 3; or BENCH_KILLS)
  --catchup-txs N          transactions a stopped node catches up on (default 3000; or BENCH_CATCHUP_TXS)
  --catchup-max-seconds N  bound on the catch-up phase (default 60; or BENCH_CATCHUP_MAX_SECONDS)
  --pool N                 pre-signed transactions (default 4000; or BENCH_POOL)
  --only ours|etcd         run one side only (or BENCH_ONLY)
  --help                   this text`;
const { values } = scriptArgs(USAGE, {
  seconds: { type: 'string' },
  kills: { type: 'string' },
  'catchup-txs': { type: 'string' },
  'catchup-max-seconds': { type: 'string' },
  pool: { type: 'string' },
  only: { type: 'string' },
});
const SECONDS = intFlag(USAGE, 'seconds', values.seconds, 8, { env: 'BENCH_SECONDS', min: 1 });
const KILLS = intFlag(USAGE, 'kills', values.kills, 3, { env: 'BENCH_KILLS' });
const CATCHUP = intFlag(USAGE, 'catchup-txs', values['catchup-txs'], 3000, {
  env: 'BENCH_CATCHUP_TXS',
});
const CATCHUP_MAX_SECONDS = intFlag(
  USAGE,
  'catchup-max-seconds',
  values['catchup-max-seconds'],
  60,
  { env: 'BENCH_CATCHUP_MAX_SECONDS', min: 1 },
);
const POOL = intFlag(USAGE, 'pool', values.pool, 4000, { env: 'BENCH_POOL', min: 1 });
const ONLY = values.only ?? process.env.BENCH_ONLY;
if (ONLY !== undefined && ONLY !== 'ours' && ONLY !== 'etcd')
  usageError(USAGE, `--only: expected ours or etcd, got "${ONLY}"`);
const log = (s: string) => process.stderr.write(`${s}\n`);
const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return +(s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN).toFixed(1);
};
const rssMb = (pid: number | undefined) => {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
};

async function benchOurs() {
  const cluster = await TestCluster.create({ validators: 5 });
  const names = cluster.plan.nodes.map((n) => n.name);
  const down = new Set<string>();
  try {
    cluster.startAll();
    await until('a leader', () => cluster.leader(), 60_000);
    const throughput: Record<
      number,
      { txPerSec: number; p50ms: number; p99ms: number; acked: number }
    > = {};
    for (const clients of [1, 64]) {
      // Clients sign real transactions, but before the clock starts: on this one machine the
      // load generator would otherwise take CPU from the five daemons it measures (etcd's
      // client has next to nothing to do). If the pool runs dry they sign inline.
      const pool = Array.from({ length: clients === 1 ? 800 : POOL }, () =>
        patientSignup(cluster.plan.chainId),
      );
      log(`ehr-ledger: ${clients} client(s) for ${SECONDS} s (${pool.length} pre-signed) ...`);
      const end = Date.now() + SECONDS * 1000;
      const t0 = performance.now();
      const r = await runLoad(cluster, {
        clients,
        until: () => Date.now() > end,
        nodes: () => names,
        next: () => pool.pop() ?? patientSignup(cluster.plan.chainId),
      });
      const wall = (performance.now() - t0) / 1000;
      throughput[clients] = {
        txPerSec: Math.round(r.acknowledged.size / wall),
        p50ms: q(r.latenciesMs, 0.5),
        p99ms: q(r.latenciesMs, 0.99),
        acked: r.acknowledged.size,
      };
      log(`  ${JSON.stringify(throughput[clients])}`);
    }
    const rss = Object.fromEntries(
      names.map((n) => [
        n,
        rssMb((cluster as unknown as { procs: Map<string, ChildProcess> }).procs.get(n)?.pid),
      ]),
    );
    const failovers: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const leader = (await cluster.leader())!;
      const killedAt = performance.now();
      await cluster.kill(leader);
      down.add(leader);
      const live = names.filter((n) => !down.has(n));
      // Failover = SIGKILL of the leader until the next write is accepted (committed).
      for (let i = 0; ; i++) {
        const { tx, body } = patientSignup(cluster.plan.chainId);
        try {
          const res = await new RpcClient(
            cluster.node(live[i % live.length]!).gatewayUrl,
          ).submitEncoded(tx, { mode: 'commit', payloads: [body], timeoutMs: 1000 });
          if (res.status.status === 'committed') break;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      failovers.push(Math.round(performance.now() - killedAt));
      log(`  failover ${k + 1}: ${failovers.at(-1)} ms`);
      cluster.start(leader);
      down.delete(leader);
      await new Promise((r) => setTimeout(r, 2000));
    }
    // Catch-up: a node down while CATCHUP transactions commit, then restarted.
    const leaderNow = await cluster.leader();
    const lagger = names.find((x) => x !== leaderNow)!;
    await cluster.kill(lagger);
    down.add(lagger);
    log(`catch-up: ${lagger} down while ${CATCHUP} transactions commit ...`);
    // Progress is watched through `live`; bounded in time too, for slow machines.
    const live = { acknowledged: new Set<string>(), failures: 0, latenciesMs: [] as number[] };
    const stopAt = Date.now() + CATCHUP_MAX_SECONDS * 1000;
    await runLoad(cluster, {
      clients: 64,
      until: () => live.acknowledged.size >= CATCHUP || Date.now() > stopAt,
      nodes: () => names.filter((x) => !down.has(x)),
      result: live,
    });
    const n = live.acknowledged.size;
    const target = (await cluster.status(names.find((x) => !down.has(x))!))!.height;
    const t0 = performance.now();
    cluster.start(lagger);
    await until(
      'catch-up',
      async () => ((await cluster.status(lagger))?.height ?? 0) >= target,
      600_000,
    );
    const secs = (performance.now() - t0) / 1000;
    const catchup = {
      txs: n,
      blocks: target,
      seconds: +secs.toFixed(1),
      txPerSec: Math.round(n / secs),
    };
    log(`  ${JSON.stringify(catchup)}`);
    return { throughput, failoverMs: failovers, rssMb: rss, catchup };
  } finally {
    await cluster.stop();
  }
}

async function benchEtcd() {
  try {
    execFileSync('etcd', ['--version'], { stdio: 'ignore' });
  } catch {
    return { skipped: 'etcd is not installed (apt-get install -y etcd-server)' };
  }
  const { Etcd3 } = await import('etcd3');
  const dir = mkdtempSync(join(tmpdir(), 'ehr-etcd-'));
  const base = 23000 + Math.floor(Math.random() * 5000);
  const cluster = Array.from(
    { length: 5 },
    (_, i) => `n${i + 1}=http://127.0.0.1:${base + 100 + i}`,
  ).join(',');
  const procs = new Map<number, ChildProcess>();
  const start = (i: number, state: 'new' | 'existing') => {
    procs.set(
      i,
      spawn(
        'etcd',
        [
          '--name',
          `n${i + 1}`,
          '--data-dir',
          join(dir, `n${i + 1}`),
          '--listen-peer-urls',
          `http://127.0.0.1:${base + 100 + i}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${base + 100 + i}`,
          '--listen-client-urls',
          `http://127.0.0.1:${base + i}`,
          '--advertise-client-urls',
          `http://127.0.0.1:${base + i}`,
          '--initial-cluster',
          cluster,
          '--initial-cluster-state',
          state,
          '--log-level',
          'error',
        ],
        { stdio: 'ignore' },
      ),
    );
  };
  for (let i = 0; i < 5; i++) start(i, 'new');
  const hosts = Array.from({ length: 5 }, (_, i) => `127.0.0.1:${base + i}`);
  const client = new Etcd3({ hosts });
  try {
    await until(
      'etcd',
      async () => {
        await client.put('ping').value('1');
        return true;
      },
      30_000,
    );
    const value = 'x'.repeat(256);
    const throughput: Record<number, { opsPerSec: number; p50ms: number; p99ms: number }> = {};
    for (const clients of [1, 64]) {
      log(`etcd: ${clients} client(s) for ${SECONDS} s ...`);
      const lat: number[] = [];
      const end = Date.now() + SECONDS * 1000;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          for (let i = 0; Date.now() < end; i++) {
            const s = performance.now();
            await client.put(`bench/${c}/${i}`).value(value);
            lat.push(performance.now() - s);
          }
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      throughput[clients] = {
        opsPerSec: Math.round(lat.length / wall),
        p50ms: q(lat, 0.5),
        p99ms: q(lat, 0.99),
      };
      log(`  ${JSON.stringify(throughput[clients])}`);
    }
    const rss = Object.fromEntries([...procs].map(([i, p]) => [`n${i + 1}`, rssMb(p.pid)]));
    const failovers: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const status = await Promise.all(
        hosts.map(async (_h, i) => {
          const c = new Etcd3({ hosts: [hosts[i]!] });
          try {
            const s = await c.maintenance.status();
            return s.leader === s.header.member_id ? i : -1;
          } finally {
            c.close();
          }
        }),
      );
      const leader = status.find((x) => x >= 0)!;
      const killedAt = performance.now();
      procs.get(leader)!.kill('SIGKILL');
      const others = new Etcd3({ hosts: hosts.filter((_h, i) => i !== leader) });
      for (;;) {
        try {
          await Promise.race([
            others.put('failover').value(String(k)),
            new Promise((_r, rej) => setTimeout(() => rej(new Error('t')), 1000)),
          ]);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      failovers.push(Math.round(performance.now() - killedAt));
      others.close();
      log(`  etcd failover ${k + 1}: ${failovers.at(-1)} ms`);
      start(leader, 'existing');
      await new Promise((r) => setTimeout(r, 3000));
    }
    return { throughput, failoverMs: failovers, rssMb: rss };
  } finally {
    client.close();
    for (const p of procs.values()) p.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

const ours = ONLY === 'etcd' ? null : await benchOurs();
const etcd = ONLY === 'ours' ? { skipped: 'not run (--only ours)' } : await benchEtcd();
if (!ours) {
  console.log(JSON.stringify(etcd, null, 2));
  process.exit(0);
}
const med = (xs: number[]) => q(xs, 0.5);
const result = {
  when: new Date().toISOString(),
  node: process.version,
  seconds: SECONDS,
  ours,
  etcd,
};
mkdirSync('.bench', { recursive: true });
writeFileSync('.bench/bench.json', `${JSON.stringify(result, null, 2)}\n`);
const e = etcd as {
  throughput?: Record<number, { opsPerSec: number; p50ms: number; p99ms: number }>;
  failoverMs?: number[];
  skipped?: string;
};
const rows = [1, 64].map((c) => {
  const o = ours.throughput[c]!;
  const t = e.throughput?.[c];
  return `| ${c} | ${o.txPerSec} | ${o.p50ms} / ${o.p99ms} | ${t ? t.opsPerSec : '-'} | ${t ? `${t.p50ms} / ${t.p99ms}` : '-'} | ${t ? (o.txPerSec / t.opsPerSec).toFixed(2) : '-'} |`;
});
const md = `# Benchmarks

Measured on this machine (2 cores) by \`npx --yes pnpm@12.4.2 run bench\` on ${result.when}, Node ${result.node}.
Five ehr-ledger validators as local processes; each client submits a real EHR transaction (a
patient signing up with a sealed profile, signed before the clock starts so the load generator
does not take the daemons' CPU) and waits until it is committed (JSON-RPC \`tx_submit\`, mode
\`commit\`). etcd 3.4, five members on loopback, 256-byte puts through the
\`etcd3\` gRPC client (its best path), in the same run. ${e.skipped ? `etcd: ${e.skipped}.` : ''}

| clients | ehr-ledger tx/s | p50 / p99 ms | etcd puts/s | p50 / p99 ms | ratio |
|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

| | ehr-ledger | etcd |
|---|---:|---:|
| failover, median of ${KILLS} leader SIGKILLs (ms) | ${med(ours.failoverMs)} (${ours.failoverMs.join(', ')}) | ${e.failoverMs ? `${med(e.failoverMs)} (${e.failoverMs.join(', ')})` : '-'} |
| RSS per node after the load (MB) | ${Object.values(ours.rssMb).join(', ')} | ${(etcd as { rssMb?: Record<string, number> }).rssMb ? Object.values((etcd as { rssMb: Record<string, number> }).rssMb).join(', ') : '-'} |
| catch-up of a node down for ${ours.catchup.txs} transactions | ${ours.catchup.txPerSec} tx/s (${ours.catchup.blocks} blocks in ${ours.catchup.seconds} s) | |

Reproduce: \`npx --yes pnpm@12.4.2 install && npx --yes pnpm@12.4.2 run bench\` (needs \`etcd\` from
Debian's etcd-server for the etcd columns; \`run bench -- --help\` lists the flags that adjust
the run, e.g. \`--seconds\`, \`--kills\`, \`--catchup-txs\`). Raw numbers: \`.bench/bench.json\`.
`;
// The analysis below the tables is written by people: keep it across runs.
let notes = '';
try {
  const old = readFileSync('BENCHMARKS.md', 'utf8');
  const at = old.indexOf('\n## Where we stand');
  if (at >= 0) notes = old.slice(at);
} catch {}
writeFileSync('BENCHMARKS.md', md + notes);
console.log(md);
