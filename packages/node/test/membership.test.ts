import type { ConfChange } from '@ehr/consensus';
import type { Member } from '@ehr/ledger';
import { describe, expect, it } from 'vitest';
import { type MemberList, MembershipReconciler, nextMembershipStep } from '../src/membership.ts';
import type { RaftStatus } from '../src/ports.ts';
import { capturingLogger } from './capture.ts';

const st = (over: Partial<RaftStatus>) => ({
  id: 'me',
  voters: ['me'],
  learners: [],
  removed: [],
  ...over,
});
const want = (...m: [string, Member['role']][]) => new Map(m);

describe('nextMembershipStep', () => {
  it('adds a new member as learner first, then promotes a validator, one step at a time', () => {
    expect(nextMembershipStep(want(['me', 'validator'], ['n2', 'validator']), st({}))).toEqual({
      change: { op: 'addLearner', node: 'n2' },
    });
    expect(
      nextMembershipStep(want(['me', 'validator'], ['n2', 'validator']), st({ learners: ['n2'] })),
    ).toEqual({ change: { op: 'promote', node: 'n2' } });
    // An observer stays a learner.
    expect(
      nextMembershipStep(want(['me', 'validator'], ['o', 'observer']), st({ learners: ['o'] })),
    ).toBeNull();
  });

  it('removes what the chain dropped; never re-adds a removed id; hands leadership away before removing itself', () => {
    expect(nextMembershipStep(want(['me', 'validator']), st({ voters: ['me', 'gone'] }))).toEqual({
      change: { op: 'remove', node: 'gone' },
    });
    expect(
      nextMembershipStep(want(['me', 'validator'], ['old', 'validator']), st({ removed: ['old'] })),
    ).toBeNull();
    expect(nextMembershipStep(want(['n2', 'validator']), st({ voters: ['me', 'n2'] }))).toEqual({
      transferTo: 'n2',
    });
    // Alone and dropped: nothing it can do safely.
    expect(nextMembershipStep(want(), st({}))).toBeNull();
  });
});

describe('MembershipReconciler', () => {
  it('acts only as leader, and a refused change is deferred to the next round, not thrown', () => {
    const { logger, lines } = capturingLogger();
    const asked: ConfChange[] = [];
    let role: RaftStatus['role'] = 'follower';
    let busy = false;
    const members = {
      all: () => [
        { node: 'me', role: 'validator', since: 0 },
        { node: 'n2', role: 'validator', since: 1 },
      ],
    } as unknown as MemberList;
    const r = new MembershipReconciler({
      members,
      logger,
      engine: {
        status: () => ({ id: 'me', role, voters: ['me'], learners: [], removed: [] }),
        proposeMembership: (c) => {
          if (busy) throw new Error('a membership change is pending');
          asked.push(c);
        },
        transferLeadership: () => {},
      },
    });
    r.reconcile();
    expect(asked).toEqual([]);
    role = 'leader';
    busy = true;
    r.reconcile();
    expect(lines.some((l) => l['msg'] === 'membership change deferred')).toBe(true);
    busy = false;
    r.reconcile();
    expect(asked).toEqual([{ op: 'addLearner', node: 'n2' }]);
  });
});
