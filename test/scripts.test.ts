/**
 * Every root script takes its flags the way the READMEs write them, through pnpm 12, which
 * passes the `--` after `run X` on to the script: `npx --yes pnpm@12.4.2 run X -- --flag`.
 * Flags must take effect (a 3-node network has 3 nodes, a seed picks its schedule), and an
 * unknown flag is an error (exit 2), never ignored. Cheap runs only: --help, a dry run, or a
 * tiny network in a temp directory on free ports (never the fixed ports of the default `run up`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeBasePort } from './harness/cluster.ts';

const ROOT = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'ehr-scripts-'));
let runDir: string | undefined;

// pnpm 12.4.2 as `npx --yes pnpm@12.4.2` runs it, located once: npx itself costs seconds a call.
let pnpm: string;
beforeAll(async () => {
  pnpm = await new Promise<string>((res, rej) =>
    execFile(
      'npx',
      ['--yes', '-p', 'pnpm@12.4.2', 'sh', '-c', 'command -v pnpm'],
      { cwd: ROOT, timeout: 120_000 },
      (err, out) => (err ? rej(err) : res(out.trim())),
    ),
  );
}, 130_000);

afterAll(async () => {
  // Whatever happened, stop the tiny network before removing its directory.
  if (runDir && existsSync(join(runDir, 'network')))
    await pnpmRun(['down', '--', '--run-dir', runDir]);
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npx --yes pnpm@12.4.2 run <args>` in the workspace, as a user types it (same pnpm). */
function pnpmRun(args: string[], timeoutMs = 60_000): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('EHR_') && !k.startsWith('npm_')) env[k] = v;
  }
  return new Promise((res) => {
    execFile(
      pnpm,
      ['run', ...args],
      { cwd: ROOT, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        res({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

const NO_FLAG_SCRIPTS = [
  'up',
  'down',
  'cluster',
  'network',
  'demo',
  'chaos',
  'bench',
  'bench:quick',
  'bench:core',
  'bench:consensus',
  'bench:ledger',
  'soak',
  'scale',
  'sim:consensus',
  'api-doc',
];

describe('root scripts through pnpm', () => {
  it.each(NO_FLAG_SCRIPTS)(
    'run %s -- --help prints its usage; an unknown flag is exit 2',
    async (s) => {
      const help = await pnpmRun([s, '--', '--help']);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/usage: node \S+\.ts/);
      const bad = await pnpmRun([s, '--', '--no-such-flag']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/error: Unknown option '--no-such-flag'/);
      expect(bad.stderr).toMatch(/usage: /);
    },
    60_000,
  );

  it('run ehr -- --rpc URL ... reaches the CLI with its options (a leading -- is dropped)', async () => {
    const help = await pnpmRun(['ehr', '--', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: ehr/);
    const url = `http://127.0.0.1:${(await freeBasePort(1)) + 1}/`;
    const r = await pnpmRun(['ehr', '--', '--rpc', url, 'chain', 'status']);
    expect(r.stderr).not.toMatch(/unknown command/);
    expect(r.stderr).toContain(`cannot reach the node at ${url}`);
    expect(r.code).toBe(3);
    const bad = await pnpmRun(['ehr', '--', '--no-such-flag', 'chain', 'status']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown option '--no-such-flag'/);
  }, 60_000);

  it('run chaos -- --seed N --dry-run: the same seed plays the same schedule, another seed another', async () => {
    const dry = (seed: string) =>
      pnpmRun(['chaos', '--', '--seed', seed, '--seconds', '30', '--dry-run']);
    const [a, b, c] = await Promise.all([dry('42'), dry('42'), dry('43')]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/chaos: seed 42, 30 s/);
    const schedule = (r: Run) => r.stdout.split('\n').filter((l) => / ms {2}/.test(l));
    expect(schedule(a).length).toBeGreaterThan(3);
    expect(schedule(b)).toEqual(schedule(a));
    expect(schedule(c)).not.toEqual(schedule(a));
    const bad = await pnpmRun(['chaos', '--', '--seed', 'soon', '--dry-run']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--seed: expected an integer/);
  }, 60_000);

  it('run sim:consensus -- --schedules N --from S runs exactly those schedules', async () => {
    const r = await pnpmRun(['sim:consensus', '--', '--schedules', '2', '--from', '7']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/done: 2 schedules \(.*\), \d+ steps, .*0 violations/);
  }, 60_000);

  it('run network -- --nodes 2 --dir D --base-port P writes that network; bad values are exit 2', async () => {
    const net = join(dir, 'net');
    const base = await freeBasePort(2);
    const r = await pnpmRun([
      'network',
      '--',
      '--nodes',
      '2',
      '--dir',
      net,
      '--base-port',
      String(base),
      '--chain-id',
      'flags-test',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(readFileSync(join(net, 'network.json'), 'utf8')) as {
      chainId: string;
      nodes: { gatewayPort: number }[];
    };
    expect(plan.chainId).toBe('flags-test');
    expect(plan.nodes.map((n) => n.gatewayPort)).toEqual([base + 1001, base + 1002]);
    const again = await pnpmRun(['network', '--', '--dir', net]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/exists; pass --force/);
    const bad = await pnpmRun(['network', '--', '--nodes', 'three']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--nodes: expected an integer from 1 to 99, got "three"/);
  }, 60_000);

  it('run demo -- --network D reads that network', async () => {
    const missing = join(dir, 'no-network-here');
    const r = await pnpmRun(['demo', '--', '--network', missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no network at ${missing}`);
  }, 60_000);

  it('run up -- --nodes 3 --fresh starts three nodes; cluster status/logs and down follow --run-dir', async () => {
    runDir = join(dir, 'run');
    const base = await freeBasePort(3);
    const up = await pnpmRun(
      ['up', '--', '--nodes', '3', '--fresh', '--base-port', String(base), '--run-dir', runDir],
      90_000,
    );
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/generated a 3-node development network/);
    const rows = (r: Run) => r.stdout.split('\n').filter((l) => /^node\d /.test(l));
    expect(rows(up)).toHaveLength(3);
    expect(rows(up).filter((l) => / leader /.test(l))).toHaveLength(1);
    expect(up.stdout).toContain(`http://127.0.0.1:${base + 1003}/`);
    // Asking for another size without --fresh says so instead of starting the old one silently.
    const other = await pnpmRun(['up', '--', '--nodes', '4', '--run-dir', runDir]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/holds a 3-node network .* add --fresh/);
    const status = await pnpmRun(['cluster', '--', 'status', '--run-dir', runDir]);
    expect(rows(status)).toHaveLength(3);
    const logs = await pnpmRun(['cluster', '--', 'logs', 'node2', '--run-dir', runDir]);
    expect(logs.stdout).toContain(`==> ${join(runDir, 'node2.log')}`);
    expect(logs.stdout).not.toContain('node1.log');
    const misplaced = await pnpmRun(['down', '--', '--nodes', '3', '--run-dir', runDir]);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toMatch(/--nodes is a flag of up, not of down/);
    const down = await pnpmRun(['down', '--', '--run-dir', runDir]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/stopped 3 node\(s\)/);
  }, 180_000);
});
