/**
 * A consensus message that does not decode or is out of range is dropped before the engine:
 * counted (ehr_consensus_refused_total{reason}), and logged at warn once a minute per peer with
 * how many since the last line, so one hostile member can neither stop the loop nor flood the log.
 */
import type { EhrError } from '@ehr/core';
import type { Logger } from './logger.ts';
import type { NodeMetrics } from './metrics.ts';

export class ConsensusRefusals {
  private readonly logger: Logger;
  private readonly metrics: Pick<NodeMetrics, 'consensusRefused'>;
  private readonly seen = new Map<string, { count: number; warnedAt: number }>();
  private readonly now: () => number;

  constructor(deps: {
    logger: Logger;
    metrics: Pick<NodeMetrics, 'consensusRefused'>;
    now?: () => number;
  }) {
    this.logger = deps.logger;
    this.metrics = deps.metrics;
    this.now = deps.now ?? Date.now;
  }

  refused(from: string, err: Error): void {
    const code = (err as EhrError).code;
    const reason =
      code === 'CONSENSUS_OUT_OF_RANGE' || /beyond/.test(err.message)
        ? 'out_of_range'
        : code === 'ENCODING_INVALID'
          ? 'malformed'
          : 'refused';
    this.metrics.consensusRefused.inc(1, { reason });
    const seen = this.seen.get(from) ?? { count: 0, warnedAt: -Infinity };
    seen.count++;
    const now = this.now();
    if (now - seen.warnedAt >= 60_000) {
      this.logger.warn(
        { peer: from, reason, err: err.message, refusedSinceLastLine: seen.count },
        'refused a consensus message from a member',
      );
      seen.count = 0;
      seen.warnedAt = now;
    }
    this.seen.set(from, seen);
  }
}
