/**
 * Load for fault tests: clients that each sign real EHR transactions (a new patient signing up,
 * with a sealed profile body) and submit them in commit mode to a live node, retrying the same
 * transaction elsewhere when a node fails. Every acknowledged hash is recorded.
 */
import { randomBytes } from 'node:crypto';
import { RpcClient } from '@ehr/api';
import {
  encodeSealed,
  encodeTx,
  generateSecretKey,
  publicKeyOf,
  seal,
  sha256,
  signTx,
  utf8,
} from '@ehr/core';
import type { TestCluster } from './cluster.ts';

export interface LoadResult {
  acknowledged: Set<string>;
  failures: number;
  latenciesMs: number[];
}

export function patientSignup(
  chainId: string,
  sk: Uint8Array = generateSecretKey(),
): { tx: Uint8Array; body: Uint8Array } {
  const body = encodeSealed(
    seal(utf8(`profile ${randomBytes(8).toString('hex')}`), [publicKeyOf(sk)]),
  );
  const tx = encodeTx(
    signTx(
      {
        chainId,
        author: publicKeyOf(sk),
        nonce: 0,
        kind: 'patient.register',
        // Signed ahead of the load: the longest deadline nodes admit.
        expires: Date.now() + 14 * 60_000,
        payload: {
          profileHash: sha256(body),
          profileSize: body.length,
          profileKey: new Uint8Array(80).fill(1),
        },
      },
      sk,
    ),
  );
  return { tx, body };
}

export async function runLoad(
  cluster: TestCluster,
  opts: {
    clients: number;
    until: () => boolean;
    nodes: () => string[];
    result?: LoadResult;
    /** Called with each acknowledged hash and the node that acknowledged it. */
    onAck?: (hash: string, node: string) => void;
    /** Where the next signed transaction comes from (default: sign a new sign-up now). */
    next?: () => { tx: Uint8Array; body: Uint8Array };
  },
): Promise<LoadResult> {
  // Pass `result` to watch progress while the load runs.
  const result: LoadResult = opts.result ?? {
    acknowledged: new Set(),
    failures: 0,
    latenciesMs: [],
  };
  const chainId = cluster.plan.chainId;
  await Promise.all(
    Array.from({ length: opts.clients }, async (_, c) => {
      let k = c;
      while (!opts.until()) {
        const { tx, body } = opts.next?.() ?? patientSignup(chainId);
        const t0 = performance.now();
        for (let attempt = 0; attempt < 20 && !opts.until(); attempt++) {
          const nodes = opts.nodes();
          const name = nodes[k++ % nodes.length]!;
          try {
            const r = await new RpcClient(cluster.node(name).gatewayUrl).submitEncoded(tx, {
              mode: 'commit',
              payloads: [body],
              timeoutMs: 5000,
            });
            if (r.status.status === 'committed') {
              result.acknowledged.add(r.hash);
              result.latenciesMs.push(performance.now() - t0);
              opts.onAck?.(r.hash, name);
              break;
            }
          } catch {
            result.failures++;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    }),
  );
  return result;
}

/** All transaction hashes in the chain as one node sees it, and whether any appears twice. */
export async function chainTxs(
  cluster: TestCluster,
  name: string,
): Promise<{ hashes: string[]; duplicates: number; height: number }> {
  const c = new RpcClient(cluster.node(name).gatewayUrl);
  const { height } = await c.status();
  const hashes: string[] = [];
  for (let h = 1; h <= height; h++) {
    const b = await c.call<{ txs: string[] }>('chain_getBlock', { height: h });
    hashes.push(...b.txs);
  }
  return { hashes, duplicates: hashes.length - new Set(hashes).size, height };
}
