/**
 * Read barrier for access-controlled reads: before a node answers one, it learns the leader's
 * commit index and waits until it has applied that far. So a read that starts after a write was
 * acknowledged anywhere (a consent revoked through another node, say) sees that write. The
 * leader answers only while it can commit in its term; under a partition a deposed leader may
 * answer until CheckQuorum makes it step down (at most two election timeouts): reads are
 * bounded-stale then, never older than what that leader had committed.
 *
 * Concurrent reads share the leader's answer the way etcd batches ReadIndex: one request is in
 * flight per leader at a time; the reads that arrive meanwhile wait for the next one, which is
 * sent when the first returns and answers them all. A read never takes an answer to a request
 * sent before it arrived (that answer could predate a write acknowledged before the read began),
 * so sharing keeps reads linearizable and costs at most one extra round trip, while 256 clients
 * reading through one follower cost two requests in flight instead of 256 streams to the leader.
 */
import { decode, EhrError, encode, expectInteger, expectMap } from '@ehr/core';

export const READ_INDEX_PROTOCOL = 'read-index';

export interface BarrierDeps {
  /** This node leads and has committed an entry in its term. */
  leading(): boolean;
  leader(): string | null;
  commitIndex(): number;
  appliedIndex(): number;
  /** Asks the leader for its commit index (request/response over the host). */
  askLeader(leader: string, timeoutMs: number): Promise<Uint8Array>;
  /** Calls back whenever something was applied; returns an unsubscribe function. */
  onApplied(fn: () => void): () => void;
}

/** The request in flight to one leader, and the one the reads that came after it will share. */
interface Shared {
  leader: string;
  inflight: Promise<number>;
  next: Promise<number> | undefined;
}

export class ReadBarrier {
  private readonly deps: BarrierDeps;
  private shared: Shared | undefined;
  /** Requests sent to the leader (to see the sharing at work). */
  requests = 0;
  constructor(deps: BarrierDeps) {
    this.deps = deps;
  }

  /** The leader side of the protocol: its commit index, if it may vouch for it. */
  answer(): Uint8Array {
    if (!this.deps.leading()) {
      throw new EhrError('NOT_LEADER', 'not the leader (or not yet committed in its term)', {
        leader: this.deps.leader(),
      });
    }
    return encode({ index: this.deps.commitIndex() });
  }

  /** Resolves once this node has applied everything the leader had committed. */
  async wait(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const target = await this.target(timeoutMs);
    if (this.deps.appliedIndex() >= target) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.deps.appliedIndex() >= target) {
          done();
          resolve();
        } else if (Date.now() > deadline) {
          done();
          reject(
            new EhrError(
              'NOT_READY',
              `this node has applied up to ${this.deps.appliedIndex()} of the leader's ${target} and could not catch up within ${timeoutMs} ms; retry, or ask another node`,
              { applied: this.deps.appliedIndex(), target },
            ),
          );
        }
      };
      const off = this.deps.onApplied(check);
      const timer = setInterval(check, 50);
      const done = () => {
        off();
        clearInterval(timer);
      };
    });
  }

  private async target(timeoutMs: number): Promise<number> {
    if (this.deps.leading()) return this.deps.commitIndex();
    const leader = this.deps.leader();
    if (!leader) {
      throw new EhrError(
        'NO_LEADER',
        'the network has no leader right now, so this node cannot tell whether it is up to date; retry shortly',
        {},
      );
    }
    try {
      return await this.ask(leader, timeoutMs);
    } catch (err) {
      throw new EhrError(
        'NO_LEADER',
        `could not confirm with the leader that this node is up to date: ${(err as Error).message}`,
        { leader },
      );
    }
  }

  /** The leader's commit index from a request sent after this call (shared; see the top). */
  private ask(leader: string, timeoutMs: number): Promise<number> {
    const s = this.shared;
    if (s === undefined || s.leader !== leader) return this.send(leader, timeoutMs);
    s.next ??= s.inflight
      .catch(() => {})
      .then(() => {
        if (this.shared === s) this.shared = undefined;
        return this.send(leader, timeoutMs);
      });
    return s.next;
  }

  /** Sends one request; it is the one in flight (for `leader`) until it returns. */
  private send(leader: string, timeoutMs: number): Promise<number> {
    this.requests++;
    const inflight = this.deps
      .askLeader(leader, timeoutMs)
      .then((reply) =>
        expectInteger(expectMap(decode(reply), 'read-index reply')['index'], 'index'),
      );
    const s: Shared = { leader, inflight, next: undefined };
    this.shared = s;
    inflight.then(
      () => this.settled(s),
      () => this.settled(s),
    );
    return inflight;
  }

  private settled(s: Shared): void {
    // Nobody queued behind it: the next read sends its own request at once.
    if (this.shared === s && s.next === undefined) this.shared = undefined;
  }
}
