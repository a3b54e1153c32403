/**
 * Consensus messages in: compact entries filled from the mempool; what the mempool lacks fetched
 * whole from the sender while that sender's later appends with entries wait in order (and its
 * heartbeats, votes and responses do not); a failed or wrong fetch drops that one message only.
 */
import { decodeMessage, type Entry, encodeMessage, type Message } from '@ehr/consensus';
import { decode, expectInteger, expectMap, randomBytes, sha256, toHex, txHash } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { decodeBlockEntryParts, encodeBlockEntry } from '../src/block-entry.ts';
import { compactEntry, type EntrySource } from '../src/compact-entry.ts';
import { ConsensusInbound, ENTRY_FETCH_PROTOCOL } from '../src/consensus-inbound.ts';
import { nodeMetrics } from '../src/metrics.ts';
import { appendMessage, buildLog } from './log.ts';

const append = (index: number, entries: Entry[]): Message =>
  appendMessage(
    { from: 'leader', to: 'me', term: 3, index, logTerm: entries.length > 0 ? 3 : 0 },
    entries,
  );

async function setup(o: { reply?: (index: number) => Uint8Array | Error; delayMs?: number } = {}) {
  const log = await buildLog(3, 4);
  const blocks = log.entries.filter((e) => e.type === 'block');
  const whole = blocks.map((e, i) => {
    const { blockBytes } = decodeBlockEntryParts(e.data);
    return encodeBlockEntry(blockBytes, [randomBytes(700 + i)]);
  });
  const txsOf = (i: number) => decodeBlockEntryParts(whole[i]!);
  const pool = new Map<string, { bytes: Uint8Array; payloads: Map<string, Uint8Array> }>();
  const hold = (i: number) => {
    const { block, bodies } = txsOf(i);
    for (const [k, tx] of block.txs.entries()) {
      pool.set(toHex(txHash(tx)), {
        bytes: tx,
        payloads: new Map(k === 0 ? bodies.map((b) => [toHex(sha256(b)), b]) : []),
      });
    }
  };
  const source: EntrySource = { tx: (h) => pool.get(h) };
  const stepped: Message[] = [];
  const requests: number[] = [];
  const metrics = nodeMetrics();
  let live = true;
  const inbound = new ConsensusInbound({
    step: (_from, m) => void stepped.push(m),
    source,
    network: {
      async request(_to, protocol, bytes) {
        expect(protocol).toBe(ENTRY_FETCH_PROTOCOL);
        const index = expectInteger(expectMap(decode(bytes), 'req')['index'], 'index');
        requests.push(index);
        if (o.delayMs) await new Promise((r) => setTimeout(r, o.delayMs));
        const r = o.reply ? o.reply(index) : whole[index - 1]!;
        if (r instanceof Error) throw r;
        return r;
      },
    },
    refused: () => {},
    delivered: () => {},
    live: () => live,
    metrics,
  });
  const entry = (i: number): Entry => ({
    index: i + 1,
    term: 3,
    type: 'block',
    data: compactEntry(whole[i]!, () => true)!,
  });
  const send = (m: Message) => inbound.receive('leader', encodeMessage(m));
  const outcome = (k: string) => metrics.compactEntries.get({ outcome: k });
  return {
    whole,
    hold,
    entry,
    send,
    stepped,
    requests,
    inbound,
    outcome,
    stop: () => (live = false),
  };
}

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('consensus inbound', () => {
  it('fills compact entries from the mempool and steps at once, with the whole entries', async () => {
    const t = await setup();
    t.hold(0);
    t.hold(1);
    t.send(append(0, [t.entry(0), t.entry(1)]));
    expect(t.stepped).toHaveLength(1);
    expect(t.stepped[0]!.entries.map((e) => e.data)).toEqual([t.whole[0], t.whole[1]]);
    expect(t.requests).toEqual([]);
    expect(t.outcome('filled')).toBe(2);
  });

  it('fetches what it lacks from the sender, and holds its later entries behind it in order', async () => {
    const t = await setup({ delayMs: 30 });
    t.hold(0);
    t.hold(2);
    t.send(append(0, [t.entry(0)]));
    t.send(append(1, [t.entry(1)])); // not held: fetched
    t.send(append(2, [{ ...t.entry(2), data: t.whole[2]! }])); // whole, but waits its turn
    t.send(append(3, [])); // a heartbeat: never held (see the next test)
    expect(t.stepped.map((m) => m.index)).toEqual([0, 3]);
    expect(t.inbound.queued).toBe(2);
    await until(() => t.stepped.length === 4);
    expect(t.stepped.map((m) => [m.index, m.entries.length])).toEqual([
      [0, 1],
      [3, 0],
      [1, 1],
      [2, 1],
    ]);
    expect(t.stepped[2]!.entries[0]!.data).toEqual(t.whole[1]);
    expect(t.requests).toEqual([2]);
    expect([t.outcome('fetched'), t.inbound.queued]).toEqual([1, 0]);
  });

  it('steps heartbeats, votes and responses at once while an append waits on slow fetches', async () => {
    // A restarted voter with an empty mempool, sent an append whose entries it must all fetch,
    // 550 ms a round trip (a loaded leader): 3 entries take 1.65 s, longer than the 1-2 s
    // election timeout the leader's quorum check allows a silent voter.
    const t = await setup({ delayMs: 550 });
    const t0 = Date.now();
    t.send(append(0, [t.entry(0), t.entry(1), t.entry(2)]));
    const stepAt = new Map<string, number>();
    const beat = (k: number) => {
      const m = { ...append(0, []), commit: 0 };
      t.send(m);
      stepAt.set(`heartbeat ${k}`, Date.now() - t0);
    };
    // Heartbeats every 80 ms, as the leader sends them (2 ticks of 40 ms).
    for (let k = 0; k < 10; k++) {
      beat(k);
      await new Promise((r) => setTimeout(r, 80));
    }
    // Other messages from the same sender, hostile to order: a vote request at a higher term,
    // a response, a snapshot-less timeoutNow.
    for (const type of ['vote', 'prevote', 'appendResp', 'timeoutNow'] as const) {
      t.send({ ...append(0, []), type, term: 4 });
    }
    const now = t.stepped.map((m) => `${m.type}:${m.entries.length}`);
    expect(now).toEqual([
      ...Array(10).fill('append:0'),
      'vote:0',
      'prevote:0',
      'appendResp:0',
      'timeoutNow:0',
    ]);
    // Each heartbeat stepped when it came (in the loop above, not after the fetches).
    expect(Math.max(...stepAt.values())).toBeLessThan(1650);
    expect(t.inbound.queued).toBe(1);
    // The append itself steps once its 3 entries are fetched, whole, and is counted.
    await until(() => t.stepped.length === 15, 5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1650);
    expect(t.stepped[14]!.entries.map((e) => e.data)).toEqual(t.whole);
    expect([t.outcome('fetched'), t.inbound.queued]).toEqual([3, 0]);
  });

  it('drops only the message whose fetch fails or returns other bytes; the rest go on', async () => {
    const t = await setup({
      reply: (index) =>
        index === 1 ? new Error('timed out') : index === 2 ? randomBytes(100) : new Uint8Array(0),
    });
    t.send(append(0, [t.entry(0)]));
    t.send(append(1, [t.entry(1)]));
    t.send(append(2, [t.entry(2)]));
    t.send(append(7, []));
    // The empty append did not wait for them.
    expect(t.stepped.map((m) => m.index)).toEqual([7]);
    await until(() => t.outcome('dropped') === 3);
    expect([t.stepped.map((m) => m.index), t.inbound.queued]).toEqual([[7], 0]);
    // Afterwards, a message that fills steps at once again.
    t.hold(0);
    t.send(append(0, [t.entry(0)]));
    expect(t.stepped.map((m) => m.index)).toEqual([7, 0]);
  });

  it('refuses undecodable bytes and a message claiming another sender, and nothing while held', async () => {
    const t = await setup();
    t.send(append(0, []));
    t.inbound.receive('leader', new Uint8Array([0xff, 0x00]));
    t.inbound.receive('someone-else', encodeMessage(append(5, [])));
    expect(t.stepped.map((m) => m.index)).toEqual([0]);
    t.stop();
    t.send(append(9, []));
    expect(t.stepped).toHaveLength(1);
    // The message type stays what was sent.
    expect(decodeMessage(encodeMessage(t.stepped[0]!)).type).toBe('append');
  });
});
