/**
 * Consensus messages as they arrive: decoded, compact block entries (compact-entry.ts) filled in
 * from the mempool, then stepped into the engine. When this node lacks part of an entry, the
 * message waits while the whole entry is fetched from its sender (which persisted it before
 * sending), and that sender's later appends with entries queue behind it: Raft copes with
 * reordering, but a follower stepping appends out of order only earns rejections and resends.
 * Everything else from that sender (heartbeats, which are appends without entries; votes;
 * responses; snapshots) steps at once, never held behind a fetch: a fetch may take up to
 * FETCH_TIMEOUT_MS, and a follower that answers no heartbeat meanwhile counts as silent to the
 * leader's quorum check (with two voters of five down, the leader steps down). An empty append
 * overtaking entries is one Raft expects (the leader's sendEmpty is built to be): it names an
 * index the follower acknowledged or a probe, and the engine answers it as it would later. A
 * fetch that fails drops the message (and nothing else): the leader sends it again, as after
 * any loss.
 */
import { decodeMessage, type Entry, type Message } from '@ehr/consensus';
import { decode, encode, equalBytes, expectInteger, expectMap, sha256 } from '@ehr/core';
import { type EntrySource, fillEntry, isCompactEntry } from './compact-entry.ts';
import type { NodeMetrics } from './metrics.ts';
import type { Network } from './ports.ts';

/** Request protocol: one persisted log entry by index and term (empty reply: not held). */
export const ENTRY_FETCH_PROTOCOL = 'raft-entry';

/** Messages held per sender behind one being completed; beyond, they are dropped (resent). */
const MAX_QUEUED = 1024;
/** How long to wait for a whole entry (up to a block's worth of bodies) from the sender. */
const FETCH_TIMEOUT_MS = 10_000;

export interface InboundParts {
  /** Hands a complete message to the engine (throws what the engine refuses). */
  step(from: string, m: Message): void;
  /** Transactions and bodies this node holds (its mempool). */
  source: EntrySource;
  network: Pick<Network, 'request'>;
  /** A message refused at decoding or by the engine. */
  refused(from: string, err: Error): void;
  /** After each message stepped: the loop has work. */
  delivered(): void;
  /** False while the loop is held or stopped: messages are dropped (Raft resends). */
  live(): boolean;
  metrics: Pick<NodeMetrics, 'compactEntries'>;
}

type Fill = { ok: true; m: Message } | { ok: false; need: { at: number; entry: Uint8Array }[] };

export class ConsensusInbound {
  private readonly queues = new Map<string, Message[]>();
  private readonly p: InboundParts;
  constructor(p: InboundParts) {
    this.p = p;
  }

  receive(from: string, bytes: Uint8Array): void {
    if (!this.p.live()) return;
    let m: Message;
    try {
      m = decodeMessage(bytes);
    } catch (err) {
      this.p.refused(from, err as Error);
      return;
    }
    // The transport authenticated the sender; a message claiming another sender is dropped.
    if (m.from !== from) return;
    const queue = this.queues.get(from);
    // Only appends with entries keep their order behind a fetch (see above).
    if (queue && m.type === 'append' && m.entries.length > 0) {
      if (queue.length < MAX_QUEUED) queue.push(m);
      else this.count('dropped');
      return;
    }
    let f: Fill;
    try {
      f = this.fill(m);
    } catch (err) {
      this.p.refused(from, err as Error);
      return;
    }
    if (f.ok) return this.deliver(from, f.m);
    this.queues.set(from, [m]);
    void this.drain(from);
  }

  /** Messages waiting behind an entry being fetched, over all senders. */
  get queued(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private deliver(from: string, m: Message): void {
    if (!this.p.live()) return;
    try {
      this.p.step(from, m);
    } catch (err) {
      this.p.refused(from, err as Error);
    }
    this.p.delivered();
  }

  /** The message with every compact entry filled in, or the entries still missing. */
  private fill(m: Message): Fill {
    if (m.type !== 'append' || !m.entries.some((e) => isCompactEntry(e.data))) {
      return { ok: true, m };
    }
    const need: { at: number; entry: Uint8Array }[] = [];
    const entries: Entry[] = m.entries.map((e, at) => {
      if (!isCompactEntry(e.data)) return e;
      const f = fillEntry(e.data, this.p.source);
      if (f.ok) {
        this.count('filled');
        return { ...e, data: f.data };
      }
      need.push({ at, entry: f.entry });
      return e;
    });
    return need.length === 0 ? { ok: true, m: { ...m, entries } } : { ok: false, need };
  }

  private async drain(from: string): Promise<void> {
    const queue = this.queues.get(from)!;
    try {
      while (queue.length > 0) {
        const m = queue[0]!;
        let done: Message | undefined;
        try {
          const f = this.fill(m);
          done = f.ok ? f.m : await this.fetchMissing(from, m, f.need);
        } catch (err) {
          this.p.refused(from, err as Error);
        }
        queue.shift();
        if (done) this.deliver(from, done);
      }
    } finally {
      this.queues.delete(from);
    }
  }

  /** Fetches each missing entry whole from the sender; undefined (dropped) if one fails. */
  private async fetchMissing(
    from: string,
    m: Message,
    need: { at: number; entry: Uint8Array }[],
  ): Promise<Message | undefined> {
    const entries = [...m.entries];
    for (const { at, entry } of need) {
      const e = entries[at]!;
      let data: Uint8Array;
      try {
        data = await this.p.network.request(
          from,
          ENTRY_FETCH_PROTOCOL,
          encode({ index: e.index, term: e.term }),
          FETCH_TIMEOUT_MS,
        );
      } catch {
        this.count('dropped');
        return undefined;
      }
      // Not held (compacted, or a stale term) or not the entry announced: the leader resends.
      if (data.length === 0 || !equalBytes(sha256(data), entry)) {
        this.count('dropped');
        return undefined;
      }
      this.count('fetched');
      entries[at] = { ...e, data };
    }
    // Whatever the mempool could fill meanwhile is filled again with the fetched ones in place.
    const f = this.fill({ ...m, entries });
    return f.ok ? f.m : undefined;
  }

  private count(outcome: 'filled' | 'fetched' | 'dropped'): void {
    this.p.metrics.compactEntries.inc(1, { outcome });
  }
}

/** The sender's side of ENTRY_FETCH_PROTOCOL: an entry of its persisted log. */
export function serveEntryFetch(
  network: Pick<Network, 'handle'>,
  entries: (from: number, to: number) => Promise<Entry[]>,
): void {
  network.handle(ENTRY_FETCH_PROTOCOL, async (_from, bytes) => {
    const m = expectMap(decode(bytes), 'raft-entry request');
    const index = expectInteger(m['index'], 'raft-entry.index', 1);
    const term = expectInteger(m['term'], 'raft-entry.term', 0);
    const [e] = await entries(index, index);
    return e && e.index === index && e.term === term ? e.data : new Uint8Array(0);
  });
}
