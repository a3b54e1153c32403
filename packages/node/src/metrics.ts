/**
 * The node's metrics through prom-client (the Prometheus client most Node services use; also
 * gives the process and event-loop metrics: CPU, memory, handles, GC, event-loop lag). Each node
 * has its own prom-client Registry, so several nodes in one process (the tests) never share a
 * value. The thin wrappers keep the node's call shape (`gauge.set(v, labels)`,
 * `counter.inc(by, labels)`) and remember the last values they were given, so the JSON summary
 * (`metricsSummary`, the gateway's `node_metrics`) reads them synchronously; the exposition text
 * is prom-client's (`registry.render()`, async because its collectors may be).
 */
import * as prom from 'prom-client';

type Labels = Record<string, string>;

const keyOf = (labels: Labels | undefined): string =>
  labels ? JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))) : '';

export class Gauge {
  readonly metric: prom.Gauge;
  protected readonly last = new Map<string, number>();
  constructor(registry: prom.Registry, name: string, help: string, labelNames: string[] = []) {
    this.metric = new prom.Gauge({ name, help, labelNames, registers: [registry] });
  }
  set(value: number, labels?: Labels): void {
    if (labels) this.metric.set(labels, value);
    else this.metric.set(value);
    this.last.set(keyOf(labels), value);
  }
  /** The last value set (0 if none), without a round trip through prom-client's collectors. */
  get(labels?: Labels): number {
    return this.last.get(keyOf(labels)) ?? 0;
  }
}

export class Counter {
  readonly metric: prom.Counter;
  private readonly last = new Map<string, number>();
  constructor(registry: prom.Registry, name: string, help: string, labelNames: string[] = []) {
    this.metric = new prom.Counter({ name, help, labelNames, registers: [registry] });
  }
  inc(by = 1, labels?: Labels): void {
    if (labels) this.metric.inc(labels, by);
    else this.metric.inc(by);
    const k = keyOf(labels);
    this.last.set(k, (this.last.get(k) ?? 0) + by);
  }
  get(labels?: Labels): number {
    return this.last.get(keyOf(labels)) ?? 0;
  }
}

export class Histogram {
  readonly metric: prom.Histogram;
  private readonly bounds: number[];
  private readonly counts: number[];
  private count = 0;
  constructor(registry: prom.Registry, name: string, help: string, bounds: number[]) {
    this.bounds = [...bounds].sort((a, b) => a - b);
    this.counts = this.bounds.map(() => 0);
    this.metric = new prom.Histogram({ name, help, buckets: this.bounds, registers: [registry] });
  }
  observe(v: number): void {
    this.metric.observe(v);
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]!) this.counts[i]!++;
  }
  get observations(): number {
    return this.count;
  }
  /** Approximate quantile from the buckets (upper bound of the bucket holding it). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const target = q * this.count;
    for (let i = 0; i < this.bounds.length; i++)
      if (this.counts[i]! >= target) return this.bounds[i]!;
    return Number.POSITIVE_INFINITY;
  }
}

/** One node's registry: its own metrics plus prom-client's process and event-loop ones. */
export class Registry {
  readonly prom = new prom.Registry();
  constructor(opts: { processMetrics?: boolean } = {}) {
    // The event-loop delay is sampled every 50 ms, not prom-client's default 10 ms: measured
    // idle, 10 ms costs a node 7.5 ms of CPU per second, 50 ms 1.6 ms (a stall still shows).
    if (opts.processMetrics !== false)
      prom.collectDefaultMetrics({ register: this.prom, eventLoopMonitoringPrecision: 50 });
  }
  gauge(name: string, help: string, labelNames?: string[]): Gauge {
    return new Gauge(this.prom, name, help, labelNames);
  }
  counter(name: string, help: string, labelNames?: string[]): Counter {
    return new Counter(this.prom, name, help, labelNames);
  }
  histogram(name: string, help: string, bounds: number[]): Histogram {
    return new Histogram(this.prom, name, help, bounds);
  }
  /** The Prometheus text exposition (format 0.0.4) of every metric, by prom-client. */
  render(): Promise<string> {
    return this.prom.metrics();
  }
  get contentType(): string {
    return this.prom.contentType;
  }
}

/** The node's metrics, named once here so dashboards and tests agree. */
export function nodeMetrics(registry = new Registry()) {
  return {
    registry,
    height: registry.gauge('ehr_chain_height', 'Height of the last committed block'),
    term: registry.gauge('ehr_consensus_term', 'Current consensus term'),
    role: registry.gauge('ehr_consensus_role', 'Consensus role (label role) set to 1', ['role']),
    isLeader: registry.gauge('ehr_consensus_is_leader', '1 when this node leads'),
    peers: registry.gauge('ehr_p2p_peers', 'Connected peers'),
    p2pRefused: registry.counter(
      'ehr_p2p_refused_total',
      'Peers refused for not being members, by reason (inbound, outbound, dial, stream, gossip)',
      ['reason'],
    ),
    mempoolSize: registry.gauge('ehr_mempool_txs', 'Transactions waiting in the mempool'),
    mempoolBytes: registry.gauge('ehr_mempool_bytes', 'Bytes waiting in the mempool'),
    committedTxs: registry.counter('ehr_committed_txs_total', 'Transactions committed'),
    rejectedTxs: registry.counter('ehr_rejected_txs_total', 'Transactions refused, by code', [
      'code',
    ]),
    syncTarget: registry.gauge('ehr_sync_target_height', 'Height a catching-up node syncs to'),
    catchingUp: registry.gauge('ehr_sync_catching_up', '1 while the node is catching up'),
    syncProgress: registry.gauge(
      'ehr_sync_progress',
      'Share of the current catch-up sync applied (0..1; 1 when none runs)',
    ),
    syncBatches: registry.counter(
      'ehr_sync_batches_total',
      'Log batches catch-up sync fetched and applied, by serving peer',
      ['peer'],
    ),
    syncEntries: registry.counter('ehr_sync_entries_total', 'Log entries applied by catch-up sync'),
    syncRefused: registry.counter(
      'ehr_sync_refused_total',
      'Batches catch-up sync refused (failed verification), by serving peer',
      ['peer'],
    ),
    consensusRefused: registry.counter(
      'ehr_consensus_refused_total',
      'Consensus messages refused at decoding, by reason (out_of_range, malformed)',
      ['reason'],
    ),
    announcementsIgnored: registry.counter(
      'ehr_block_announcements_ignored_total',
      'Block announcements not taken as the network height, by reason',
      ['reason'],
    ),
    p2pUndelivered: registry.counter(
      'ehr_p2p_undelivered_total',
      'Messages this node could not deliver and dropped (never retried), by protocol and reason',
      ['protocol', 'reason'],
    ),
    forwardFailures: registry.counter(
      'ehr_tx_forward_failures_total',
      'Forwards of pending transactions to the leader that failed (each is tried again later until the transaction commits or expires)',
    ),
    compactEntries: registry.counter(
      'ehr_compact_entries_total',
      'Compact block entries received: filled from the mempool, fetched whole from the leader, or dropped (the leader resends)',
      ['outcome'],
    ),
    compactedIndex: registry.gauge(
      'ehr_log_compacted_index',
      'Consensus log index compacted to (entries at or below it are served from the block store)',
    ),
    durableHeight: registry.gauge(
      'ehr_store_durable_height',
      'Block height the store last made durable (the log is compacted only below it)',
    ),
    snapshotsInstalled: registry.counter(
      'ehr_snapshots_installed_total',
      "Leader snapshots installed by catching up from members' blocks",
    ),
    scrubHeight: registry.gauge(
      'ehr_scrub_height',
      'Last block the background scrubber verified in its current round',
    ),
    scrubProgress: registry.gauge(
      'ehr_scrub_progress',
      'Share of the current scrub round done (0..1; 1 between rounds)',
    ),
    scrubRounds: registry.counter(
      'ehr_scrub_rounds_total',
      'Scrub rounds that verified the whole store',
    ),
    scrubBytes: registry.counter('ehr_scrub_bytes_total', 'Bytes the scrubber read and verified'),
    scrubFailures: registry.counter(
      'ehr_scrub_failures_total',
      'Scrub rounds that found the store damaged (the node halts)',
    ),
    cacheBytes: registry.gauge(
      'ehr_cache_bytes',
      'Estimated bytes held by a cache (label cache: state, tx_status, mempool, read_nonces)',
      ['cache'],
    ),
    commitLatency: registry.histogram(
      'ehr_commit_latency_seconds',
      'Time from mempool admission to block commit on this node',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
  };
}
export type NodeMetrics = ReturnType<typeof nodeMetrics>;

/** The headline numbers as JSON (the gateway's node_metrics), beside the Prometheus text. */
export function metricsSummary(m: ReturnType<typeof nodeMetrics>) {
  const q = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) : null);
  return {
    height: m.height.get(),
    term: m.term.get(),
    leader: m.isLeader.get() === 1,
    peers: m.peers.get(),
    mempool: { txs: m.mempoolSize.get(), bytes: m.mempoolBytes.get() },
    committedTxs: m.committedTxs.get(),
    commitLatencyMs: {
      observations: m.commitLatency.observations,
      p50: q(m.commitLatency.quantile(0.5)),
      p99: q(m.commitLatency.quantile(0.99)),
    },
    sync: { catchingUp: m.catchingUp.get() === 1, progress: m.syncProgress.get() },
  };
}
