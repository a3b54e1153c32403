/**
 * Who the members are, and bringing the consensus membership in line with them. The chain's
 * member list (validators and observers the admins approved) is the truth; the engine's
 * voters and learners follow it through single-server changes the leader proposes, one at a
 * time (the engine refuses a second while one is pending).
 */
import type { ConfChange } from '@ehr/consensus';
import { listMembers, type Member, type StateScanner } from '@ehr/ledger';
import type { Logger } from './logger.ts';
import type { RaftStatus } from './ports.ts';

/** The chain's member list, re-read when a block changes it. */
export class MemberList {
  private readonly state: StateScanner;
  private list: Member[] = [];
  private ids = new Set<string>();

  constructor(state: StateScanner) {
    this.state = state;
  }

  async refresh(): Promise<void> {
    this.list = await listMembers(this.state);
    this.ids = new Set(this.list.map((m) => m.node));
  }

  all(): Member[] {
    return this.list;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}

/** What reconciling needs of the engine's owner: its view, and the two changes it may ask. */
export interface MembershipControl {
  status(): Pick<RaftStatus, 'id' | 'role' | 'voters' | 'learners' | 'removed'>;
  proposeMembership(change: ConfChange): void;
  transferLeadership(to: string): void;
}

/**
 * The next step towards `want` (node -> role), or null when the engine already matches:
 * promote a validator that is a learner, add a member the engine lacks (as learner first),
 * remove one the chain dropped - this node last, by handing leadership away first.
 */
export function nextMembershipStep(
  want: ReadonlyMap<string, Member['role']>,
  st: Pick<RaftStatus, 'id' | 'voters' | 'learners' | 'removed'>,
): { change: ConfChange } | { transferTo: string } | null {
  for (const [node, role] of want) {
    if (role === 'validator' && st.learners.includes(node)) {
      return { change: { op: 'promote', node } };
    }
    if (!st.voters.includes(node) && !st.learners.includes(node) && !st.removed.includes(node)) {
      return { change: { op: 'addLearner', node } };
    }
  }
  for (const node of [...st.voters, ...st.learners]) {
    if (want.has(node)) continue;
    if (node === st.id) {
      const next = st.voters.find((v) => v !== st.id);
      return next ? { transferTo: next } : null;
    }
    return { change: { op: 'remove', node } };
  }
  return null;
}

/** On the leader, once a second: one step towards the chain's member list. */
export class MembershipReconciler {
  private readonly members: MemberList;
  private readonly engine: MembershipControl;
  private readonly logger: Logger;
  private readonly everyMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(deps: {
    members: MemberList;
    engine: MembershipControl;
    logger: Logger;
    everyMs?: number;
  }) {
    this.members = deps.members;
    this.engine = deps.engine;
    this.logger = deps.logger;
    this.everyMs = deps.everyMs ?? 1000;
  }

  start(): void {
    this.timer = setInterval(() => this.reconcile(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  reconcile(): void {
    const st = this.engine.status();
    if (st.role !== 'leader') return;
    const want = new Map(this.members.all().map((m) => [m.node, m.role]));
    const step = nextMembershipStep(want, st);
    if (!step) return;
    try {
      if ('change' in step) this.engine.proposeMembership(step.change);
      else this.engine.transferLeadership(step.transferTo);
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'membership change deferred');
    }
  }
}
