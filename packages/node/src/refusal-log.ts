/**
 * Peers refused for not being members: each refusal is counted (`ehr_p2p_refused_total{reason}`)
 * and logged at warn, at most once per peer and reason per `everyMs` (a foreign peer retrying
 * every few milliseconds must not flood the log); the line after a quiet spell says how many
 * refusals it stood for. The table of peers seen is bounded.
 */
import type { RefusalReason } from '@ehr/p2p';
import type { Logger } from './logger.ts';
import type { NodeMetrics } from './metrics.ts';

const MAX_PEERS = 1024;

export class RefusalLog {
  private readonly log: Logger;
  private readonly metrics: NodeMetrics;
  private readonly everyMs: number;
  private readonly now: () => number;
  /** peer|reason -> when it was last logged and refusals since. */
  private readonly seen = new Map<string, { at: number; suppressed: number }>();

  constructor(opts: {
    logger: Logger;
    metrics: NodeMetrics;
    everyMs?: number;
    now?: () => number;
  }) {
    this.log = opts.logger;
    this.metrics = opts.metrics;
    this.everyMs = opts.everyMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  refused(reason: RefusalReason, peer: string): void {
    this.metrics.p2pRefused.inc(1, { reason });
    const key = `${peer}|${reason}`;
    const t = this.now();
    const s = this.seen.get(key);
    if (s && t - s.at < this.everyMs) {
      s.suppressed++;
      return;
    }
    this.seen.delete(key);
    if (this.seen.size >= MAX_PEERS) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(key, { at: t, suppressed: 0 });
    this.log.warn(
      {
        peer,
        reason,
        ...(s ? { refusedSinceLastLine: s.suppressed + 1 } : {}),
        nextLineAfterMs: this.everyMs,
      },
      'refused a peer that is not a member',
    );
  }
}
