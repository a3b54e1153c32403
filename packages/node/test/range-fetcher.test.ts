import { describe, expect, it } from 'vitest';
import { fetchRange } from '../src/range-fetcher.ts';

const block = (h: number) => new Uint8Array([h & 0xff, h >> 8]);
const heightOf = (b: Uint8Array) => b[0]! | (b[1]! << 8);

describe('range fetcher', () => {
  it('fetches from several peers in parallel and consumes in height order', async () => {
    const consumed: number[] = [];
    const asked = new Set<string>();
    let maxInflight = 0;
    let inflight = 0;
    const last = await fetchRange({
      from: 1,
      to: 95,
      batchSize: 10,
      parallel: 3,
      peers: () => ['a', 'b', 'c'],
      fetch: async (peer, from, to) => {
        asked.add(peer);
        inflight++;
        maxInflight = Math.max(maxInflight, inflight);
        await new Promise((r) => setTimeout(r, (from * 7) % 5));
        inflight--;
        return Array.from({ length: to - from + 1 }, (_, i) => block(from + i));
      },
      consume: async (_from, blocks) => {
        for (const b of blocks) consumed.push(heightOf(b));
      },
    });
    expect(last).toBe(95);
    expect(consumed).toEqual(Array.from({ length: 95 }, (_, i) => i + 1));
    expect(asked.size).toBe(3);
    expect(maxInflight).toBeGreaterThan(1);
  });

  it('refetches a batch from another peer when a peer fails or serves bad blocks', async () => {
    const consumed: number[] = [];
    await fetchRange({
      from: 1,
      to: 30,
      batchSize: 10,
      parallel: 2,
      peers: () => ['liar', 'down', 'good'],
      fetch: async (peer, from, to) => {
        if (peer === 'down') throw new Error('unreachable');
        const blocks = Array.from({ length: to - from + 1 }, (_, i) => block(from + i));
        if (peer === 'liar') blocks[0] = block(999);
        return blocks;
      },
      consume: async (from, blocks) => {
        blocks.forEach((b, i) => {
          if (heightOf(b) !== from + i) throw new Error(`bad block at ${from + i}`);
        });
        for (const b of blocks) consumed.push(heightOf(b));
      },
    });
    expect(consumed).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('takes a prefix of a batch and asks again for the rest; asks only peers that have the range', async () => {
    const consumed: number[] = [];
    const asked: string[] = [];
    const has: Record<string, number> = { short: 12, capped: 40, full: 40 };
    await fetchRange({
      from: 1,
      to: 40,
      batchSize: 10,
      parallel: 2,
      peers: (_from, to) => Object.keys(has).filter((p) => has[p]! >= to),
      fetch: async (peer, from, to) => {
        asked.push(`${peer}:${from}-${to}`);
        // `capped` answers at most 3 per request (a size cap); `short` ends at 12.
        const end = Math.min(to, has[peer]!, peer === 'capped' ? from + 2 : to);
        return Array.from({ length: end - from + 1 }, (_, i) => block(from + i));
      },
      consume: async (from, blocks) => {
        blocks.forEach((b, i) => {
          if (heightOf(b) !== from + i) throw new Error(`bad block at ${from + i}`);
        });
        for (const b of blocks) consumed.push(heightOf(b));
      },
    });
    expect(consumed).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // `short` was only asked for ranges it has.
    expect(
      asked.filter((a) => a.startsWith('short:')).every((a) => Number(a.split('-')[1]) <= 12),
    ).toBe(true);
    expect(asked.some((a) => a.startsWith('capped:'))).toBe(true);
  });

  it('refuses an empty or too long reply and asks another peer', async () => {
    const consumed: number[] = [];
    await fetchRange({
      from: 1,
      to: 20,
      batchSize: 10,
      parallel: 1,
      peers: () => ['empty', 'long', 'good'],
      fetch: async (peer, from, to) => {
        if (peer === 'empty') return [];
        const n = peer === 'long' ? to - from + 5 : to - from + 1;
        return Array.from({ length: n }, (_, i) => block(from + i));
      },
      consume: async (_from, blocks) => {
        for (const b of blocks) consumed.push(heightOf(b));
      },
    });
    expect(consumed).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('gives up with a clear error when no peer can serve', async () => {
    await expect(
      fetchRange({
        from: 1,
        to: 5,
        batchSize: 5,
        parallel: 1,
        peers: () => ['x'],
        fetch: async () => {
          throw new Error('connection refused');
        },
        consume: async () => {},
        maxAttempts: 3,
      }),
    ).rejects.toThrow(/could not fetch blocks 1\.\.5 after 3 attempts: connection refused/);
    await expect(
      fetchRange({
        from: 1,
        to: 5,
        batchSize: 5,
        parallel: 1,
        peers: () => [],
        fetch: async () => [],
        consume: async () => {},
      }),
    ).rejects.toThrow(/no peers to sync from/);
  });
});
