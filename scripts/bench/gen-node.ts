/**
 * A real node daemon (`ehr node start`, its own process) on a chain built by gen-chain.ts: writes
 * the node directory beside the generated data directory (genesis, the generator's validator key,
 * a config on free ports), starts the daemon, measures the time from process start to serving
 * (the gateway answers `status`), reads its Prometheus metrics, and stops it. Used by soak.ts and
 * scale.ts; measures, asserts nothing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { publicKeyOf, saveKeyFile } from '@ehr/core';
import { genesisToJson } from '@ehr/ledger';
import { genGenesis, genNode } from './gen-chain.ts';

const BIN = resolve(import.meta.dirname, '../../packages/cli/src/bin.ts');

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

export interface NodeDirOptions {
  /** Verify the whole store before serving (the behaviour before the scrubber). */
  verifyAllAtStart?: boolean;
  scrub?: boolean;
  /** Extra YAML lines under the config (e.g. cache sizes). */
  extra?: string[];
}

/**
 * Writes `dir`/node.yaml for the generated store in `dataDir` (absolute). Returns the config path
 * and the ports.
 */
export async function nodeDir(dataDir: string, dir: string, o: NodeDirOptions = {}) {
  mkdirSync(dir, { recursive: true });
  const genesisFile = join(dir, 'genesis.json');
  if (!existsSync(genesisFile)) writeFileSync(genesisFile, genesisToJson(genGenesis()));
  const keyFile = join(dir, 'node.key.json');
  if (!existsSync(keyFile))
    saveKeyFile(
      keyFile,
      { secretKey: genNode.secret, publicKey: publicKeyOf(genNode.secret) },
      { dev: true, label: 'gen-chain validator' },
    );
  const [p2p, gateway, metrics] = [await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'node.yaml');
  writeFileSync(
    config,
    [
      'name: gen',
      `dataDir: ${JSON.stringify(resolve(dataDir))}`,
      'keyFile: node.key.json',
      'genesisFile: genesis.json',
      `p2p: { listen: [/ip4/127.0.0.1/tcp/${p2p}] }`,
      `gateway: { host: 127.0.0.1, port: ${gateway}, portal: false }`,
      `metrics: { host: 127.0.0.1, port: ${metrics} }`,
      // A single validator: nobody to wait for at start.
      'sync: { startupWaitMs: 0 }',
      `scrub: { enabled: ${o.scrub ?? true}, verifyAllAtStart: ${o.verifyAllAtStart ?? false} }`,
      'log: { level: warn }',
      ...(o.extra ?? []),
      '',
    ].join('\n'),
  );
  return {
    config,
    gatewayUrl: `http://127.0.0.1:${gateway}/`,
    metricsUrl: `http://127.0.0.1:${metrics}/metrics`,
  };
}

export interface RunningGenNode {
  proc: ChildProcess;
  gatewayUrl: string;
  metricsUrl: string;
  /** From spawn to the first answer of `status`, ms. */
  startupMs: number;
  log(): string;
  stop(): Promise<void>;
}

async function rpc(url: string, method: string): Promise<unknown> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: {} }),
    signal: AbortSignal.timeout(5000),
  });
  const j = (await r.json()) as { result?: unknown; error?: { message: string } };
  if (j.error) throw new Error(j.error.message);
  return j.result;
}

export const status = (url: string) => rpc(url, 'status') as Promise<Record<string, unknown>>;

/** Starts the daemon and waits (up to `timeoutMs`) until its gateway serves. */
export async function startGenNode(
  paths: Awaited<ReturnType<typeof nodeDir>>,
  timeoutMs = 1_800_000,
): Promise<RunningGenNode> {
  let out = '';
  const t0 = performance.now();
  const proc = spawn(process.execPath, [BIN, 'node', 'start', '--config', paths.config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  proc.stderr!.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  let exited = false;
  const done = new Promise<void>((r) =>
    proc.on('exit', () => {
      exited = true;
      r();
    }),
  );
  for (;;) {
    if (exited) throw new Error(`the node exited before serving:\n${out}`);
    if (performance.now() - t0 > timeoutMs) {
      proc.kill('SIGKILL');
      throw new Error(`the node did not serve within ${timeoutMs} ms:\n${out}`);
    }
    try {
      await status(paths.gatewayUrl);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const startupMs = performance.now() - t0;
  return {
    proc,
    gatewayUrl: paths.gatewayUrl,
    metricsUrl: paths.metricsUrl,
    startupMs,
    log: () => out,
    async stop() {
      if (!exited) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      await done;
      clearTimeout(t);
    },
  };
}

/** The node's process numbers from its Prometheus endpoint (prom-client's defaults + ours). */
export async function nodeMetrics(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

/** RSS of a process from /proc, MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}
