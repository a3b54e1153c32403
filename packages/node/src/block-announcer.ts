/**
 * The node's side of block announcements (judged in block-announce.ts): as leader it announces
 * every block it applies; as follower it believes only the current term's leader, so a member
 * cannot park this node's view of the network beyond what it can check, and a claim catch-up
 * sync finds nothing behind is dropped (`settle`).
 */
import { fromHex, toHex } from '@ehr/core';
import type { Head } from '@ehr/store';
import { encodeAnnouncement, judgeAnnouncement, type Verdict } from './block-announce.ts';
import type { Logger } from './logger.ts';
import type { NodeMetrics } from './metrics.ts';
import type { Network, RaftStatus } from './ports.ts';

export const BLOCK_TOPIC = 'blocks';

export interface AnnouncerDeps {
  nodeId: string;
  network: Pick<Network, 'publish' | 'subscribe'>;
  head(): Head;
  consensus(): Pick<RaftStatus, 'term' | 'leader' | 'role'>;
  metrics: Pick<NodeMetrics, 'announcementsIgnored'>;
  logger: Logger;
  /** The current leader announced this height (catch-up judges whether it is far ahead). */
  onAnnounced(height: number): void;
}

export class BlockAnnouncer {
  private readonly deps: AnnouncerDeps;
  /** Highest height announced by the leader of `term` (0 until one is heard). */
  private announced = { height: 0, term: -1 };

  constructor(deps: AnnouncerDeps) {
    this.deps = deps;
  }

  start(): void {
    this.deps.network.subscribe(BLOCK_TOPIC, async (from, bytes) => this.received(from, bytes));
  }

  /** Nothing to release: the subscription ends with the host, which stops after this. */
  stop(): void {}

  /** A block was applied here: the leader tells everyone (fire and forget). */
  applied(block: { height: number; hash: string; stateHash: string }): void {
    if (this.deps.consensus().role !== 'leader') return;
    const note = encodeAnnouncement({
      height: block.height,
      hash: fromHex(block.hash),
      stateHash: fromHex(block.stateHash),
    });
    void this.deps.network.publish(BLOCK_TOPIC, note).catch(() => {});
  }

  /** The height the current term's leader announced (0 if none). */
  height(): number {
    const term = this.deps.consensus().term;
    return this.announced.term === term ? this.announced.height : 0;
  }

  /**
   * Catch-up sync looked and found no member ahead by more than its threshold: an announced
   * height above what this node holds was not true (or is already applied); forget it.
   */
  settle(): void {
    const height = this.deps.head().height;
    if (this.announced.height > height) {
      this.deps.logger.info(
        { announced: this.announced.height, height },
        'no member serves the announced height; dropping the claim',
      );
      this.deps.metrics.announcementsIgnored.inc(1, { reason: 'unconfirmed' });
      this.announced = { height, term: this.announced.term };
    }
  }

  received(from: string, bytes: Uint8Array): Verdict {
    const head = this.deps.head();
    const st = this.deps.consensus();
    const j = judgeAnnouncement(bytes, head, this.height());
    if (j.contradicts) {
      this.deps.logger.warn(
        { from, height: j.announcement!.height, mine: toHex(head.hash) },
        "a block announcement contradicts this node's block at that height",
      );
    }
    if (j.verdict !== 'accept') return j.verdict;
    // The leader floods its announcements to every member itself: a copy relayed by anyone else
    // is not taken (nor relayed further).
    if (st.leader === null || from !== st.leader || st.leader === this.deps.nodeId) {
      this.deps.metrics.announcementsIgnored.inc(1, { reason: 'not_from_leader' });
      return 'ignore';
    }
    this.announced = { height: j.announcement!.height, term: st.term };
    this.deps.onAnnounced(this.announced.height);
    return 'accept';
  }
}
