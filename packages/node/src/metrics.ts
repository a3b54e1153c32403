/**
 * A minimal Prometheus registry (text exposition format 0.0.4): gauges, counters and one kind of
 * histogram. Small enough to own; avoids a dependency for a few dozen lines.
 */
type Labels = Record<string, string>;

function labelText(labels: Labels | undefined): string {
  if (!labels) return '';
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  );
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

interface Metric {
  name: string;
  help: string;
  render(): string[];
}

export class Gauge implements Metric {
  readonly name: string;
  readonly help: string;
  private readonly values = new Map<string, [Labels | undefined, number]>();
  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }
  set(value: number, labels?: Labels): void {
    this.values.set(labelText(labels), [labels, value]);
  }
  get(labels?: Labels): number {
    return this.values.get(labelText(labels))?.[1] ?? 0;
  }
  render(): string[] {
    return [...this.values].map(([l, [, v]]) => `${this.name}${l} ${v}`);
  }
  readonly type: string = 'gauge';
}

export class Counter extends Gauge {
  inc(by = 1, labels?: Labels): void {
    this.set(this.get(labels) + by, labels);
  }
  override readonly type = 'counter';
}

export class Histogram implements Metric {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  private readonly bounds: number[];
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(name: string, help: string, bounds: number[]) {
    this.name = name;
    this.help = help;
    this.bounds = [...bounds].sort((a, b) => a - b);
    this.counts = this.bounds.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
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
  render(): string[] {
    const lines = this.bounds.map((b, i) => `${this.name}_bucket{le="${b}"} ${this.counts[i]}`);
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    lines.push(`${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines;
  }
}

export class Registry {
  private readonly metrics: (Metric & { type: string })[] = [];
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }
  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  histogram(name: string, help: string, bounds: number[]): Histogram {
    return this.add(new Histogram(name, help, bounds));
  }
  private add<M extends Metric & { type: string }>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    }
    return `${out.join('\n')}\n`;
  }
}

/** The node's metrics, named once here so dashboards and tests agree. */
export function nodeMetrics(registry = new Registry()) {
  return {
    registry,
    height: registry.gauge('ehr_chain_height', 'Height of the last committed block'),
    term: registry.gauge('ehr_consensus_term', 'Current consensus term'),
    role: registry.gauge('ehr_consensus_role', 'Consensus role (label role) set to 1'),
    isLeader: registry.gauge('ehr_consensus_is_leader', '1 when this node leads'),
    peers: registry.gauge('ehr_p2p_peers', 'Connected peers'),
    p2pRefused: registry.counter(
      'ehr_p2p_refused_total',
      'Peers refused for not being members, by reason (inbound, outbound, dial, stream, gossip)',
    ),
    mempoolSize: registry.gauge('ehr_mempool_txs', 'Transactions waiting in the mempool'),
    mempoolBytes: registry.gauge('ehr_mempool_bytes', 'Bytes waiting in the mempool'),
    committedTxs: registry.counter('ehr_committed_txs_total', 'Transactions committed'),
    rejectedTxs: registry.counter('ehr_rejected_txs_total', 'Transactions refused, by code'),
    syncTarget: registry.gauge('ehr_sync_target_height', 'Height a catching-up node syncs to'),
    catchingUp: registry.gauge('ehr_sync_catching_up', '1 while the node is catching up'),
    syncProgress: registry.gauge(
      'ehr_sync_progress',
      'Share of the current catch-up sync applied (0..1; 1 when none runs)',
    ),
    syncBatches: registry.counter(
      'ehr_sync_batches_total',
      'Log batches catch-up sync fetched and applied, by serving peer',
    ),
    syncEntries: registry.counter('ehr_sync_entries_total', 'Log entries applied by catch-up sync'),
    syncRefused: registry.counter(
      'ehr_sync_refused_total',
      'Batches catch-up sync refused (failed verification), by serving peer',
    ),
    consensusRefused: registry.counter(
      'ehr_consensus_refused_total',
      'Consensus messages refused at decoding, by reason (out_of_range, malformed)',
    ),
    announcementsIgnored: registry.counter(
      'ehr_block_announcements_ignored_total',
      'Block announcements not taken as the network height, by reason',
    ),
    p2pUndelivered: registry.counter(
      'ehr_p2p_undelivered_total',
      'Messages this node could not deliver and dropped (never retried), by protocol and reason',
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
