import {
  decodeTx,
  encodeTx,
  sha256,
  signBlock,
  signTx,
  toHex,
  txHash,
  txRootOf,
  ZERO_HASH,
} from '@ehr/core';
import { describe, expect, it } from 'vitest';
import {
  applyBlock,
  BlockBuilder,
  checkTx,
  keys,
  MapState,
  nextNonce,
  Overlay,
  stateHashAfter,
  type TxResult,
} from '../src/index.ts';
import {
  account,
  body,
  hospitalPayload,
  patientPayload,
  ref,
  reportPayload,
  TestChain,
  world,
  wrapped,
} from './helpers.ts';

const admin = account('admin');

describe('authentication stage', () => {
  it('rejects undecodable, foreign, forged, out-of-order, repeated and oversized transactions without touching state', async () => {
    const chain = new TestChain({ limits: { maxTxBytes: 2048 } });
    const good = chain.tx(admin, 'hospital.register', hospitalPayload('a', ['x']));
    const foreign = encodeTx(
      signTx(
        {
          chainId: 'other-chain',
          author: admin.key,
          nonce: 1,
          kind: 'hospital.deactivate',
          payload: { id: 'a' },
        },
        admin.secret,
      ),
    );
    const forged = encodeTx({
      ...decodeTx(chain.tx(admin, 'hospital.deactivate', { id: 'a' }, 1)),
      signature: new Uint8Array(64).fill(1),
    });
    const ahead = chain.tx(admin, 'hospital.deactivate', { id: 'a' }, 5);
    const huge = chain.tx(
      admin,
      'hospital.register',
      { ...hospitalPayload('b', ['x']), address: 'y'.repeat(3000) },
      1,
    );
    const r = await chain.commit([
      good,
      new Uint8Array([1, 2, 3]),
      foreign,
      forged,
      ahead,
      good,
      huge,
    ]);
    expect(r.receipts.map((x) => x.code)).toEqual([
      null,
      'MALFORMED',
      'WRONG_CHAIN',
      'BAD_SIGNATURE',
      'BAD_NONCE',
      'DUPLICATE',
      'PAYLOAD_TOO_LARGE',
    ]);
    expect(r.receipts.slice(1).every((x) => !x.nonceConsumed && !x.ok)).toBe(true);
    expect(r.receipts[1]).toMatchObject({ kind: null, author: null });
    expect(r.receipts[4]!.message).toMatch(/nonce 5 is not the account's next nonce 1/);
    // Only the applied transaction wrote: its effects, nonce and receipt; plus the head.
    expect(r.writes.map(([k]) => k)).toEqual([
      keys.hospital('a'),
      keys.head(),
      keys.nonce(admin.hex),
      keys.tx(r.receipts[0]!.hash),
    ]);
    expect(await nextNonce(chain.state, admin.hex)).toBe(1);
    expect(await chain.state.get(keys.tx(r.receipts[0]!.hash))).toEqual({
      height: 1,
      index: 0,
      kind: 'hospital.register',
      code: null,
    });

    // A transaction already applied in an earlier block is a duplicate too.
    expect((await chain.one(good)).code).toBe('DUPLICATE');
  });

  it('records a rule rejection: nonce consumed, failure code kept, nothing else', async () => {
    const chain = new TestChain();
    const r = await chain.commit([chain.tx(admin, 'hospital.deactivate', { id: 'nope' })]);
    expect(r.receipts[0]).toMatchObject({
      ok: false,
      code: 'UNKNOWN_HOSPITAL',
      nonceConsumed: true,
    });
    expect(r.writes.map(([k]) => k).sort()).toEqual(
      [keys.head(), keys.nonce(admin.hex), keys.tx(r.receipts[0]!.hash)].sort(),
    );
    expect(await chain.state.get(keys.tx(r.receipts[0]!.hash))).toMatchObject({
      code: 'UNKNOWN_HOSPITAL',
    });
    expect(await nextNonce(chain.state, admin.hex)).toBe(1);
  });

  it('skips signature verification for transactions the caller already verified', async () => {
    const chain = new TestChain();
    const forged = encodeTx({
      ...decodeTx(chain.tx(admin, 'hospital.register', hospitalPayload('a', ['x']))),
      signature: new Uint8Array(64).fill(9),
    });
    const hash = toHex(txHash(forged));
    // Trusting the cache is the point: the mempool verified it, so the rules do not again.
    const trusted = await applyBlock(
      chain.state,
      { header: chain.header([forged]), txs: [forged], signature: new Uint8Array(64) },
      undefined,
      {
        prevStateHash: chain.prevStateHash,
        checkStateHash: false,
        verified: new Set([hash]),
      },
    );
    expect(trusted.receipts[0]!.ok).toBe(true);
    const checked = await applyBlock(
      chain.state,
      { header: chain.header([forged]), txs: [forged], signature: new Uint8Array(64) },
      undefined,
      {
        prevStateHash: chain.prevStateHash,
        checkStateHash: false,
        verified: new Set(['00']),
      },
    );
    expect(checked.receipts[0]!.code).toBe('BAD_SIGNATURE');
  });
});

describe('blocks', () => {
  it('is deterministic: the same block on the same state gives the same writes and state hash', async () => {
    const { chain, alice } = await world();
    const rep = reportPayload('d', 'city-general', 'cardiology');
    const txs = [
      chain.tx(alice, 'record.submit', rep.payload),
      chain.tx(admin, 'hospital.deactivate', { id: 'river-clinic' }),
    ];
    const header = chain.header(txs);
    const block = { header, txs, signature: new Uint8Array(64) };
    const payloads = new Map([[toHex(sha256(rep.body)), rep.body]]);
    const opts = { prevStateHash: chain.prevStateHash, checkStateHash: false };
    const a = await applyBlock(chain.state, block, payloads, opts);
    const b = await applyBlock(chain.state, block, payloads, opts);
    const copy = new MapState(chain.state.map);
    const c = await applyBlock(copy, block, payloads, opts);
    expect(b.writes).toEqual(a.writes);
    expect(c.writes).toEqual(a.writes);
    expect(toHex(b.stateHash)).toBe(toHex(a.stateHash));
    expect(toHex(c.stateHash)).toBe(toHex(a.stateHash));
    expect(toHex(a.stateHash)).toBe(toHex(stateHashAfter(chain.prevStateHash, a.writes)));
    // The write set is key-ordered and the base is untouched.
    const ks = a.writes.map(([k]) => k);
    expect(ks).toEqual([...ks].sort());
    expect(await chain.state.get(keys.record(a.receipts[0]!.hash))).toBeUndefined();
    // A different block time changes the state hash (it is written into state).
    const later = await applyBlock(
      chain.state,
      { ...block, header: { ...header, time: header.time + 1 } },
      payloads,
      opts,
    );
    expect(toHex(later.stateHash)).not.toBe(toHex(a.stateHash));
  });

  it('builds a block as the leader and every follower applies it to the same state hash', async () => {
    const { chain, alice, bob, heart } = await world();
    const rep = reportPayload('lead', 'city-general', 'cardiology');
    const payloads = new Map([[toHex(sha256(rep.body)), rep.body]]);
    const time = chain.time + 1000;
    const builder = await BlockBuilder.open(chain.state, {
      height: chain.height + 1,
      time,
      payloads,
    });
    const submit = chain.tx(alice, 'record.submit', rep.payload);
    const bad = chain.tx(bob, 'consent.revoke', { hospital: 'city-general' });
    const missingBody = chain.tx(
      bob,
      'record.submit',
      reportPayload('no body', 'city-general', 'cardiology').payload,
      // The refused revoke before it used nonce 1 (a rule refusal goes into the block).
      2,
    );
    const rx = chain.tx(heart, 'prescription.write', {
      record: toHex(txHash(submit)),
      ...ref(body('rx')),
      patientKey: wrapped('p'),
      hospitalKey: wrapped('h'),
    });
    const results: (TxResult | 'full')[] = [];
    for (const tx of [submit, bad, missingBody]) results.push(await builder.add(tx));
    results.push(await builder.add(rx, new Map([[toHex(sha256(body('rx'))), body('rx')]])));
    expect(results.map((r) => (r === 'full' ? r : r.code))).toEqual([
      null,
      'CONSENT_MISSING',
      'PAYLOAD_MISSING',
      null,
    ]);
    // The refused revoke is kept with a failed receipt; the one without its body is left out.
    expect(builder.txs).toEqual([submit, bad, rx]);
    const built = builder.finish(chain.prevStateHash);
    expect(built.receipts.map((r) => [r.index, r.ok])).toEqual([
      [0, true],
      [1, false],
      [2, true],
    ]);

    const header = { ...chain.header(builder.txs, built.stateHash, time) };
    const block = signBlock(header, builder.txs, chain.proposer.secret);
    const allBodies = new Map([...payloads, [toHex(sha256(body('rx'))), body('rx')]]);
    const follower = await applyBlock(new MapState(chain.state.map), block, allBodies, {
      prevStateHash: chain.prevStateHash,
    });
    expect(follower.writes).toEqual(built.writes);
    expect(toHex(follower.stateHash)).toBe(toHex(built.stateHash));
    // A follower missing a body (not delivered yet, or erased) still agrees on state.
    const partial = await applyBlock(chain.state, block, new Map(), {
      prevStateHash: chain.prevStateHash,
    });
    expect(toHex(partial.stateHash)).toBe(toHex(built.stateHash));
  });

  it('stops filling at the block limits', async () => {
    const chain = new TestChain({ limits: { maxTxsPerBlock: 2 } });
    const builder = await BlockBuilder.open(chain.state, { height: 1, time: chain.time + 1 });
    const txs = [0, 1, 2].map((i) =>
      chain.tx(admin, 'hospital.register', hospitalPayload(`h${i}`, ['x'])),
    );
    const results: (TxResult | 'full')[] = [];
    for (const tx of txs) results.push(await builder.add(tx));
    expect(results.map((r) => (r === 'full' ? r : r.ok))).toEqual([true, true, 'full']);
    await expect(
      applyBlock(
        chain.state,
        { header: chain.header(txs), txs, signature: new Uint8Array(64) },
        undefined,
        { prevStateHash: chain.prevStateHash },
      ),
    ).rejects.toMatchObject({
      code: 'BLOCK_INVALID',
      message: expect.stringMatching(/3 transactions; the limit is 2/),
    });
  });

  it('refuses invalid blocks and a mismatching state hash', async () => {
    const chain = new TestChain();
    const txs = [chain.tx(admin, 'hospital.register', hospitalPayload('a', ['x']))];
    const sig = new Uint8Array(64);
    const opts = { prevStateHash: chain.prevStateHash };
    const h = chain.header(txs);
    const cases: [Partial<typeof h>, RegExp][] = [
      [{ chainId: 'other' }, /block is for chain "other"/],
      [{ height: 2 }, /block height 2 does not follow the state's height 0/],
      [{ time: chain.time - 1 }, /is before the previous block's time/],
      [{ txCount: 2 }, /txCount 2 but body has 1/],
      [{ txRoot: ZERO_HASH }, /txRoot does not match body/],
    ];
    for (const [change, message] of cases) {
      await expect(
        applyBlock(
          chain.state,
          { header: { ...h, ...change }, txs, signature: sig },
          undefined,
          opts,
        ),
      ).rejects.toMatchObject({
        code: 'BLOCK_INVALID',
        message: expect.stringMatching(message),
      });
    }
    await expect(
      applyBlock(chain.state, { header: h, txs, signature: sig }, undefined, opts),
    ).rejects.toMatchObject({
      code: 'STATE_MISMATCH',
    });
    expect(txRootOf(txs)).toEqual(h.txRoot);
  });
});

describe('checkTx', () => {
  it('admits on a pending overlay, leaves state untouched on rejection, checks bodies', async () => {
    const { chain } = await world();
    const carol = account('carol');
    const signup = patientPayload(carol);
    const pending = new Overlay(chain.state);
    const ctx = { height: chain.height + 1, time: chain.time + 1 };

    const missing = await checkTx(
      pending,
      chain.tx(carol, 'patient.register', signup.payload, 0),
      ctx,
    );
    expect(missing).toMatchObject({ ok: false, code: 'PAYLOAD_MISSING', nonceConsumed: false });
    const wrong = await checkTx(pending, chain.tx(carol, 'patient.register', signup.payload, 0), {
      ...ctx,
      payloads: new Map([[toHex(sha256(signup.profile)), body('something else', 80)]]),
    });
    expect(wrong).toMatchObject({ ok: false, code: 'PAYLOAD_MISMATCH' });
    expect(pending.size).toBe(0);

    const ok = await checkTx(pending, chain.tx(carol, 'patient.register', signup.payload, 0), {
      ...ctx,
      payloads: new Map([[toHex(sha256(signup.profile)), signup.profile]]),
    });
    expect(ok).toMatchObject({
      ok: true,
      effects: { payloadsReferenced: [toHex(sha256(signup.profile))] },
    });
    expect(await nextNonce(pending, carol.hex)).toBe(1);
    expect(await nextNonce(chain.state, carol.hex)).toBe(0);
    // The next transaction of the account sees the pending registration.
    const rep = reportPayload('c', 'city-general', 'cardiology');
    const next = await checkTx(pending, chain.tx(carol, 'record.submit', rep.payload, 1), {
      ...ctx,
      requirePayloads: false,
    });
    expect(next.ok).toBe(true);
  });

  it('keeps a committed transaction whose delivered body does not match, reporting the body', async () => {
    const chain = new TestChain();
    const carol = account('carol');
    const signup = patientPayload(carol);
    const tx = chain.tx(carol, 'patient.register', signup.payload);
    const header = chain.header([tx]);
    const bad = new Map([[toHex(sha256(signup.profile)), body('tampered', 80)]]);
    const r = await applyBlock(
      chain.state,
      { header, txs: [tx], signature: new Uint8Array(64) },
      bad,
      {
        prevStateHash: chain.prevStateHash,
        checkStateHash: false,
      },
    );
    expect(r.receipts[0]!.ok).toBe(true);
    expect(r.payloads.rejected).toEqual([toHex(sha256(signup.profile))]);
    expect(r.payloads.referenced).toEqual([toHex(sha256(signup.profile))]);
  });
});
