/**
 * The shape of `.bench/bench.json` and its renderings: the one table of `run bench` (a row per
 * workload and client count, ehr-ledger beside etcd) and the comparison with an earlier run's JSON
 * (`--compare old.json`; a run from before the workloads existed counts as sign-ups).
 */
import type { PhaseResult } from './drive.ts';

export interface OursRow extends PhaseResult {
  /** Bytes the clients submitted per operation (transaction + bodies; for reads, the body served). */
  bytesPerOp: number;
  /** Elections (term changes) while the phase ran. */
  elections: number;
}

export interface EtcdRow extends PhaseResult {
  /** Size of each value put (matched to ehr-ledger's bytes per operation of the row). */
  valueBytes: number;
}

export interface Row {
  workload: string;
  clients: number;
  ours: OursRow | null;
  etcd: EtcdRow | null;
}

export interface BenchResult {
  version: 2;
  when: string;
  node: string;
  seconds: number;
  loadAverage: number[];
  rows: Row[];
  ours: {
    failoverMs: number[];
    rssMb: Record<string, number | null>;
    catchup: { txs: number; blocks: number; seconds: number; txPerSec: number } | null;
  } | null;
  etcd: { failoverMs: number[]; rssMb: Record<string, number | null> } | { skipped: string };
}

const ms = (r: PhaseResult | null) => (r ? `${r.p50ms} / ${r.p99ms}` : '-');
const num = (x: number | null | undefined) => (x === null || x === undefined ? '-' : String(x));

export function renderTable(result: BenchResult): string {
  const head = [
    '| workload | clients | ehr-ledger ops/s | p50 / p99 ms | CPU ms/op/node | bytes/op | etcd ops/s | p50 / p99 ms | CPU ms/op/node | ratio |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const rows = result.rows.map((r) => {
    const o = r.ours;
    const e = r.etcd;
    const ratio = o && e && e.opsPerSec > 0 ? (o.opsPerSec / e.opsPerSec).toFixed(2) : '-';
    const fails = o && o.failures > 0 ? ` (${o.failures} failed)` : '';
    const elections = o && o.elections > 0 ? `, ${o.elections} elections` : '';
    return `| ${r.workload} | ${r.clients} | ${num(o?.opsPerSec)}${fails}${elections} | ${ms(o)} | ${num(o?.cpuMsPerOpPerNode)} | ${num(o?.bytesPerOp)} | ${num(e?.opsPerSec)} | ${ms(e)} | ${num(e?.cpuMsPerOpPerNode)} | ${ratio} |`;
  });
  return [...head, ...rows].join('\n');
}

/** Rows of an older bench.json, whichever version wrote it. */
export function rowsOf(old: unknown): Row[] {
  const o = old as Partial<BenchResult> & {
    ours?: { throughput?: Record<string, { txPerSec: number; p50ms: number; p99ms: number }> };
    etcd?: { throughput?: Record<string, { opsPerSec: number; p50ms: number; p99ms: number }> };
  };
  if (Array.isArray(o.rows)) return o.rows;
  // Version 1 (before the workloads): sign-ups at 1 and 64 clients.
  const ours = o.ours?.throughput ?? {};
  const etcd = o.etcd?.throughput ?? {};
  return Object.keys(ours).map((c) => {
    const x = ours[c]!;
    const e = etcd[c];
    return {
      workload: 'signups',
      clients: Number(c),
      ours: { ...blank(), opsPerSec: x.txPerSec, p50ms: x.p50ms, p99ms: x.p99ms },
      etcd: e ? { ...blank(), valueBytes: 256, ...e } : null,
    } as Row;
  });
}

function blank() {
  return {
    ops: 0,
    failures: 0,
    errors: [],
    seconds: 0,
    cpuMsPerOpPerNode: null,
    bytesPerOp: 0,
    elections: 0,
  };
}

/** The rows both runs have: ops/s and p50 then and now, and now / then. */
export function renderCompare(old: unknown, now: BenchResult, oldName: string): string {
  const before = rowsOf(old);
  const lines = [
    `Against ${oldName}${(old as { when?: string }).when ? ` (${(old as { when: string }).when})` : ''}:`,
    '',
    '| workload | clients | ehr-ledger ops/s then -> now | x | p50 ms then -> now | CPU ms/op/node then -> now | etcd ops/s then -> now |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  let matched = 0;
  for (const r of now.rows) {
    const b = before.find((x) => x.workload === r.workload && x.clients === r.clients);
    if (!b) continue;
    matched++;
    const x =
      b.ours && r.ours && b.ours.opsPerSec > 0
        ? (r.ours.opsPerSec / b.ours.opsPerSec).toFixed(2)
        : '-';
    lines.push(
      `| ${r.workload} | ${r.clients} | ${num(b.ours?.opsPerSec)} -> ${num(r.ours?.opsPerSec)} | ${x} | ${num(b.ours?.p50ms)} -> ${num(r.ours?.p50ms)} | ${num(b.ours?.cpuMsPerOpPerNode)} -> ${num(r.ours?.cpuMsPerOpPerNode)} | ${num(b.etcd?.opsPerSec)} -> ${num(r.etcd?.opsPerSec)} |`,
    );
  }
  if (matched === 0) lines.push('| (no row in common) | | | | | | |');
  return lines.join('\n');
}
