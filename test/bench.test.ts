/**
 * `run bench` in a tiny configuration (two clients, two seconds a row, every workload, no kills,
 * no catch-up): it must drive real load through five daemons (and etcd, when Debian's
 * etcd-server is installed) and write JSON of the documented shape with non-zero throughput in
 * every row, leave BENCHMARKS.md alone when told to, and compare with an earlier run's JSON,
 * including one written before the workloads existed. Bad flags are usage errors (exit 2).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const dir = mkdtempSync(join(tmpdir(), 'ehr-bench-test-'));
const WORKLOADS = ['signups', 'reports', 'documents', 'prescriptions', 'reads', 'consents'];

let etcdHere = true;
try {
  execFileSync('etcd', ['--version'], { stdio: 'ignore' });
} catch {
  etcdHere = false;
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bench(args: string[], timeoutMs: number) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
    execFile(
      NODE,
      ['scripts/bench/bench.ts', ...args],
      { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: number }).code : 0;
        res({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

describe('run bench', () => {
  it('bad flags are usage errors, before anything starts', async () => {
    for (const args of [
      ['--workloads', 'signups,nope'],
      ['--clients', '1,0'],
      ['--clients', 'many'],
      ['--compare', join(dir, 'missing.json')],
    ]) {
      const r = await bench(args, 30_000);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/usage: node scripts\/bench\/bench\.ts/);
    }
  });

  it('a tiny run writes every row with throughput, etcd beside it, and compares with an old run', async () => {
    const json = join(dir, 'out', 'bench.json');
    const markdown = join(dir, 'BENCH.md');
    writeFileSync(markdown, '# old table\n\n## Where we stand\n\nnotes by people\n');
    // What a run before the workloads wrote (version 1): sign-ups keyed by client count.
    const old = join(dir, 'old.json');
    writeFileSync(
      old,
      JSON.stringify({
        when: '2026-11-25T13:41:10.190Z',
        ours: { throughput: { 2: { txPerSec: 40, p50ms: 20, p99ms: 50, acked: 320 } } },
        etcd: { throughput: { 2: { opsPerSec: 500, p50ms: 2, p99ms: 5 } } },
      }),
    );
    const r = await bench(
      [
        '--seconds',
        '2',
        '--clients',
        '2',
        '--kills',
        '0',
        '--catchup-txs',
        '0',
        '--json',
        json,
        '--markdown',
        markdown,
        '--compare',
        old,
        ...(etcdHere ? [] : ['--only', 'ours']),
      ],
      280_000,
    );
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8'));
    expect(out.version).toBe(2);
    expect(out.seconds).toBe(2);
    expect(out.loadAverage).toHaveLength(2);
    expect(out.rows.map((x: { workload: string }) => x.workload)).toEqual(WORKLOADS);
    for (const row of out.rows) {
      expect(row.clients).toBe(2);
      const o = row.ours;
      expect(o.ops, `${row.workload}: ${JSON.stringify(o)}`).toBeGreaterThan(0);
      expect(o.failures, `${row.workload}: ${o.errors}`).toBe(0);
      expect(o.opsPerSec).toBeGreaterThan(0);
      expect(o.p50ms).toBeGreaterThan(0);
      expect(o.p99ms).toBeGreaterThanOrEqual(o.p50ms);
      expect(o.cpuMsPerOpPerNode).toBeGreaterThan(0);
      expect(o.elections).toBeGreaterThanOrEqual(0);
      // Real payloads: a 64 KB document weighs more than 64 KiB sealed; a report about 1-2 KB.
      if (row.workload === 'documents') expect(o.bytesPerOp).toBeGreaterThan(64 * 1024);
      if (row.workload === 'reports') expect(o.bytesPerOp).toBeGreaterThan(1024);
      expect(o.bytesPerOp).toBeGreaterThan(100);
      if (etcdHere) {
        expect(row.etcd.opsPerSec).toBeGreaterThan(0);
        expect(row.etcd.failures).toBe(0);
        expect(row.etcd.valueBytes).toBe(o.bytesPerOp);
      } else {
        expect(row.etcd).toBeNull();
      }
    }
    // A dated copy beside it, for the next run's --compare.
    expect(readdirSync(join(dir, 'out')).filter((f) => /^bench-.*\.json$/.test(f))).toHaveLength(1);
    // The table replaced the top of the markdown; the people's notes below it stayed.
    const md = readFileSync(markdown, 'utf8');
    expect(md).not.toContain('# old table');
    expect(md).toMatch(/\| prescriptions \| 2 \| \d+/);
    expect(md).toContain('## Where we stand\n\nnotes by people\n');
    // The old run's sign-ups row compared with this one's.
    expect(r.stdout).toContain(`Against ${old} (2026-11-25T13:41:10.190Z)`);
    expect(r.stdout).toMatch(/\| signups \| 2 \| 40 -> \d+ \| [\d.]+ \| 20 -> [\d.]+ \|/);
  }, 300_000);
});
