/**
 * Metrics through prom-client: the node's own series in the Prometheus text, prom-client's
 * process and event-loop series beside them, one registry per node (two nodes in one process
 * never share a value), hostile label values escaped, and the /metrics server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { metricsSummary, nodeMetrics, Registry } from '../src/metrics.ts';
import { startMetricsServer } from '../src/metrics-server.ts';

const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('node metrics (prom-client)', () => {
  it('renders the node series and the process and event-loop series', async () => {
    const m = nodeMetrics();
    m.height.set(42);
    m.committedTxs.inc(3);
    m.committedTxs.inc(2);
    m.rejectedTxs.inc(1, { code: 'BAD_NONCE' });
    m.commitLatency.observe(0.02);
    // Let the event-loop monitor take a few samples.
    await new Promise((r) => setTimeout(r, 200));
    const text = await m.registry.render();
    expect(value(text, 'ehr_chain_height')).toBe(42);
    expect(value(text, 'ehr_committed_txs_total')).toBe(5);
    expect(value(text, 'ehr_rejected_txs_total{code="BAD_NONCE"}')).toBe(1);
    expect(value(text, 'ehr_commit_latency_seconds_bucket{le="0.01"}')).toBe(0);
    expect(value(text, 'ehr_commit_latency_seconds_bucket{le="0.025"}')).toBe(1);
    expect(value(text, 'ehr_commit_latency_seconds_count')).toBe(1);
    expect(text).toContain('# TYPE ehr_commit_latency_seconds histogram');
    for (const series of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      const v = value(text, series);
      expect(v, series).toBeDefined();
      expect(Number.isFinite(v), series).toBe(true);
    }
    expect(value(text, 'process_cpu_user_seconds_total')!).toBeGreaterThan(0);
    expect(m.registry.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('two nodes in one process keep their own values', async () => {
    const a = nodeMetrics();
    const b = nodeMetrics();
    a.height.set(10);
    b.height.set(20);
    a.p2pRefused.inc(1, { reason: 'inbound' });
    for (let i = 0; i < 3; i++) b.p2pRefused.inc(1, { reason: 'inbound' });
    b.isLeader.set(1);
    const [ta, tb] = await Promise.all([a.registry.render(), b.registry.render()]);
    expect(value(ta, 'ehr_chain_height')).toBe(10);
    expect(value(tb, 'ehr_chain_height')).toBe(20);
    expect(value(ta, 'ehr_p2p_refused_total{reason="inbound"}')).toBe(1);
    expect(value(tb, 'ehr_p2p_refused_total{reason="inbound"}')).toBe(3);
    expect(metricsSummary(a)).toMatchObject({ height: 10, leader: false });
    expect(metricsSummary(b)).toMatchObject({ height: 20, leader: true });
    expect(a.registry.prom).not.toBe(b.registry.prom);
  });

  it('the summary reads what was set: counters, quantiles, sync', () => {
    const m = nodeMetrics(new Registry({ processMetrics: false }));
    m.committedTxs.inc(7);
    for (const s of [0.004, 0.004, 0.03, 0.3]) m.commitLatency.observe(s);
    m.catchingUp.set(1);
    m.syncProgress.set(0.25);
    expect(metricsSummary(m)).toEqual({
      height: 0,
      term: 0,
      leader: false,
      peers: 0,
      mempool: { txs: 0, bytes: 0 },
      committedTxs: 7,
      commitLatencyMs: { observations: 4, p50: 5, p99: 500 },
      sync: { catchingUp: true, progress: 0.25 },
    });
  });

  it('hostile label values are escaped; a label the metric does not declare is refused', async () => {
    const m = nodeMetrics(new Registry({ processMetrics: false }));
    m.rejectedTxs.inc(1, { code: 'a"b\\c\nd' });
    const text = await m.registry.render();
    expect(text).toContain('ehr_rejected_txs_total{code="a\\"b\\\\c\\nd"} 1');
    expect(() => m.rejectedTxs.inc(1, { colour: 'blue' })).toThrow(/colour/);
    expect(text).not.toContain('process_cpu');
  });

  it('serves the text at GET /metrics and 404 elsewhere', async () => {
    const m = nodeMetrics();
    m.height.set(9);
    const server = await startMetricsServer(m.registry, '127.0.0.1', 0);
    closers.push(server.close);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(value(text, 'ehr_chain_height')).toBe(9);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect((await fetch(server.url.replace('/metrics', '/nope'))).status).toBe(404);
  });
});
