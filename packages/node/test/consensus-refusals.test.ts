import { EhrError } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { ConsensusRefusals } from '../src/consensus-refusals.ts';
import { nodeMetrics } from '../src/metrics.ts';
import { capturingLogger } from './capture.ts';

describe('ConsensusRefusals', () => {
  it('counts every refusal by reason and warns once a minute per peer, with how many since', async () => {
    const { logger, lines } = capturingLogger();
    const metrics = nodeMetrics();
    let now = 1_000_000;
    const r = new ConsensusRefusals({ logger, metrics, now: () => now });
    const beyond = new EhrError('CONSENSUS_OUT_OF_RANGE', 'term 9007199254740991 is beyond 2^48');
    for (let i = 0; i < 1000; i++) r.refused('rogue', beyond);
    r.refused('other', new EhrError('ENCODING_INVALID', 'truncated'));
    const warns = () =>
      lines.filter((l) => l['msg'] === 'refused a consensus message from a member');
    expect(warns().map((l) => l['peer'])).toEqual(['rogue', 'other']);
    now += 60_000;
    r.refused('rogue', beyond);
    expect(warns().at(-1)).toMatchObject({
      peer: 'rogue',
      reason: 'out_of_range',
      refusedSinceLastLine: 1000,
    });
    const text = await metrics.registry.render();
    expect(text).toMatch(/ehr_consensus_refused_total\{reason="out_of_range"\} 1001/);
    expect(text).toMatch(/ehr_consensus_refused_total\{reason="malformed"\} 1/);
  });
});
