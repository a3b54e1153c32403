/**
 * A running node as the gateway uses it: node methods, role queries, audit, events. Only the
 * operations each JSON-RPC method needs, so the gateway never reaches into the node's parts.
 */

import { servedBlockBytes, servedHeaders, servedPayload } from '@ehr/store';
import { metricsSummary } from './metrics.ts';
import type { BlockEvent } from './ports.ts';
import type { RunningNode } from './start.ts';

export function gatewayPorts(n: RunningNode) {
  const { txs, store } = n;
  const chainId = n.status().chainId;
  return {
    chainId,
    nodeId: n.daemon.nodeId,
    node: {
      status: () => n.status(),
      submit: txs.submit.bind(txs),
      txStatus: (hash: string) => txs.txStatus(hash),
      // Verified before they are served (hash, Merkle root, signature; a body against its hash).
      blockBytes: (h: number) => servedBlockBytes(store, h),
      // Headers alone, each checked against the block-hash index (a page reads ~300 B a block).
      headers: (from: number, limit: number) => servedHeaders(store, from, limit),
      heightOf: (hash: Uint8Array) => store.heightOf(hash),
      receipt: (hash: Uint8Array) => store.receipt(hash),
      peers: () => n.host.peers(),
      metrics: () => ({ summary: metricsSummary(n.metrics), text: n.metrics.registry.render() }),
    },
    query: {
      state: store.state,
      now: () => Math.max(Date.now(), store.head().time),
      consensus: () => {
        const st = n.daemon.consensus.status();
        return { voters: st.voters, learners: st.learners };
      },
      payload: (hash: string) => servedPayload(store, hash),
      pending: (key: string) =>
        txs.mempool
          .pendingOf(key)
          .map((p) => ({ hash: p.hash, nonce: p.tx.nonce, expires: p.expires })),
      readBarrier: () => n.reads.wait(),
      recordAccess: (reader: string, target: string, purpose: string) =>
        n.access.record(reader, target, purpose),
    },
    // The gateway's own caches (the signed-read nonces) in ehr_cache_bytes{cache}.
    cacheBytes: (cache: string, bytes: number) => n.metrics.cacheBytes.set(bytes, { cache }),
    events: {
      onBlock(
        fn: (b: {
          height: number;
          hash: string;
          time: number;
          txs: BlockEvent['receipts'];
        }) => void,
      ) {
        return n.onBlock((b) =>
          fn({ height: b.height, hash: b.hash, time: b.time, txs: b.receipts }),
        );
      },
      onTxStatus: txs.tracker.onChange.bind(txs.tracker),
      txStatus: (hash: string) => txs.txStatus(hash),
    },
  };
}
