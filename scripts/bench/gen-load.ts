/**
 * Load on one node's gateway: `clients` concurrent clients, each submitting a real transaction
 * (a patient signing up with a sealed profile: Ed25519-signed, the body sealed to the patient)
 * in commit mode and waiting for it, until `stop()` says so. Transactions are signed a little
 * ahead by the load itself (a pool refilled between submissions). Records every commit latency
 * with its time, so a caller can take the p99 of any window.
 */
import { RpcClient } from '@ehr/api';
import { patientSignup } from '../../test/harness/load.ts';

export interface Load {
  /** [time (performance.now()), latency ms] of every committed transaction. */
  commits: [number, number][];
  errors: number;
  stop(): Promise<void>;
}

export function startLoad(url: string, chainId: string, clients: number): Load {
  const commits: [number, number][] = [];
  let errors = 0;
  let stopped = false;
  const pool: ReturnType<typeof patientSignup>[] = [];
  const next = () => pool.pop() ?? patientSignup(chainId);
  const refill = setInterval(() => {
    while (pool.length < clients * 2) pool.push(patientSignup(chainId));
  }, 50);
  const runners = Array.from({ length: clients }, async () => {
    const rpc = new RpcClient(url);
    while (!stopped) {
      const { tx, body } = next();
      const t = performance.now();
      try {
        const r = await rpc.submitEncoded(tx, {
          mode: 'commit',
          payloads: [body],
          timeoutMs: 30_000,
        });
        if (r.status.status === 'committed')
          commits.push([performance.now(), performance.now() - t]);
        else errors++;
      } catch {
        errors++;
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  });
  return {
    commits,
    get errors() {
      return errors;
    },
    async stop() {
      stopped = true;
      clearInterval(refill);
      await Promise.all(runners);
    },
  };
}

/** The q-quantile of latencies (ms) committed since `from` (performance.now()). */
export function quantileSince(commits: [number, number][], from: number, q: number): number | null {
  const xs = commits.filter(([t]) => t >= from).map(([, l]) => l);
  if (xs.length === 0) return null;
  xs.sort((a, b) => a - b);
  return Math.round(xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!);
}
