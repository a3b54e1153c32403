/**
 * Read barrier for access-controlled reads: before a node answers one, it learns the leader's
 * commit index and waits until it has applied that far. So a read that starts after a write was
 * acknowledged anywhere (a consent revoked through another node, say) sees that write. The
 * leader answers only while it can commit in its term; under a partition a deposed leader may
 * answer until CheckQuorum makes it step down (at most two election timeouts): reads are
 * bounded-stale then, never older than what that leader had committed.
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

export class ReadBarrier {
  private readonly deps: BarrierDeps;
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
    let reply: Uint8Array;
    try {
      reply = await this.deps.askLeader(leader, timeoutMs);
    } catch (err) {
      throw new EhrError(
        'NO_LEADER',
        `could not confirm with the leader that this node is up to date: ${(err as Error).message}`,
        { leader },
      );
    }
    return expectInteger(expectMap(decode(reply), 'read-index reply')['index'], 'index');
  }
}
