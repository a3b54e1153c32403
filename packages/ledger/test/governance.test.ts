import { describe, expect, it } from 'vitest';
import {
  getEntity,
  keys,
  type Member,
  type Proposal,
  prefixes,
  requiredApprovals,
  type Vote,
} from '../src/index.ts';
import { account, TestChain } from './helpers.ts';

const [a1, a2, a3] = [account('admin'), account('admin2'), account('admin3')];
const nodeA = account('node-a');
const nodeB = account('node-b');
const nodeC = account('node-c');

async function votesOf(chain: TestChain, proposal: string): Promise<Vote[]> {
  const out: Vote[] = [];
  for await (const [, v] of chain.state.scan(prefixes.votes(proposal))) out.push(v as Vote);
  return out;
}

describe('governance', () => {
  it('computes thresholds', () => {
    expect(requiredApprovals('majority', 1)).toBe(1);
    expect(requiredApprovals('majority', 2)).toBe(2);
    expect(requiredApprovals('majority', 3)).toBe(2);
    expect(requiredApprovals('majority', 4)).toBe(3);
    expect(requiredApprovals(3, 5)).toBe(3);
    expect(requiredApprovals(3, 2)).toBe(2);
  });

  it('adds a validator at the majority threshold and reports a consensus change', async () => {
    const chain = new TestChain({ admins: [a1, a2, a3], validators: [nodeA] });
    const propose = chain.tx(a1, 'governance.propose', {
      action: 'add',
      role: 'validator',
      subject: nodeB.key,
      reason: 'hospital B node',
    });
    const r1 = await chain.commit([propose]);
    expect(r1.receipts[0]).toMatchObject({ ok: true });
    expect(r1.consensusChanges).toEqual([]);
    const id = r1.receipts[0]!.hash;
    const p1 = await getEntity<Proposal>(chain.state, keys.proposal(id));
    expect(p1).toMatchObject({
      status: 'open',
      approvals: [a1.hex],
      proposer: a1.hex,
      reason: 'hospital B node',
    });
    expect(await getEntity<Member>(chain.state, keys.member(nodeB.hex))).toBeUndefined();

    // The proposer cannot vote twice; an unknown proposal is rejected.
    const again = await chain.commit([
      chain.tx(a1, 'governance.approve', { proposal: id }),
      chain.tx(a2, 'governance.approve', { proposal: 'f'.repeat(64) }),
    ]);
    expect(again.receipts.map((r) => r.code)).toEqual(['DUPLICATE', 'UNKNOWN_PROPOSAL']);

    const r2 = await chain.commit([chain.tx(a2, 'governance.approve', { proposal: id })]);
    expect(r2.receipts[0]).toMatchObject({ ok: true });
    expect(r2.consensusChanges).toEqual([
      { op: 'add', role: 'validator', node: nodeB.hex, previousRole: null, proposal: id },
    ]);
    expect(await getEntity<Member>(chain.state, keys.member(nodeB.hex))).toMatchObject({
      role: 'validator',
    });
    expect(await chain.state.get(keys.validatorCount())).toBe(2);
    const p2 = await getEntity<Proposal>(chain.state, keys.proposal(id));
    expect(p2).toMatchObject({
      status: 'applied',
      approvals: [a1.hex, a2.hex],
      decidedAt: chain.time,
    });
    expect((await votesOf(chain, id)).map((v) => v.admin).sort()).toEqual([a1.hex, a2.hex].sort());

    // Closed: a late vote is rejected and not recorded.
    const late = await chain.one(chain.tx(a3, 'governance.approve', { proposal: id }));
    expect(late.code).toBe('INVALID_STATE');
    expect(await votesOf(chain, id)).toHaveLength(2);
  });

  it('adds and removes admins, promotes an observer, removes a validator', async () => {
    const chain = new TestChain({ admins: [a1], validators: [nodeA, nodeB], observers: [nodeC] });
    // One admin: majority of 1 applies at once.
    const add = await chain.commit([
      chain.tx(a1, 'governance.propose', { action: 'add', role: 'admin', subject: a2.key }),
    ]);
    expect(add.receipts[0]).toMatchObject({ ok: true });
    expect(await chain.state.get(keys.admin(a2.hex))).toBeDefined();
    expect(await chain.state.get(keys.adminCount())).toBe(2);

    // Two admins: majority is 2.
    const promote = await chain.commit([
      chain.tx(a2, 'governance.propose', { action: 'add', role: 'validator', subject: nodeC.key }),
    ]);
    expect(promote.consensusChanges).toEqual([]);
    const done = await chain.commit([
      chain.tx(a1, 'governance.approve', { proposal: promote.receipts[0]!.hash }),
    ]);
    expect(done.consensusChanges).toMatchObject([
      { op: 'add', role: 'validator', node: nodeC.hex, previousRole: 'observer' },
    ]);
    expect(await getEntity<Member>(chain.state, keys.member(nodeC.hex))).toMatchObject({
      role: 'validator',
    });

    const rm = await chain.commit([
      chain.tx(a1, 'governance.propose', {
        action: 'remove',
        role: 'validator',
        subject: nodeB.key,
      }),
    ]);
    const rmDone = await chain.commit([
      chain.tx(a2, 'governance.approve', { proposal: rm.receipts[0]!.hash }),
    ]);
    expect(rmDone.consensusChanges).toMatchObject([
      { op: 'remove', role: 'validator', node: nodeB.hex, previousRole: 'validator' },
    ]);
    expect(await chain.state.get(keys.member(nodeB.hex))).toBeUndefined();
    expect(await chain.state.get(keys.validatorCount())).toBe(2);

    const rmAdmin = await chain.commit([
      chain.tx(a2, 'governance.propose', { action: 'remove', role: 'admin', subject: a1.key }),
    ]);
    await chain.commit([
      chain.tx(a1, 'governance.approve', { proposal: rmAdmin.receipts[0]!.hash }),
    ]);
    expect(await chain.state.get(keys.admin(a1.hex))).toBeUndefined();
    expect(await chain.state.get(keys.adminCount())).toBe(1);
    // The removed admin can no longer govern.
    const gone = await chain.one(
      chain.tx(a1, 'governance.propose', { action: 'add', role: 'observer', subject: nodeB.key }),
    );
    expect(gone.code).toBe('UNKNOWN_ACCOUNT');
  });

  it('rejects impossible or repeated proposals', async () => {
    const chain = new TestChain({ admins: [a1, a2], validators: [nodeA] });
    const patient = account('patient');
    const r = await chain.commit([
      chain.tx(a1, 'governance.propose', {
        action: 'remove',
        role: 'validator',
        subject: nodeA.key,
      }),
      chain.tx(a1, 'governance.propose', { action: 'add', role: 'validator', subject: nodeA.key }),
      chain.tx(a1, 'governance.propose', { action: 'add', role: 'admin', subject: a2.key }),
      chain.tx(a1, 'governance.propose', {
        action: 'remove',
        role: 'observer',
        subject: nodeB.key,
      }),
      chain.tx(a1, 'governance.propose', { action: 'add', role: 'observer', subject: nodeB.key }),
      chain.tx(a2, 'governance.propose', { action: 'add', role: 'observer', subject: nodeB.key }),
      chain.tx(patient, 'governance.propose', {
        action: 'add',
        role: 'observer',
        subject: nodeC.key,
      }),
      chain.tx(a1, 'governance.propose', {
        action: 'promote',
        role: 'observer',
        subject: nodeC.key,
      }),
    ]);
    expect(r.receipts.map((x) => x.code)).toEqual([
      'INVALID_STATE',
      'ALREADY_EXISTS',
      'ALREADY_EXISTS',
      'UNKNOWN_ACCOUNT',
      null,
      'ALREADY_EXISTS',
      'UNKNOWN_ACCOUNT',
      'MALFORMED',
    ]);
    expect(r.receipts[0]!.message).toMatch(/last validator/);
    expect(r.receipts[5]!.message).toMatch(/already open; approve it instead/);
    expect(r.receipts[7]!.message).toMatch(/payload.action: expected one of "add", "remove"/);
  });

  it('marks an approved proposal failed when it can no longer apply, keeping the votes', async () => {
    const chain = new TestChain({ admins: [a1, a2, a3], validators: [nodeA] });
    const x = account('x');
    const p1 = await chain.commit([
      chain.tx(a1, 'governance.propose', { action: 'add', role: 'admin', subject: x.key }),
    ]);
    // Meanwhile x signs up as a patient, so it cannot become an admin.
    await chain.commit([
      chain.tx(x, 'patient.register', {
        profileHash: new Uint8Array(32).fill(7),
        profileSize: 10,
        profileKey: new Uint8Array(24),
      }),
    ]);
    const r = await chain.commit([
      chain.tx(a2, 'governance.approve', { proposal: p1.receipts[0]!.hash }),
    ]);
    expect(r.receipts[0]).toMatchObject({ ok: true });
    const p = await getEntity<Proposal>(chain.state, keys.proposal(p1.receipts[0]!.hash));
    expect(p).toMatchObject({
      status: 'failed',
      failure: expect.stringMatching(/already a patient/),
    });
    expect(await chain.state.get(keys.admin(x.hex))).toBeUndefined();
    expect(await votesOf(chain, p1.receipts[0]!.hash)).toHaveLength(2);
  });

  it('honours a fixed threshold', async () => {
    const chain = new TestChain({ admins: [a1, a2, a3], validators: [nodeA], threshold: 3 });
    const p = await chain.commit([
      chain.tx(a1, 'governance.propose', { action: 'add', role: 'observer', subject: nodeB.key }),
    ]);
    const id = p.receipts[0]!.hash;
    const r2 = await chain.commit([chain.tx(a2, 'governance.approve', { proposal: id })]);
    expect(r2.consensusChanges).toEqual([]);
    const r3 = await chain.commit([chain.tx(a3, 'governance.approve', { proposal: id })]);
    expect(r3.consensusChanges).toEqual([
      { op: 'add', role: 'observer', node: nodeB.hex, previousRole: null, proposal: id },
    ]);
  });
});
