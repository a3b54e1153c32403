/**
 * Issue 11 at the rules level: a transaction's deadline is final, a refusal by the rules in a
 * block uses the nonce (so it can never apply later), read purposes are codes, and the doctor
 * who prescribed keeps reading the report until the patient revokes that hospital.
 */
import { toHex, txHash } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { BlockBuilder, canRead, nextNonce } from '../src/index.ts';
import { body, ref, reportPayload, TestChain, world, wrapped } from './helpers.ts';

async function setup() {
  const chain = new TestChain();
  chain.deadlines = true;
  return world(chain);
}

describe('deadlines', () => {
  it('a transaction past its deadline is refused in any later block, without using its nonce', async () => {
    const { chain, alice } = await setup();
    const nonce = await nextNonce(chain.state, alice.hex);
    const late = chain.tx(
      alice,
      'consent.grant',
      { hospital: 'city-general', scope: 'all', keys: {} },
      nonce,
      chain.time + 500,
    );
    // The next block is 1 s later: past the deadline by 500 ms.
    const r = await chain.one(late);
    expect(r).toMatchObject({ ok: false, code: 'EXPIRED', nonceConsumed: false });
    expect(await nextNonce(chain.state, alice.hex)).toBe(nonce);
    // Exactly at the deadline it is still fine (the deadline is the latest block time).
    const onTime = chain.tx(
      alice,
      'consent.grant',
      { hospital: 'city-general', scope: 'all', keys: {} },
      nonce,
      chain.time + 1000,
    );
    expect(await chain.one(onTime)).toMatchObject({ ok: true });
  });

  it('one extreme deadline is just a number: it decodes and applies', async () => {
    const { chain, alice } = await setup();
    const far = chain.tx(
      alice,
      'consent.grant',
      { hospital: 'city-general', scope: 'all', keys: {} },
      undefined,
      Number.MAX_SAFE_INTEGER,
    );
    expect(await chain.one(far)).toMatchObject({ ok: true });
  });
});

describe('refusals by the rules are final', () => {
  it('the proposer commits a refused revoke with a failed receipt; a later share cannot revive it', async () => {
    const { chain, alice } = await setup();
    const revoke = chain.tx(alice, 'consent.revoke', { hospital: 'city-general' });
    const builder = await BlockBuilder.open(chain.state, {
      height: chain.height + 1,
      time: chain.time + 1000,
    });
    const r = await builder.add(revoke);
    expect(r).toMatchObject({ ok: false, code: 'CONSENT_MISSING', nonceConsumed: true });
    expect(builder.txs).toHaveLength(1);
    // Committed as built: the nonce is used; the same bytes can never apply again.
    const committed = await chain.commit([revoke]);
    expect(committed.receipts[0]).toMatchObject({ ok: false, code: 'CONSENT_MISSING' });
    await chain.commit([
      chain.tx(alice, 'consent.grant', { hospital: 'city-general', scope: 'all', keys: {} }),
    ]);
    const again = await chain.one(revoke);
    expect(again).toMatchObject({ ok: false, code: 'DUPLICATE', nonceConsumed: false });
  });
});

async function pendingReport(chain: TestChain, alice: Parameters<TestChain['tx']>[0]) {
  const rep = reportPayload('chest pain', 'city-general', 'cardiology');
  const submit = chain.tx(alice, 'record.submit', rep.payload);
  const scan = body('scan', 500);
  const reportId = toHex(txHash(submit));
  const attach = chain.tx(alice, 'record.attach', {
    report: reportId,
    ...ref(scan),
    patientKey: wrapped('scan for alice'),
    hospitalKeys: { 'city-general': wrapped('scan for city') },
  });
  const r = await chain.commit([submit, attach], [rep.body, scan]);
  expect(r.receipts.map((x) => x.code)).toEqual([null, null]);
  return { reportId, documentId: r.receipts[1]!.hash };
}

let rxCount = 0;
function prescription(
  chain: TestChain,
  doctor: Parameters<TestChain['tx']>[0],
  record: string,
  expires?: number,
) {
  const rx = body(`rx ${record} ${rxCount++}`, 90);
  return {
    tx: chain.tx(
      doctor,
      'prescription.write',
      { record, ...ref(rx), patientKey: wrapped('rx a'), hospitalKey: wrapped('rx h') },
      undefined,
      expires,
    ),
    body: rx,
  };
}

describe('read purposes', () => {
  it('a new access.record takes a PurposeOfUse code, never free text; old ones replay as they were', async () => {
    const { chain, heart, alice } = await setup();
    const { reportId } = await pendingReport(chain, alice);
    const node = chain.proposer;
    const record = (purpose: string) =>
      chain.tx(node, 'access.record', {
        reader: heart.key,
        target: reportId,
        purpose,
        readAt: chain.time,
      });
    const free = await chain.one(record('chest pain follow-up for Alice'));
    expect(free).toMatchObject({ ok: false, code: 'MALFORMED' });
    expect(free.message).toMatch(/PurposeOfUse code/);
    expect(await chain.one(record('TREAT'))).toMatchObject({ ok: true });
    expect(await chain.one(record('ETREAT'))).toMatchObject({ ok: true });
    expect(await chain.one(record('treat'))).toMatchObject({ ok: false, code: 'MALFORMED' });
    // A transaction signed before deadlines existed keeps its old meaning on an old chain.
    chain.deadlines = false;
    expect(await chain.one(record('diagnosis'))).toMatchObject({ ok: true });
  });
});

describe("the prescriber's access", () => {
  it('keeps reading the report and its documents after prescribing, until the patient revokes', async () => {
    const { chain, heart, skin, alice } = await setup();
    const { reportId, documentId } = await pendingReport(chain, alice);
    const rx = prescription(chain, heart, reportId);
    expect(await chain.one(rx.tx, [rx.body])).toMatchObject({ ok: true });
    for (const id of [reportId, documentId]) {
      expect(await canRead(chain.state, heart.key, id, chain.time)).toMatchObject({
        allowed: true,
        reason: 'PRESCRIBER',
        keyHolder: 'city-general',
      });
      // Not the other specialty at the same hospital: the report is no longer pending.
      expect(await canRead(chain.state, skin.key, id, chain.time)).toMatchObject({
        allowed: false,
        reason: 'CONSENT_MISSING',
      });
    }
    // A second prescription on the same report is allowed (the doctor may still read it).
    const rx2 = prescription(chain, heart, reportId);
    expect(await chain.one(rx2.tx, [rx2.body])).toMatchObject({ ok: true });
    // The patient shares, then revokes city-general: the prescriber is cut off too.
    await chain.commit([
      chain.tx(alice, 'consent.grant', { hospital: 'city-general', scope: 'all', keys: {} }),
    ]);
    await chain.commit([chain.tx(alice, 'consent.revoke', { hospital: 'city-general' })]);
    expect(await canRead(chain.state, heart.key, reportId, chain.time)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_REVOKED',
    });
    const rx3 = prescription(chain, heart, reportId);
    expect(await chain.one(rx3.tx, [rx3.body])).toMatchObject({
      ok: false,
      code: 'CONSENT_REVOKED',
    });
  });

  it('a prescription signed before deadlines existed grants nothing new (old chains replay the same)', async () => {
    const { chain, heart, alice } = await setup();
    const { reportId } = await pendingReport(chain, alice);
    chain.deadlines = false;
    const rx = prescription(chain, heart, reportId);
    expect(await chain.one(rx.tx, [rx.body])).toMatchObject({ ok: true });
    expect(await canRead(chain.state, heart.key, reportId, chain.time)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_MISSING',
    });
  });
});
