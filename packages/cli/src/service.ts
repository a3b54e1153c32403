/** Presents a running node to the gateway as a NodeService. */
import type { NodeService } from '@ehr/gateway';
import type { RunningNode } from '@ehr/node';

export function nodeService(n: RunningNode): NodeService {
  return {
    status: () => n.daemon.status(),
    submit: (tx, payloads, mode, timeoutMs) => n.daemon.submit(tx, payloads, mode, timeoutMs),
    txStatus: (hash) => n.daemon.tracker.get(hash),
    blockBytes: (h) => n.store.blockBytes(h),
    heightOf: (hash) => n.store.heightOf(hash),
    receipt: (hash) => n.store.receipt(hash),
    peers: () => n.host.peers(),
    metricsText: () => n.metrics.registry.render(),
  };
}
