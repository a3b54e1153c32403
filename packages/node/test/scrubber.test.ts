/**
 * The background scrubber on real stores: it keeps to its pace, gives the event loop back while
 * it works, reports progress in its status and metrics, and on damage reports the height and the
 * store key once (the node halts on that call).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Bucket, Store } from '@ehr/store';
import { afterAll, describe, expect, it } from 'vitest';
import { buildChain, testGenesis, testKeys } from '../../store/test/chain.ts';
import { CONFIG_DEFAULTS } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { nodeMetrics } from '../src/metrics.ts';
import { Scrubber, type ScrubConfig } from '../src/scrubber.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const keys = testKeys(11);
const genesis = testGenesis(keys);

async function chain(blocks: number) {
  const dir = mkdtempSync(join(tmpdir(), 'ehr-scrub-'));
  dirs.push(dir);
  const store = await Store.open(dir, genesis);
  await buildChain(store, keys, blocks);
  return store;
}

function scrubber(store: Store, config: Partial<ScrubConfig>, onCorrupt = (_: Error) => {}) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const metrics = nodeMetrics();
  const s = new Scrubber({
    db: store.db,
    genesis: store.genesis,
    config: { ...CONFIG_DEFAULTS.scrub, ...config },
    logger: createLogger('scrub-test', 'info', sink),
    metrics,
    onCorrupt,
  });
  return { s, metrics, lines };
}

describe('Scrubber', () => {
  it('keeps to blocksPerSecond and reports progress in status and metrics', async () => {
    const store = await chain(30);
    const { s, metrics } = scrubber(store, { blocksPerSecond: 60 });
    expect(s.status).toMatchObject({ enabled: true, round: 0, phase: 'idle' });
    const seen: number[] = [];
    const watch = setInterval(() => seen.push(s.status.height), 50);
    const t0 = performance.now();
    await s.round();
    const ms = performance.now() - t0;
    clearInterval(watch);
    // 30 blocks at 60 per second: half a second at least.
    expect(ms).toBeGreaterThanOrEqual(480);
    // Seen part-way, not only at the end.
    expect(seen.some((h) => h > 0 && h < 30)).toBe(true);
    expect(s.status).toMatchObject({
      round: 1,
      phase: 'idle',
      height: 30,
      target: 30,
      progress: 1,
    });
    expect(s.status.lastRoundMs).toBeGreaterThanOrEqual(480);
    expect(metrics.scrubRounds.get()).toBe(1);
    expect(metrics.scrubHeight.get()).toBe(30);
    expect(metrics.scrubBytes.get()).toBe(s.status.bytes);
    await store.close();
  });

  it('keeps to bytesPerSecond too', async () => {
    const store = await chain(10);
    const { s } = scrubber(store, { blocksPerSecond: 1_000_000, bytesPerSecond: 4096 });
    const t0 = performance.now();
    await s.round();
    const expected = (s.status.bytes / 4096) * 1000;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(expected * 0.9);
    await store.close();
  });

  it('unpaced, it still gives the event loop back every slice', async () => {
    const store = await chain(150);
    const { s } = scrubber(store, {
      blocksPerSecond: 1_000_000,
      bytesPerSecond: 2 ** 34,
      cpuPercent: 100,
    });
    let ticks = 0;
    const tick = setInterval(() => ticks++, 1);
    const cpu0 = process.cpuUsage();
    await s.round();
    const c = process.cpuUsage(cpu0);
    clearInterval(tick);
    const cpuMs = (c.user + c.system) / 1000;
    // The round costs well over one slice of CPU, yet no stretch of it held the loop for more
    // than a slice (10 ms) and one step (a block's checks, a page of keys) past it. Measured in
    // CPU time, so a machine busy with other work does not decide the outcome.
    expect(cpuMs).toBeGreaterThan(50);
    expect(s.longestSliceMs).toBeGreaterThan(0);
    expect(s.longestSliceMs).toBeLessThan(40);
    // Timers ran while it worked.
    expect(ticks).toBeGreaterThan(5);
    await store.close();
  });

  it('keeps to cpuPercent: it rests after each slice in proportion to the CPU it used', async () => {
    const store = await chain(120);
    const { s } = scrubber(store, {
      blocksPerSecond: 1_000_000,
      bytesPerSecond: 2 ** 34,
      cpuPercent: 20,
    });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await s.round();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(cpu0);
    const cpu = (c.user + c.system) / 1000;
    // At 20% it rests four times what it worked: the round lasts at least ~5x its CPU time.
    expect(cpu).toBeGreaterThan(20);
    expect(wall).toBeGreaterThan(cpu * 4);
    await store.close();
  });

  it('on a flipped byte it stops, says the height and key once, and counts the failure', async () => {
    const store = await chain(12);
    const key = new Uint8Array([Bucket.blockByHeight, 0, 0, 0, 0, 0, 0, 0, 7]);
    const v = (await store.db.get(key))!.slice();
    v[40]! ^= 0x04;
    await store.db.put(key, v, true);
    const found: Error[] = [];
    const { s, metrics, lines } = scrubber(store, { blocksPerSecond: 1000, pauseMs: 10 }, (e) =>
      found.push(e),
    );
    s.start();
    const deadline = Date.now() + 10_000;
    while (found.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Stays stopped: no second report.
    await new Promise((r) => setTimeout(r, 200));
    await s.stop();
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      code: 'STORE_CORRUPT',
      data: { height: 7, key: 'blockByHeight/7' },
    });
    expect(found[0]!.message).toContain(store.db.dir);
    expect(s.status.phase).toBe('failed');
    expect(s.status.failed).toMatch(/height 7/);
    expect(metrics.scrubFailures.get()).toBe(1);
    expect(lines.join('')).toMatch(/halting the node/);
    await store.close();
  });

  it('disabled, it never starts; stop() ends a paused round promptly', async () => {
    const store = await chain(5);
    const off = scrubber(store, { enabled: false });
    off.s.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(off.s.status).toMatchObject({ enabled: false, round: 0 });
    const slow = scrubber(store, { blocksPerSecond: 1 });
    slow.s.start();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await slow.s.stop();
    expect(performance.now() - t0).toBeLessThan(500);
    await store.close();
  });
});
