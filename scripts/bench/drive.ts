/**
 * One timed phase of `run bench`: `clients` loops calling `op` until the time is up, each
 * operation's latency recorded, failures counted (and the first few distinct reasons kept), and
 * the CPU the given processes spent meanwhile (from /proc: user + system).
 */
import { readFileSync } from 'node:fs';

export interface PhaseResult {
  opsPerSec: number;
  ops: number;
  failures: number;
  /** A few distinct failure messages, to say what went wrong. */
  errors: string[];
  p50ms: number;
  p99ms: number;
  seconds: number;
  /** CPU milliseconds per operation per process (the daemons of the side measured). */
  cpuMsPerOpPerNode: number | null;
}

export const quantile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return +(s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN).toFixed(1);
};

/** CPU seconds (user + system) a process has used; null once it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

export async function drive(opts: {
  clients: number;
  seconds: number;
  /** One operation of client `c`, its `i`-th; resolves when done (committed, served). */
  op: (c: number, i: number) => Promise<void>;
  pids: number[];
}): Promise<PhaseResult> {
  const latencies: number[] = [];
  const errors = new Set<string>();
  let failures = 0;
  const cpu0 = opts.pids.map(cpuSeconds);
  const end = Date.now() + opts.seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.clients }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        const s = performance.now();
        try {
          await opts.op(c, i);
          latencies.push(performance.now() - s);
        } catch (err) {
          failures++;
          if (errors.size < 5) errors.add(String((err as Error).message ?? err).slice(0, 200));
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = opts.pids.map((p, k) => {
    const now = cpuSeconds(p);
    const was = cpu0[k];
    return now === null || was === null || was === undefined ? null : now - was;
  });
  const known = cpu.filter((x): x is number => x !== null);
  return {
    opsPerSec: Math.round(latencies.length / seconds),
    ops: latencies.length,
    failures,
    errors: [...errors],
    p50ms: quantile(latencies, 0.5),
    p99ms: quantile(latencies, 0.99),
    seconds: +seconds.toFixed(1),
    cpuMsPerOpPerNode:
      known.length > 0 && latencies.length > 0
        ? +((known.reduce((a, b) => a + b, 0) / known.length / latencies.length) * 1000).toFixed(2)
        : null,
  };
}
