import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { nodeMetrics } from '../src/metrics.ts';
import { RefusalLog } from '../src/refusal-log.ts';

function setup() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  let now = 1_000_000;
  const metrics = nodeMetrics();
  const log = new RefusalLog({
    logger: createLogger('t', 'info', sink),
    metrics,
    everyMs: 60_000,
    now: () => now,
  });
  return { lines, metrics, log, advance: (ms: number) => (now += ms) };
}

const refusedLines = (lines: Record<string, unknown>[]) =>
  lines.filter((l) => l['msg'] === 'refused a peer that is not a member');

describe('refused peers', () => {
  it('counts every refusal by reason and logs one line per peer and reason per minute', async () => {
    const t = setup();
    for (let i = 0; i < 500; i++) {
      t.log.refused('inbound', 'aa'.repeat(32));
      t.advance(10);
    }
    t.log.refused('dial', 'aa'.repeat(32));
    t.log.refused('inbound', 'bb'.repeat(32));
    await new Promise((r) => setImmediate(r));
    const text = await t.metrics.registry.render();
    expect(text).toContain('ehr_p2p_refused_total{reason="inbound"} 501');
    expect(text).toContain('ehr_p2p_refused_total{reason="dial"} 1');
    const lines = refusedLines(t.lines);
    expect(lines.map((l) => [l['peer'], l['reason']])).toEqual([
      ['aa'.repeat(32), 'inbound'],
      ['aa'.repeat(32), 'dial'],
      ['bb'.repeat(32), 'inbound'],
    ]);
    expect(lines[0]!['level']).toBe(40); // warn
  });

  it('after a quiet minute, the next line says how many refusals it stands for', async () => {
    const t = setup();
    t.log.refused('stream', 'cc'.repeat(32));
    for (let i = 0; i < 41; i++) t.log.refused('stream', 'cc'.repeat(32));
    t.advance(60_000);
    t.log.refused('stream', 'cc'.repeat(32));
    await new Promise((r) => setImmediate(r));
    const lines = refusedLines(t.lines);
    expect(lines).toHaveLength(2);
    expect(lines[1]!['refusedSinceLastLine']).toBe(42);
  });

  it('stays bounded with many distinct peers', async () => {
    const t = setup();
    for (let i = 0; i < 5000; i++) t.log.refused('inbound', i.toString(16).padStart(64, '0'));
    const seen = (t.log as unknown as { seen: Map<string, unknown> }).seen;
    expect(seen.size).toBeLessThanOrEqual(1024);
    expect(await t.metrics.registry.render()).toContain(
      'ehr_p2p_refused_total{reason="inbound"} 5000',
    );
  });
});
