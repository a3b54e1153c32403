/**
 * Governance: admins propose adding or removing an admin, a validator or an observer; other
 * admins approve. The proposer's proposal counts as their approval. When the approvals of
 * current admins reach the threshold (genesis `governance.threshold`: "majority" = more than half
 * of the current admins, or a fixed number capped at the current admin count), the change
 * applies in that same transaction. Every vote is kept under keys.vote. A validator or observer
 * change is reported as a ConsensusChange for the node to turn into a Raft config change.
 */
import { RejectCode, reject } from '../codes.ts';
import { keys } from '../keys.ts';
import type { Payloads } from '../kinds.ts';
import {
  type GovernanceAction,
  type GovernanceRole,
  getEntity,
  type Proposal,
  type Threshold,
  type Vote,
} from '../model.ts';
import { memberRole, requireRole, roleOf } from '../roles.ts';
import type { RuleCtx } from '../rule-context.ts';
import type { StateReader } from '../state.ts';
import { short } from '../words.ts';

/** Approvals needed with `admins` current admins. */
export function requiredApprovals(threshold: Threshold, admins: number): number {
  if (threshold === 'majority') return Math.floor(admins / 2) + 1;
  return Math.max(1, Math.min(threshold, admins));
}

export async function countOf(state: StateReader, key: string): Promise<number> {
  const v = await state.get(key);
  return typeof v === 'number' ? v : 0;
}

type Problem = { code: (typeof RejectCode)[keyof typeof RejectCode]; message: string };

/** Why the change cannot apply to the current state, or null if it can. */
async function problemWith(
  state: StateReader,
  action: GovernanceAction,
  role: GovernanceRole,
  subject: string,
): Promise<Problem | null> {
  const who = short(subject);
  if (role === 'admin') {
    const current = await roleOf(state, subject);
    if (action === 'add') {
      if (current !== null) {
        return { code: RejectCode.ALREADY_EXISTS, message: `${who} is already a ${current}` };
      }
      return null;
    }
    if (current !== 'admin') {
      return { code: RejectCode.UNKNOWN_ACCOUNT, message: `${who} is not an admin` };
    }
    if ((await countOf(state, keys.adminCount())) <= 1) {
      return { code: RejectCode.INVALID_STATE, message: `${who} is the last admin` };
    }
    return null;
  }
  const current = await memberRole(state, subject);
  if (action === 'add') {
    if (current === role || (role === 'observer' && current === 'validator')) {
      return { code: RejectCode.ALREADY_EXISTS, message: `node ${who} is already a ${current}` };
    }
    return null;
  }
  if (current !== role) {
    return { code: RejectCode.UNKNOWN_ACCOUNT, message: `node ${who} is not a ${role}` };
  }
  if (role === 'validator' && (await countOf(state, keys.validatorCount())) <= 1) {
    return { code: RejectCode.INVALID_STATE, message: `node ${who} is the last validator` };
  }
  return null;
}

async function applyChange(ctx: RuleCtx, proposal: Proposal): Promise<void> {
  const { action, role, subject } = proposal;
  const s = ctx.state;
  if (role === 'admin') {
    if (action === 'add') s.set(keys.admin(subject), { key: subject, since: ctx.time });
    else s.delete(keys.admin(subject));
    return;
  }
  const previousRole = await memberRole(s, subject);
  if (action === 'add') {
    s.set(keys.member(subject), { node: subject, role, since: ctx.time });
  } else {
    s.delete(keys.member(subject));
  }
  // Promoting an observer is one 'add validator' change with previousRole 'observer'.
  ctx.effects.consensusChanges.push({
    op: action,
    role,
    node: subject,
    previousRole,
    proposal: proposal.id,
  });
}

async function bump(ctx: RuleCtx, key: string, by: number): Promise<void> {
  ctx.state.set(key, (await countOf(ctx.state, key)) + by);
}

async function decide(ctx: RuleCtx, proposal: Proposal): Promise<Proposal> {
  const admins = await countOf(ctx.state, keys.adminCount());
  const needed = requiredApprovals(ctx.chain.threshold, admins);
  let valid = 0;
  for (const a of proposal.approvals) {
    if ((await ctx.state.get(keys.admin(a))) !== undefined) valid++;
  }
  if (valid < needed) return proposal;
  const problem = await problemWith(ctx.state, proposal.action, proposal.role, proposal.subject);
  if (problem) {
    return { ...proposal, status: 'failed', decidedAt: ctx.time, failure: problem.message };
  }
  await applyChange(ctx, proposal);
  if (proposal.role === 'admin') {
    await bump(ctx, keys.adminCount(), proposal.action === 'add' ? 1 : -1);
  } else if (proposal.role === 'validator') {
    await bump(ctx, keys.validatorCount(), proposal.action === 'add' ? 1 : -1);
  }
  return { ...proposal, status: 'applied', decidedAt: ctx.time };
}

async function saveVoteAndDecide(ctx: RuleCtx, proposal: Proposal): Promise<void> {
  const vote: Vote = { proposal: proposal.id, admin: ctx.author, at: ctx.time, height: ctx.height };
  ctx.state.set(keys.vote(proposal.id, ctx.author), vote);
  const next = await decide(ctx, proposal);
  ctx.state.set(keys.proposal(proposal.id), next);
  const open = keys.idx.openProposal(next.action, next.role, next.subject);
  if (next.status === 'open') ctx.state.set(open, next.id);
  else ctx.state.delete(open);
}

export async function governancePropose(
  ctx: RuleCtx,
  p: Payloads['governance.propose'],
): Promise<void> {
  await requireRole(ctx, 'admin', 'governance.propose');
  const problem = await problemWith(ctx.state, p.action, p.role, p.subject);
  if (problem) reject(problem.code, `cannot ${p.action} ${p.role}: ${problem.message}`);
  const open = await ctx.state.get(keys.idx.openProposal(p.action, p.role, p.subject));
  if (typeof open === 'string') {
    reject(
      RejectCode.ALREADY_EXISTS,
      `proposal ${short(open)} to ${p.action} ${p.role} ${short(p.subject)} is already open; approve it instead`,
      { proposal: open },
    );
  }
  const proposal: Proposal = {
    id: ctx.hash,
    action: p.action,
    role: p.role,
    subject: p.subject,
    proposer: ctx.author,
    reason: p.reason,
    createdAt: ctx.time,
    status: 'open',
    approvals: [ctx.author],
    decidedAt: null,
    failure: null,
  };
  await saveVoteAndDecide(ctx, proposal);
}

export async function governanceApprove(
  ctx: RuleCtx,
  p: Payloads['governance.approve'],
): Promise<void> {
  await requireRole(ctx, 'admin', 'governance.approve');
  const proposal = await getEntity<Proposal>(ctx.state, keys.proposal(p.proposal));
  if (!proposal) {
    reject(RejectCode.UNKNOWN_PROPOSAL, `no proposal ${short(p.proposal)}`, {
      proposal: p.proposal,
    });
  }
  if (proposal.status !== 'open') {
    reject(
      RejectCode.INVALID_STATE,
      `proposal ${short(p.proposal)} is already ${proposal.status}`,
      {
        proposal: p.proposal,
        status: proposal.status,
      },
    );
  }
  if ((await ctx.state.get(keys.vote(p.proposal, ctx.author))) !== undefined) {
    reject(RejectCode.DUPLICATE, `admin ${short(ctx.author)} already approved this proposal`, {
      proposal: p.proposal,
    });
  }
  await saveVoteAndDecide(ctx, { ...proposal, approvals: [...proposal.approvals, ctx.author] });
}
