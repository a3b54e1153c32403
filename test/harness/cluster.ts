/**
 * Test harness: a generated network of real daemon processes on 127.0.0.1, with free ports,
 * its own temp directory, and cleanup of every process it started. Given a NetnsLab, each node
 * runs in its own network namespace on its own addresses instead (see netns.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RpcClient } from '@ehr/api';
import { generateNetwork, type NetworkPlan } from '../../scripts/network.ts';
import type { NetnsLab } from './netns.ts';

const BIN = resolve(import.meta.dirname, '../../packages/cli/src/bin.ts');

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** A base port whose p2p, gateway and metrics ranges (base+1.., +1000, +2000) are all free. */
export async function freeBasePort(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768+): a port the OS hands to an outgoing connection
    // while a node is down would otherwise keep that node from listening again on restart.
    const base = 10_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: count }, (_, k) => [
      base + k + 1,
      base + 1000 + k + 1,
      base + 2000 + k + 1,
    ]).flat();
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error('no free port range found');
}

export class TestCluster {
  readonly dir: string;
  readonly plan: NetworkPlan;
  readonly netns: NetnsLab | undefined;
  private readonly procs = new Map<string, ChildProcess>();
  /** Node.js flags for every daemon started from now on (e.g. `--cpu-prof`). */
  nodeArgs: string[] = [];

  private constructor(dir: string, plan: NetworkPlan, netns: NetnsLab | undefined) {
    this.dir = dir;
    this.plan = plan;
    this.netns = netns;
  }

  /** With `netns`, node k+1 runs in the lab's namespace for `node${k+1}`. */
  static async create(opts: {
    validators: number;
    observers?: number;
    netns?: NetnsLab;
    /** YAML appended to every node's config (before EHR_E2E_CONFIG's). */
    config?: string;
  }): Promise<TestCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'ehr-e2e-'));
    const total = opts.validators + (opts.observers ?? 0);
    const lab = opts.netns;
    const plan = generateNetwork({
      dir: join(dir, 'net'),
      nodes: opts.validators,
      observers: opts.observers ?? 0,
      chainId: 'ehr-e2e',
      // Fresh namespaces have every port free; still below the ephemeral range (see above).
      basePort: lab ? 20_000 : await freeBasePort(total + 1),
      ...(lab ? { hosts: Array.from({ length: total }, (_, k) => lab.host(`node${k + 1}`)) } : {}),
    });
    // EHR_E2E_CONFIG: YAML appended to every node's config (e.g. a small consensus log tail,
    // to run a fault schedule with compaction and snapshots all the time).
    const extra = [opts.config, process.env['EHR_E2E_CONFIG']].filter(Boolean).join('\n');
    if (extra) for (const n of plan.nodes) appendFileSync(n.config, `${extra.trimEnd()}\n`);
    return new TestCluster(dir, plan, lab);
  }

  node(name: string) {
    const n = this.plan.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  client(name: string): RpcClient {
    return new RpcClient(this.node(name).gatewayUrl);
  }

  start(name: string, configFile = this.node(name).config): void {
    const log = join(this.dir, `${name}.log`);
    const fd = openSync(log, 'a');
    // EHR_E2E_CPU_PROF=<dir>: every daemon writes a CPU profile there when it stops (stop() then
    // ends them with SIGTERM, so they exit normally and the profile is written).
    const prof = process.env['EHR_E2E_CPU_PROF'];
    const argv = [
      process.execPath,
      ...this.nodeArgs,
      ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []),
      BIN,
      'node',
      'start',
      '--config',
      configFile,
    ];
    // `ip netns exec` execs the command in place, so the child's pid is the daemon's.
    const [cmd, args] = this.netns ? this.netns.command(name, argv) : [argv[0]!, argv.slice(1)];
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.procs.set(name, child);
  }

  log(name: string): string {
    try {
      return readFileSync(join(this.dir, `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  startAll(): void {
    for (const n of this.plan.nodes) this.start(n.name);
  }

  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
    this.procs.delete(name);
  }

  /** Freezes a node (SIGSTOP): its sockets stay open but nothing answers; resume() thaws it. */
  pause(name: string): void {
    const p = this.procs.get(name);
    if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGSTOP');
  }

  resume(name: string): void {
    const p = this.procs.get(name);
    if (p && p.exitCode === null) p.kill('SIGCONT');
  }

  /** Sends a signal to a running node (e.g. SIGHUP to reload its TLS certificate). */
  signal(name: string, signal: NodeJS.Signals): void {
    this.procs.get(name)?.kill(signal);
  }

  running(name: string): boolean {
    const p = this.procs.get(name);
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  async status(name: string) {
    try {
      return await this.client(name).status();
    } catch {
      return undefined;
    }
  }

  async leader(names = this.plan.nodes.map((n) => n.name)): Promise<string | undefined> {
    for (const name of names) {
      const s = await this.status(name);
      if (s?.role === 'leader') return name;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    const profiling =
      process.env['EHR_E2E_CPU_PROF'] || this.nodeArgs.some((a) => a.startsWith('--cpu-prof'));
    const signal = profiling ? 'SIGTERM' : 'SIGKILL';
    await Promise.all([...this.procs.keys()].map((n) => this.kill(n, signal)));
    if (process.env.KEEP_E2E) console.log(`kept ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
