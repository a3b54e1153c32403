/** The node's side of announcements: only the current term's leader is believed, and a claim no member backs goes. */
import { sha256, toHex, utf8 } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { encodeAnnouncement } from '../src/block-announce.ts';
import { BLOCK_TOPIC, BlockAnnouncer } from '../src/block-announcer.ts';
import { nodeMetrics } from '../src/metrics.ts';
import type { RaftStatus } from '../src/ports.ts';
import { capturingLogger } from './capture.ts';
import { MemNet } from './mem-net.ts';

const h = (s: string) => sha256(utf8(s));
const note = (height: number) =>
  encodeAnnouncement({ height, hash: h(`b${height}`), stateHash: h(`s${height}`) });

function setup() {
  const net = new MemNet('me', new Map());
  const consensus: Pick<RaftStatus, 'term' | 'leader' | 'role'> = {
    term: 3,
    leader: 'L',
    role: 'follower',
  };
  let head = { height: 10, hash: h('b10'), stateHash: h('s10'), time: 0, applied: 12 };
  const heard: number[] = [];
  const metrics = nodeMetrics();
  const { logger, lines } = capturingLogger();
  const a = new BlockAnnouncer({
    nodeId: 'me',
    network: net,
    head: () => head,
    consensus: () => consensus,
    metrics,
    logger,
    onAnnounced: (x) => heard.push(x),
  });
  a.start();
  return { a, net, consensus, heard, metrics, lines, setHead: (x: typeof head) => (head = x) };
}

describe('BlockAnnouncer', () => {
  it("believes the current term's leader only, and forgets its claim when the term changes", async () => {
    const s = setup();
    const validate = s.net.topics.get(BLOCK_TOPIC)!;
    expect(await validate('someone', note(1_000_000_000_000))).toBe('ignore');
    expect(s.a.height()).toBe(0);
    expect(await validate('L', note(15))).toBe('accept');
    expect(s.a.height()).toBe(15);
    expect(s.heard).toEqual([15]);
    // Repeats and old news are not relayed.
    expect(await validate('L', note(15))).toBe('ignore');
    s.consensus.term = 4;
    expect(s.a.height()).toBe(0);
    expect(await s.metrics.registry.render()).toMatch(/reason="not_from_leader"\} 1/);
  });

  it('a hostile leader-of-the-term claim is dropped once catch-up finds no member that far', async () => {
    const s = setup();
    const validate = s.net.topics.get(BLOCK_TOPIC)!;
    expect(await validate('L', note(2 ** 40))).toBe('accept');
    expect(s.a.height()).toBe(2 ** 40);
    s.a.settle();
    expect(s.a.height()).toBe(10);
    expect(
      s.lines.some((l) => l['msg'] === 'no member serves the announced height; dropping the claim'),
    ).toBe(true);
    // Beyond the engine's range, or garbage: refused outright.
    expect(await validate('L', note(2 ** 53 - 1))).toBe('reject');
    expect(await validate('L', new Uint8Array([0xa1]))).toBe('reject');
  });

  it('contradicting the block held at that height is rejected and logged', async () => {
    const s = setup();
    const validate = s.net.topics.get(BLOCK_TOPIC)!;
    const lie = encodeAnnouncement({ height: 10, hash: h('other'), stateHash: h('s10') });
    expect(await validate('L', lie)).toBe('reject');
    expect(s.lines.some((l) => /contradicts/.test(String(l['msg'])))).toBe(true);
  });

  it('announces applied blocks only while leader', () => {
    const s = setup();
    const block = { height: 11, hash: toHex(h('b11')), stateHash: toHex(h('s11')) };
    s.a.applied(block);
    expect(s.net.published).toHaveLength(0);
    s.consensus.role = 'leader';
    s.a.applied(block);
    expect(s.net.published).toEqual([{ topic: BLOCK_TOPIC, bytes: note(11) }]);
  });
});
