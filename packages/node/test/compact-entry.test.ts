/**
 * Compact block entries: the leader leaves out what went out by gossip, a follower rebuilds the
 * entry byte for byte from its mempool, and anything short of the exact entry is "missing" (then
 * fetched whole), never a different entry.
 */
import type { Entry } from '@ehr/consensus';
import { decodeBlock, EncodingError, encode, randomBytes, sha256, toHex, txHash } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { decodeBlockEntryParts, encodeBlockEntry } from '../src/block-entry.ts';
import {
  COMPACT_ENTRY,
  compactEntry,
  EntryCompactor,
  type EntrySource,
  fillEntry,
  GossipedHashes,
  MAX_COMPACTED_ENTRY_BYTES,
} from '../src/compact-entry.ts';
import { appendMessage, buildLog } from './log.ts';

/** A real signed block of `txs` transactions, with `bodies` beside it. */
async function entryWith(txs: number, bodies: Uint8Array[]) {
  const log = await buildLog(1, txs);
  const e = log.entries.find((x) => x.type === 'block')!;
  const { blockBytes } = decodeBlockEntryParts(e.data);
  const block = decodeBlock(blockBytes);
  return { data: encodeBlockEntry(blockBytes, bodies), block };
}

/** A mempool holding `txs`, each with the bodies given for it. */
function holding(items: { tx: Uint8Array; bodies?: Uint8Array[] }[]): EntrySource {
  const m = new Map<string, { bytes: Uint8Array; payloads: Map<string, Uint8Array> }>();
  for (const { tx, bodies = [] } of items) {
    m.set(toHex(txHash(tx)), {
      bytes: tx,
      payloads: new Map(bodies.map((b) => [toHex(sha256(b)), b])),
    });
  }
  return { tx: (h) => m.get(h) };
}

const all = () => true;

describe('compact block entries', () => {
  it('leave out known transactions and bodies, and fill back into the same bytes', async () => {
    const bodies = [randomBytes(1024), randomBytes(60 * 1024), randomBytes(3)];
    const { data, block } = await entryWith(20, bodies);
    const compact = compactEntry(data, all)!;
    expect(compact[0]).toBe(COMPACT_ENTRY);
    // 20 transactions and 61 KiB of bodies become 23 hashes.
    expect(compact.length).toBeLessThan(3000);
    expect(data.length).toBeGreaterThan(62 * 1024);
    const source = holding(
      block.txs.map((tx, i) => ({
        tx,
        bodies: i === 0 ? bodies.slice(0, 2) : i === 5 ? [bodies[2]!] : [],
      })),
    );
    const f = fillEntry(compact, source);
    expect(f.ok).toBe(true);
    if (f.ok) expect(f.data).toEqual(data);
  });

  it('keep unknown ones whole: only what gossip carried is left out', async () => {
    const big = randomBytes(200 * 1024);
    const { data, block } = await entryWith(5, [big]);
    const known = new GossipedHashes();
    for (const tx of block.txs.slice(0, 4)) known.add(toHex(txHash(tx)));
    const compact = compactEntry(data, (h) => known.has(h))!;
    // The large body and the fifth transaction travel whole.
    expect(compact.length).toBeGreaterThan(big.length);
    const f = fillEntry(compact, holding(block.txs.slice(0, 4).map((tx) => ({ tx }))));
    expect(f.ok && f.data).toEqual(data);
    expect(compactEntry(data, () => false)).toBeUndefined();
  });

  it('send an entry over 1 MiB whole: it holds a body too large to have been gossiped', async () => {
    const { data } = await entryWith(30, [randomBytes(MAX_COMPACTED_ENTRY_BYTES)]);
    expect(compactEntry(data, all)).toBeUndefined();
    const { data: small } = await entryWith(30, [randomBytes(MAX_COMPACTED_ENTRY_BYTES - 20_000)]);
    expect(compactEntry(small, all)).toBeDefined();
  });

  it('say what is missing instead of guessing, and what the whole entry must hash to', async () => {
    const body = randomBytes(500);
    const { data, block } = await entryWith(4, [body]);
    const compact = compactEntry(data, all)!;
    const noTx = fillEntry(compact, holding(block.txs.slice(1).map((tx) => ({ tx }))));
    expect(noTx).toMatchObject({ ok: false });
    if (!noTx.ok) {
      expect(noTx.entry).toEqual(sha256(data));
      // The missing transaction and the body nobody brought.
      expect(noTx.missing).toBe(2);
    }
    const noBody = fillEntry(compact, holding(block.txs.map((tx) => ({ tx }))));
    expect(noBody).toMatchObject({ ok: false, missing: 1 });
  });

  it('never rebuild a different entry: held bytes that do not rebuild it count as missing', async () => {
    const { data, block } = await entryWith(3, []);
    const compact = compactEntry(data, all)!;
    // A source answering the hash with other bytes (a bug or a poisoned pool).
    const liar: EntrySource = {
      tx: (h) => {
        const i = block.txs.findIndex((t) => toHex(txHash(t)) === h);
        const bytes = i === 1 ? block.txs[0]! : block.txs[i]!;
        return { bytes, payloads: new Map() };
      },
    };
    expect(fillEntry(compact, liar)).toMatchObject({ ok: false, missing: 0 });
  });

  it('refuse hostile compact forms with a path', async () => {
    const { data } = await entryWith(2, []);
    const compact = compactEntry(data, all)!;
    const body = compact.subarray(1);
    const reencode = (v: unknown) => {
      const b = encode(v as never);
      const out = new Uint8Array(b.length + 1);
      out[0] = COMPACT_ENTRY;
      out.set(b, 1);
      return out;
    };
    const { decode } = await import('@ehr/core');
    const m = decode(body) as Record<string, unknown>;
    expect(() =>
      fillEntry(reencode({ ...m, txs: [{ h: new Uint8Array(31) }] }), holding([])),
    ).toThrow(/txs\[0\]\.h/);
    expect(() => fillEntry(reencode({ ...m, extra: 1 }), holding([]))).toThrow(EncodingError);
    expect(() => fillEntry(reencode({ ...m, txs: [7] }), holding([]))).toThrow(/txs\[0\]/);
    expect(() => fillEntry(data, holding([]))).toThrow(/not a compact/);
    expect(() => fillEntry(compact.subarray(0, 40), holding([]))).toThrow(EncodingError);
  });

  it('the leader compacts each entry once, however often it is sent', async () => {
    const { data } = await entryWith(3, []);
    let calls = 0;
    const c = new EntryCompactor(() => {
      calls++;
      return true;
    });
    const entry: Entry = { index: 7, term: 2, type: 'block', data };
    const msg = (entries: Entry[]) =>
      appendMessage({ from: 'a', to: 'b', term: 2, index: 6, logTerm: 2 }, entries);
    const a = c.outgoing(msg([entry]));
    const b = c.outgoing(msg([entry]));
    expect(a.entries[0]!.data[0]).toBe(COMPACT_ENTRY);
    expect(b.entries[0]!.data).toBe(a.entries[0]!.data);
    expect(calls).toBe(3);
    // Other messages and entries pass untouched.
    const noop: Entry = { index: 8, term: 2, type: 'noop', data: new Uint8Array(0) };
    const m2 = msg([noop]);
    expect(c.outgoing(m2)).toBe(m2);
  });

  it('send entries the leader already committed whole: a follower that far behind lacks them', async () => {
    // Three real blocks at indexes 7-9, every transaction gossiped (so each could go compact).
    const log = await buildLog(3, 5);
    const blocks = log.entries.filter((e) => e.type === 'block');
    expect(blocks).toHaveLength(3);
    const entries: Entry[] = blocks.map((e, i) => ({ ...e, index: 7 + i, term: 2 }));
    const c = new EntryCompactor(all);
    const msg = (commit: number) => ({
      ...appendMessage({ from: 'a', to: 'b', term: 2, index: 6, logTerm: 2 }, entries),
      commit,
    });
    const kinds = (commit: number) =>
      c.outgoing(msg(commit)).entries.map((e, i) => {
        if (e.data === entries[i]!.data) return 'whole';
        expect(e.data[0]).toBe(COMPACT_ENTRY);
        return 'compact';
      });
    // A follower in step: nothing sent is committed yet.
    expect(kinds(0)).toEqual(['compact', 'compact', 'compact']);
    expect(kinds(6)).toEqual(['compact', 'compact', 'compact']);
    // The same entries, cached compact, once committed go whole (index <= the append's commit).
    expect(kinds(7)).toEqual(['whole', 'compact', 'compact']);
    expect(kinds(8)).toEqual(['whole', 'whole', 'compact']);
    // A catching-up follower: the whole append is committed backlog, sent as it is.
    const behind = msg(9);
    expect(c.outgoing(behind)).toBe(behind);
    // Past the leader's log is no different (the engine sends min(commit, last entry)).
    const past = msg(1_000_000);
    expect(c.outgoing(past)).toBe(past);
    // And an entry not yet committed after all goes compact again (its form was kept).
    expect(kinds(0)).toEqual(['compact', 'compact', 'compact']);
  });

  it('remember a bounded number of gossiped hashes, forgetting the oldest', () => {
    const g = new GossipedHashes(3);
    for (const h of ['a', 'b', 'c', 'd']) g.add(h);
    expect([g.has('a'), g.has('b'), g.has('d'), g.size]).toEqual([false, true, true, 3]);
  });
});
