/** Presents a running node to the gateway: node methods, role queries, audit, events. */
import type { BlockNotice, GatewayNode } from '@ehr/gateway';
import { type BlockEvent, metricsSummary, type RunningNode } from '@ehr/node';

export function gatewayNode(n: RunningNode): GatewayNode {
  const chainId = n.daemon.status().chainId;
  return {
    chainId,
    nodeId: n.daemon.nodeId,
    node: {
      status: () => n.daemon.status(),
      submit: (tx, payloads, mode, timeoutMs) => n.daemon.submit(tx, payloads, mode, timeoutMs),
      txStatus: (hash) => n.daemon.txStatus(hash),
      blockBytes: (h) => n.store.blockBytes(h),
      heightOf: (hash) => n.store.heightOf(hash),
      receipt: (hash) => n.store.receipt(hash),
      peers: () => n.host.peers(),
      metrics: () => ({ summary: metricsSummary(n.metrics), text: n.metrics.registry.render() }),
    },
    query: {
      state: n.store.state,
      now: () => Math.max(Date.now(), n.store.head().time),
      consensus: () => {
        const st = n.daemon.status();
        return { voters: st.validators, learners: st.observers };
      },
      payload: (hash) => n.store.payload(hash),
      pending: (key) =>
        n.daemon.mempool
          .pendingOf(key)
          .map((p) => ({ hash: p.hash, nonce: p.tx.nonce, expires: p.expires })),
      readBarrier: () => n.reads.wait(),
      recordAccess: (reader, target, purpose) => n.access.record(reader, target, purpose),
    },
    events: {
      onBlock(fn) {
        const l = (b: BlockEvent) =>
          fn({
            height: b.height,
            hash: b.hash,
            time: b.time,
            txs: b.receipts,
          } satisfies BlockNotice);
        n.daemon.on('block', l);
        return () => void n.daemon.off('block', l);
      },
      onTxStatus: (fn) => n.daemon.tracker.onChange(fn),
      txStatus: (hash) => n.daemon.txStatus(hash),
    },
  };
}
