/**
 * bench: five ehr-ledger daemons against etcd 3.4 (five members) on this machine, side by side.
 * One table: a row per workload and client count (1, 64, 256 by default), each with committed
 * operations/s, p50/p99 latency and CPU per operation per node, etcd's columns beside it at the
 * same concurrency with values as large as what our clients submitted. Workloads: pre-signed
 * sign-ups (the load generator off the clock) and the realistic mix through the typed client,
 * signing and sealing inline (reports, documents, prescriptions, audited reads, consents; see
 * mix.ts). Then failover over several leader kills, RSS per node, catch-up of a node that was
 * down. Writes the table into BENCHMARKS.md and the numbers to .bench/bench.json (and a dated
 * copy, for `--compare`).
 *
 *   node scripts/bench/bench.ts [--seconds 8] [--clients 1,64,256] [--workloads signups,reports]
 *     [--kills 3] [--catchup-txs 3000] [--only ours|etcd] [--compare .bench/bench-OLD.json]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { RpcClient } from '@ehr/api';
import { TestCluster, until } from '../../test/harness/cluster.ts';
import { patientSignup, runLoad } from '../../test/harness/load.ts';
import { intFlag, scriptArgs, usageError } from '../args.ts';
import {
  type BenchResult,
  type EtcdRow,
  type OursRow,
  type Row,
  renderCompare,
  renderTable,
} from './bench-report.ts';
import { drive, quantile } from './drive.ts';
import { EtcdCluster, etcdMissing } from './etcd-side.ts';
import { MIX_DESCRIPTIONS, MIX_WORKLOADS, Mix, type MixWorkload } from './mix.ts';

const WORKLOADS = ['signups', ...MIX_WORKLOADS] as const;
type Workload = (typeof WORKLOADS)[number];

const USAGE = `
usage: node scripts/bench/bench.ts [flags]   (or: pnpm run bench -- [flags])
  --seconds N              seconds per row (default 8; or BENCH_SECONDS)
  --clients LIST           client counts, comma-separated (default 1,64,256; or BENCH_CLIENTS)
  --workloads LIST         of ${WORKLOADS.join(',')} (default all; or BENCH_WORKLOADS)
  --kills N                leader kills for the failover time (default 3, 0 skips; or BENCH_KILLS)
  --catchup-txs N          transactions a stopped node catches up on (default 3000, 0 skips; or BENCH_CATCHUP_TXS)
  --catchup-max-seconds N  bound on the catch-up phase (default 60; or BENCH_CATCHUP_MAX_SECONDS)
  --pool N                 pre-signed sign-ups (default 4000; or BENCH_POOL)
  --only ours|etcd         run one side only (or BENCH_ONLY)
  --json FILE              where the numbers go (default .bench/bench.json; a dated copy beside it)
  --markdown FILE|none     file whose table is rewritten (default BENCHMARKS.md)
  --compare FILE           an earlier run's JSON: print then -> now for the rows both have
  --help                   this text`;
const { values } = scriptArgs(USAGE, {
  seconds: { type: 'string' },
  clients: { type: 'string' },
  workloads: { type: 'string' },
  kills: { type: 'string' },
  'catchup-txs': { type: 'string' },
  'catchup-max-seconds': { type: 'string' },
  pool: { type: 'string' },
  only: { type: 'string' },
  json: { type: 'string' },
  markdown: { type: 'string' },
  compare: { type: 'string' },
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
const CLIENTS = (values.clients ?? process.env.BENCH_CLIENTS ?? '1,64,256').split(',').map((s) => {
  const n = Number(s.trim());
  if (!/^\d+$/.test(s.trim()) || n < 1 || n > 4096)
    usageError(USAGE, `--clients: expected counts from 1 to 4096 separated by commas, got "${s}"`);
  return n;
});
const SELECTED = (values.workloads ?? process.env.BENCH_WORKLOADS ?? WORKLOADS.join(','))
  .split(',')
  .map((s) => {
    const w = s.trim() as Workload;
    if (!WORKLOADS.includes(w))
      usageError(USAGE, `--workloads: expected some of ${WORKLOADS.join(',')}, got "${s}"`);
    return w;
  });
// Run in the listed order of WORKLOADS (consents last: sharing changes who later reports are sealed for).
const RUN = WORKLOADS.filter((w) => SELECTED.includes(w));
const JSON_OUT = values.json ?? '.bench/bench.json';
const MARKDOWN = values.markdown ?? 'BENCHMARKS.md';
let previous: unknown;
if (values.compare !== undefined) {
  try {
    previous = JSON.parse(readFileSync(values.compare, 'utf8'));
  } catch (err) {
    usageError(USAGE, `--compare: cannot read ${values.compare}: ${(err as Error).message}`);
  }
}
const log = (s: string) => process.stderr.write(`${s}\n`);
const rssMb = (pid: number | undefined) => {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
};
const key = (w: string, c: number) => `${w}@${c}`;

async function benchOurs(rows: Map<string, Row>) {
  const cluster = await TestCluster.create({ validators: 5 });
  const names = cluster.plan.nodes.map((n) => n.name);
  const procs = (cluster as unknown as { procs: Map<string, ChildProcess> }).procs;
  const pids = () => names.map((n) => procs.get(n)?.pid ?? -1);
  const down = new Set<string>();
  try {
    cluster.startAll();
    await until('a leader', () => cluster.leader(), 180_000);
    const term = async () => (await cluster.status((await cluster.leader())!))!.term;
    const mix = new Mix(cluster, log);
    for (const w of RUN) {
      if (w !== 'signups') await mix.ensure(Math.max(...CLIENTS));
      for (const clients of CLIENTS) {
        log(`ehr-ledger: ${w}, ${clients} client(s) for ${SECONDS} s ...`);
        const term0 = await term();
        let bytesPerOp: number;
        let r: Awaited<ReturnType<typeof drive>>;
        if (w === 'signups') {
          // Signed before the clock starts: on this one machine the load generator would
          // otherwise take CPU from the daemons it measures. If the pool runs dry they sign inline.
          const pool = Array.from({ length: clients === 1 ? 800 : POOL }, () =>
            patientSignup(cluster.plan.chainId),
          );
          bytesPerOp = Math.round(
            pool.reduce((a, p) => a + p.tx.length + p.body.length, 0) / pool.length,
          );
          const rpcs = names.map((n) => new RpcClient(cluster.node(n).gatewayUrl));
          r = await drive({
            clients,
            seconds: SECONDS,
            pids: pids(),
            op: async (c, i) => {
              const { tx, body } = pool.pop() ?? patientSignup(cluster.plan.chainId);
              const res = await rpcs[(c + i) % rpcs.length]!.submitEncoded(tx, {
                mode: 'commit',
                payloads: [body],
                timeoutMs: 20_000,
              });
              if (res.status.status !== 'committed')
                throw new Error(`not committed: ${JSON.stringify(res.status)}`);
            },
          });
        } else {
          const before = mix.submitted(clients);
          r = await drive({
            clients,
            seconds: SECONDS,
            pids: pids(),
            op: (c) => mix.op(w as MixWorkload, c),
          });
          const after = mix.submitted(clients);
          // A read submits nothing itself: it is matched to the report it opens.
          bytesPerOp =
            w === 'reads'
              ? (rows.get(key('reports', clients))?.ours?.bytesPerOp ?? 1600)
              : Math.round((after.bytes - before.bytes) / Math.max(1, after.txs - before.txs));
        }
        const ours: OursRow = { ...r, bytesPerOp, elections: (await term()) - term0 };
        rows.set(key(w, clients), { workload: w, clients, ours, etcd: null });
        log(`  ${JSON.stringify(ours)}`);
      }
    }
    const rss = Object.fromEntries(names.map((n) => [n, rssMb(procs.get(n)?.pid)]));
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
      // The next kill measures failover, not restart: a restarted member holds its engine until
      // its start-up catch-up is done, and two held members of five leave no quorum. Wait until
      // it has caught up with the others (bounded), as etcd's side waits for its member.
      const restarted = leader;
      await until(
        `${restarted} to catch up after its restart`,
        async () => {
          const mine = (await cluster.status(restarted))?.height ?? -1;
          const lead = await cluster.leader();
          const theirs = lead ? ((await cluster.status(lead))?.height ?? 0) : Infinity;
          return mine >= theirs;
        },
        120_000,
      ).catch(() =>
        log(`  (${restarted} had not caught up after 120 s; killing the next leader anyway)`),
      );
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (CATCHUP === 0) return { failoverMs: failovers, rssMb: rss, catchup: null };
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
    return { failoverMs: failovers, rssMb: rss, catchup };
  } finally {
    await cluster.stop();
  }
}

/** Value sizes when ehr-ledger did not run (--only etcd): what its operations weigh, roughly. */
const DEFAULT_BYTES: Record<Workload, number> = {
  signups: 700,
  reports: 1900,
  documents: 66_200,
  prescriptions: 1700,
  reads: 1900,
  consents: 600,
};
/** An access.record transaction, what an audited read adds to the chain. */
const AUDIT_BYTES = 250;

async function benchEtcd(rows: Map<string, Row>): Promise<BenchResult['etcd']> {
  const missing = etcdMissing();
  if (missing) return { skipped: missing };
  const etcd = await EtcdCluster.create();
  try {
    for (const w of RUN) {
      for (const clients of CLIENTS) {
        const row = rows.get(key(w, clients)) ?? { workload: w, clients, ours: null, etcd: null };
        const valueBytes = row.ours?.bytesPerOp || DEFAULT_BYTES[w];
        log(`etcd: ${w}, ${clients} client(s), ${valueBytes}-byte values for ${SECONDS} s ...`);
        const r = await drive({
          clients,
          seconds: SECONDS,
          pids: etcd.pids,
          op: etcd.op(w === 'reads' ? 'read' : 'put', valueBytes, AUDIT_BYTES),
        });
        const e: EtcdRow = { ...r, valueBytes };
        rows.set(key(w, clients), { ...row, etcd: e });
        log(`  ${JSON.stringify(e)}`);
      }
    }
    const rss = Object.fromEntries(etcd.pids.map((p, i) => [`n${i + 1}`, rssMb(p)]));
    const failovers: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      failovers.push(await etcd.failover(k));
      log(`  etcd failover ${k + 1}: ${failovers.at(-1)} ms`);
    }
    return { failoverMs: failovers, rssMb: rss };
  } finally {
    await etcd.stop();
  }
}

const rows = new Map<string, Row>();
const load0 = loadavg();
const ours = ONLY === 'etcd' ? null : await benchOurs(rows);
const etcd = ONLY === 'ours' ? { skipped: 'not run (--only ours)' } : await benchEtcd(rows);
const result: BenchResult = {
  version: 2,
  when: new Date().toISOString(),
  node: process.version,
  seconds: SECONDS,
  loadAverage: [load0[0]!, loadavg()[0]!].map((x) => +x.toFixed(1)),
  rows: [...rows.values()],
  ours,
  etcd,
};
mkdirSync(dirname(JSON_OUT), { recursive: true });
const text = `${JSON.stringify(result, null, 2)}\n`;
writeFileSync(JSON_OUT, text);
writeFileSync(JSON_OUT.replace(/\.json$/, '') + `-${result.when.replace(/[:.]/g, '-')}.json`, text);

const med = (xs: number[]) => quantile(xs, 0.5);
const e = etcd as {
  failoverMs?: number[];
  rssMb?: Record<string, number | null>;
  skipped?: string;
};
const extra = ours
  ? `
| | ehr-ledger | etcd |
|---|---:|---:|
| failover, median of ${KILLS} leader SIGKILLs (ms) | ${ours.failoverMs.length ? `${med(ours.failoverMs)} (${ours.failoverMs.join(', ')})` : '-'} | ${e.failoverMs?.length ? `${med(e.failoverMs)} (${e.failoverMs.join(', ')})` : '-'} |
| RSS per node after the load (MB) | ${Object.values(ours.rssMb).join(', ')} | ${e.rssMb ? Object.values(e.rssMb).join(', ') : '-'} |
${ours.catchup ? `| catch-up of a node down for ${ours.catchup.txs} transactions | ${ours.catchup.txPerSec} tx/s (${ours.catchup.blocks} blocks in ${ours.catchup.seconds} s) | |\n` : ''}`
  : '';
const workloadLines = RUN.map(
  (w) =>
    `- **${w}**: ${w === 'signups' ? 'a new patient signing up with a sealed profile, signed before the clock starts (raw `tx_submit`)' : MIX_DESCRIPTIONS[w as MixWorkload]}.`,
).join('\n');
const md = `# Benchmarks

Measured on this machine (2 cores, load average ${result.loadAverage.join(' -> ')}) by \`npx --yes pnpm@12.4.2 run bench\` on ${result.when}, Node ${result.node}, ${SECONDS} s per row.
Five ehr-ledger validators as local processes. Every operation waits until its transaction is
committed (JSON-RPC \`tx_submit\`, mode \`commit\`), except reads, which return once the node has
served the body and queued its \`access.record\` transaction. etcd 3.4, five members on loopback,
through the \`etcd3\` gRPC client (its best path), in the same run at the same concurrency: a put
of a value as large as what our clients submitted per operation (bytes/op), or for reads a
linearizable get of a report-sized value together with a ${AUDIT_BYTES}-byte audit put. CPU ms/op/node:
the daemons' CPU time (user + system) during the row over its operations, per node.
${e.skipped ? `\netcd: ${e.skipped}.\n` : ''}
${workloadLines}

${renderTable(result)}
${extra}
Reproduce: \`npx --yes pnpm@12.4.2 install && npx --yes pnpm@12.4.2 run bench\` (needs \`etcd\` from
Debian's etcd-server for the etcd columns; \`run bench -- --help\` lists the flags, e.g.
\`--seconds 4 --clients 1,64 --workloads signups,reports --kills 0 --catchup-txs 0\`; \`--compare
.bench/bench-<date>.json\` prints then -> now). Raw numbers: \`.bench/bench.json\`.
`;
console.log(md);
if (previous !== undefined) console.log(renderCompare(previous, result, values.compare!));
if (MARKDOWN !== 'none' && ours) {
  // The analysis below the tables is written by people: keep it across runs.
  let notes = '';
  try {
    const old = readFileSync(MARKDOWN, 'utf8');
    const at = old.indexOf('\n## Where we stand');
    if (at >= 0) notes = old.slice(at);
  } catch {}
  writeFileSync(MARKDOWN, md + notes);
}
