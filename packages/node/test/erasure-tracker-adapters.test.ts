/** Small parts: erasure of bodies in the consensus log, the status tracker, the engine adapter. */
import { encodeMessage, RaftNode } from '@ehr/consensus';
import { sha256, toHex, utf8 } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { blockVerifier, raftPort } from '../src/adapters.ts';
import { decodeBlockEntry, encodeBlockEntry } from '../src/block-entry.ts';
import { redactionsFor } from '../src/erasure.ts';
import { TxTracker } from '../src/tx-tracker.ts';
import { buildLog } from './log.ts';

describe('redactionsFor', () => {
  it('rewrites every log entry that carried an erased body, keeps index, term and the other bodies', async () => {
    const log = await buildLog(2, 1);
    const [b1, b2] = log.entries.filter((e) => e.type === 'block');
    const scan = new Uint8Array(2.5 * 1024 * 1024).fill(3);
    const note = utf8('a note');
    const withBodies = (e: typeof b1, bodies: Uint8Array[]) => ({
      ...e!,
      data: encodeBlockEntry(decodeBlockEntry(e!.data).blockBytes, bodies),
    });
    const earlier = withBodies(b1, [scan, note]);
    const current = withBodies(b2, []);
    const scanHash = toHex(sha256(scan));
    const store = {
      payloadEntryIndex: async (h: string) => (h === scanHash ? earlier.index : undefined),
      raftEntries: async (from: number, to: number) =>
        [earlier].filter((e) => e.index >= from && e.index <= to),
    };
    const out = await redactionsFor(
      store,
      [scanHash, toHex(sha256(utf8('never stored')))],
      current,
    );
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ index: earlier.index, term: earlier.term, type: 'block' });
    const kept = decodeBlockEntry(out[0]!.data);
    expect([...kept.payloads.keys()]).toEqual([toHex(sha256(note))]);
    // The block itself is untouched: same bytes, same hash.
    expect(toHex(kept.blockBytes)).toBe(toHex(decodeBlockEntry(earlier.data).blockBytes));
    // Nothing erased that the entries hold: nothing to rewrite.
    expect(await redactionsFor(store, [toHex(sha256(utf8('x')))], current)).toEqual([]);
  });
});

describe('TxTracker', () => {
  it('wakes waiters on a final status, tells listeners every change, and forgets the oldest finished first', async () => {
    // About three finished statuses' worth of bytes.
    const t = new TxTracker(3 * 215);
    const seen: string[] = [];
    t.onChange((h, s) => seen.push(`${h}:${s.status}`));
    t.set('a', { status: 'pending', expires: 10 });
    const waiting = t.wait('a', 1000);
    t.set('a', { status: 'committed', height: 1, index: 0, ok: true, code: null, message: null });
    await expect(waiting).resolves.toMatchObject({ status: 'committed', height: 1 });
    for (const h of ['b', 'c', 'd'])
      t.set(h, { status: 'expired', code: 'EXPIRED', message: '', expires: 1 });
    t.set('p', { status: 'pending' });
    // Over capacity: finished ones go, oldest first; pending ones stay.
    expect(t.get('a')).toBeUndefined();
    expect(t.get('p')).toBeDefined();
    expect(seen.slice(0, 2)).toEqual(['a:pending', 'a:committed']);
  });

  it('stays under its byte bound however many finished statuses arrive (pending ones stay)', () => {
    const bound = 256 * 1024;
    const t = new TxTracker(bound);
    const hash = (i: number) => i.toString(16).padStart(64, '0');
    t.set('p'.repeat(64), { status: 'pending', expires: 1 });
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      t.set(hash(i), {
        status: 'rejected',
        code: 'BAD_NONCE',
        message: `nonce ${i} was used`,
        expires: 1,
      } as never);
      peak = Math.max(peak, t.byteSize);
    }
    expect(peak).toBeLessThanOrEqual(bound);
    expect(t.size).toBeLessThan(20_000);
    expect(t.get(hash(19_999))).toBeDefined();
    expect(t.get(hash(0))).toBeUndefined();
    expect(t.get('p'.repeat(64))?.status).toBe('pending');
    expect(() => new TxTracker(-1)).toThrow(/whole number of bytes/);
  });

  it('a wait that times out says until when it can still commit', async () => {
    const t = new TxTracker();
    t.set('x', { status: 'pending', expires: Date.UTC(2030, 0, 1) });
    await expect(t.wait('x', 30, Date.UTC(2030, 0, 1))).rejects.toMatchObject({
      code: 'TX_TIMEOUT',
      data: { canCommitUntil: Date.UTC(2030, 0, 1) },
    });
  });
});

describe('raftPort', () => {
  it('drops a message whose claimed sender is not the authenticated peer', () => {
    const mk = (id: string) =>
      new RaftNode({
        id,
        initial: { voters: ['a', 'b', 'c'], learners: [], removed: [] },
        genesisHash: new Uint8Array(32),
        storage: { entries: [] },
        electionTick: 10,
        heartbeatTick: 1,
        random: () => 0.5,
        blockVerifier,
      });
    const b = mk('b');
    const port = raftPort(b);
    const vote = encodeMessage({
      type: 'vote',
      from: 'a',
      to: 'b',
      term: 5,
      index: 0,
      logTerm: 0,
      entries: [],
      commit: 0,
      reject: false,
      hintIndex: 0,
      hintTerm: 0,
      transfer: false,
      snapshot: null,
    });
    // Relayed by c while claiming to be a: ignored, the term does not move.
    port.step('c', vote);
    expect(port.status().term).toBe(0);
    port.step('a', vote);
    expect(port.status().term).toBe(5);
    // Out of range or garbage: a coded error for the daemon to count, never a crash.
    expect(() => port.step('a', new Uint8Array([0xff, 1]))).toThrow();
  });
});
