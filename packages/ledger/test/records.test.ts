import { checkBlockBody, sha256, toHex, txHash, verifyBlockSignature } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import {
  applyBlock,
  type Consent,
  canRead,
  genesisStateHash,
  genesisWrites,
  getEntity,
  keys,
  MapState,
  type PayloadInfo,
} from '../src/index.ts';
import {
  account,
  body,
  patientPayload,
  ref,
  reportPayload,
  TestChain,
  world,
  wrapped,
} from './helpers.ts';

const rxPayload = (record: string, label = 'rx') => {
  const b = body(label, 50);
  return {
    payload: {
      record,
      ...ref(b),
      patientKey: wrapped(`${label} p`),
      hospitalKey: wrapped(`${label} h`),
    },
    body: b,
  };
};

describe('patients and records', () => {
  it('rejects sign-ups and submissions with codes', async () => {
    const small = new TestChain({ limits: { maxPayloadBytes: 150, maxDocumentBytes: 1000 } });
    const { chain, admin, heart, alice } = await world(small);
    const carol = account('carol');
    const big = body('big', 151);
    const okReport = reportPayload('ok', 'city-general', 'cardiology');
    const reuse = reportPayload('reuse', 'city-general', 'cardiology');
    const cases: [Uint8Array, string][] = [
      [chain.tx(alice, 'patient.register', patientPayload(alice).payload), 'ALREADY_EXISTS'],
      [chain.tx(admin, 'patient.register', patientPayload(admin).payload), 'ALREADY_EXISTS'],
      [
        chain.tx(carol, 'patient.register', {
          profileHash: sha256(big),
          profileSize: big.length,
          profileKey: wrapped('c'),
        }),
        'PAYLOAD_TOO_LARGE',
      ],
      [chain.tx(carol, 'record.submit', okReport.payload), 'UNKNOWN_ACCOUNT'],
      [chain.tx(heart, 'record.submit', okReport.payload), 'UNAUTHORIZED'],
      [
        chain.tx(alice, 'record.submit', {
          ...okReport.payload,
          hospital: 'nowhere',
          hospitalKeys: { nowhere: wrapped('x') },
        }),
        'UNKNOWN_HOSPITAL',
      ],
      [
        chain.tx(alice, 'record.submit', { ...okReport.payload, specialization: 'oncology' }),
        'SPECIALIZATION_MISMATCH',
      ],
      [
        chain.tx(alice, 'record.submit', {
          ...okReport.payload,
          hospitalKeys: { 'river-clinic': wrapped('x') },
        }),
        'KEY_MISSING',
      ],
      [
        chain.tx(alice, 'record.submit', {
          ...okReport.payload,
          hospitalKeys: { 'city-general': wrapped('x'), ghost: wrapped('y') },
        }),
        'UNKNOWN_HOSPITAL',
      ],
      [
        chain.tx(alice, 'record.submit', {
          ...okReport.payload,
          hospitalKeys: { 'City General': wrapped('x') },
        }),
        'MALFORMED',
      ],
      [chain.tx(alice, 'record.submit', { ...okReport.payload, ...ref(big) }), 'PAYLOAD_TOO_LARGE'],
      [
        chain.tx(alice, 'record.submit', { ...okReport.payload, patientKey: new Uint8Array(0) }),
        'MALFORMED',
      ],
      [chain.tx(alice, 'record.submit', okReport.payload), ''],
      // The same sealed body cannot be registered twice.
      [chain.tx(alice, 'record.submit', okReport.payload), 'ALREADY_EXISTS'],
      [chain.tx(alice, 'record.submit', reuse.payload), ''],
    ];
    const r = await chain.commit(
      cases.map(([t]) => t),
      [okReport.body, reuse.body],
    );
    expect(r.receipts.map((x) => x.code ?? '')).toEqual(cases.map(([, c]) => c));
    expect(r.receipts[5]!.message).toMatch(/"nowhere" is not registered/);
    expect(r.receipts[9]!.message).toMatch(/payload.hospitalKeys.City General: expected a slug/);
    expect(r.receipts[10]!.message).toMatch(/151 bytes; a report may be at most 150 bytes/);

    // Documents have their own, larger limit.
    const reportId = r.receipts[12]!.hash;
    const doc = body('scan', 900);
    const tooBig = body('huge scan', 1001);
    const docCases: [Uint8Array, string][] = [
      [
        chain.tx(alice, 'record.attach', {
          report: reportId,
          ...ref(doc),
          patientKey: wrapped('d'),
          hospitalKeys: { 'city-general': wrapped('d h') },
        }),
        '',
      ],
      [
        chain.tx(alice, 'record.attach', {
          report: reportId,
          ...ref(tooBig),
          patientKey: wrapped('d'),
          hospitalKeys: { 'city-general': wrapped('d h') },
        }),
        'PAYLOAD_TOO_LARGE',
      ],
      [
        chain.tx(alice, 'record.attach', {
          report: reportId,
          ...ref(body('k')),
          patientKey: wrapped('d'),
        }),
        'KEY_MISSING',
      ],
      [
        chain.tx(alice, 'record.attach', {
          report: 'a'.repeat(64),
          ...ref(body('u')),
          patientKey: wrapped('d'),
        }),
        'UNKNOWN_RECORD',
      ],
      [
        chain.tx(account('bob'), 'record.attach', {
          report: reportId,
          ...ref(body('b')),
          patientKey: wrapped('d'),
          hospitalKeys: { 'city-general': wrapped('x') },
        }),
        'UNAUTHORIZED',
      ],
      [
        chain.tx(alice, 'record.attach', { ...ref(body('standalone')), patientKey: wrapped('s') }),
        '',
      ],
    ];
    const d = await chain.commit(
      docCases.map(([t]) => t),
      [doc, body('standalone')],
    );
    expect(d.receipts.map((x) => x.code ?? '')).toEqual(docCases.map(([, c]) => c));
  });

  it('grants listed and expiring consent, and rejects bad grants and revokes', async () => {
    const { chain, heart, alice, bob } = await world();
    const r1 = reportPayload('one', 'river-clinic', 'cardiology');
    const r2 = reportPayload('two', 'river-clinic', 'cardiology');
    const rb = reportPayload('bob', 'river-clinic', 'cardiology');
    const sub = await chain.commit(
      [
        chain.tx(alice, 'record.submit', r1.payload),
        chain.tx(alice, 'record.submit', r2.payload),
        chain.tx(bob, 'record.submit', rb.payload),
      ],
      [r1.body, r2.body, rb.body],
    );
    const [one, two, bobs] = sub.receipts.map((x) => x.hash) as [string, string, string];
    const expiresAt = chain.time + 10_000;
    const cases: [Uint8Array, string][] = [
      [
        chain.tx(alice, 'consent.grant', {
          hospital: 'city-general',
          scope: [one],
          keys: { [one]: wrapped('1 cg') },
          expiresAt: chain.time,
        }),
        'CONSENT_EXPIRED',
      ],
      [chain.tx(alice, 'consent.grant', { hospital: 'ghost', scope: 'all' }), 'UNKNOWN_HOSPITAL'],
      [
        chain.tx(alice, 'consent.grant', {
          hospital: 'city-general',
          scope: [bobs],
          keys: { [bobs]: wrapped('x') },
        }),
        'UNAUTHORIZED',
      ],
      [chain.tx(alice, 'consent.grant', { hospital: 'city-general', scope: [one] }), 'KEY_MISSING'],
      [
        chain.tx(alice, 'consent.grant', {
          hospital: 'city-general',
          scope: [one],
          keys: { [one]: wrapped('1'), [two]: wrapped('2') },
        }),
        'MALFORMED',
      ],
      [
        chain.tx(alice, 'consent.grant', { hospital: 'city-general', scope: [one, one], keys: {} }),
        'MALFORMED',
      ],
      [
        chain.tx(heart, 'consent.grant', { hospital: 'city-general', scope: 'all' }),
        'UNAUTHORIZED',
      ],
      [chain.tx(alice, 'consent.revoke', { hospital: 'city-general' }), 'CONSENT_MISSING'],
      [
        chain.tx(alice, 'consent.grant', {
          hospital: 'city-general',
          scope: [one],
          keys: { [one]: wrapped('1 cg') },
          expiresAt,
        }),
        '',
      ],
    ];
    const r = await chain.commit(cases.map(([t]) => t));
    expect(r.receipts.map((x) => x.code ?? '')).toEqual(cases.map(([, c]) => c));
    expect(
      await getEntity<Consent>(chain.state, keys.consent(alice.hex, 'city-general')),
    ).toMatchObject({
      scope: [one],
      expiresAt,
      revokedAt: null,
    });

    // Listed: one is readable (with the key wrapped for the hospital), two is not.
    expect(await canRead(chain.state, heart.key, one, chain.time)).toMatchObject({
      allowed: true,
      reason: 'CONSENT',
      wrappedKey: wrapped('1 cg'),
    });
    expect(await canRead(chain.state, heart.key, two, chain.time)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_MISSING',
    });
    expect(await canRead(chain.state, heart.key, one, expiresAt)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_EXPIRED',
    });

    // The chain's clock decides: a prescription in a block at/after expiry is rejected.
    const rx = rxPayload(one);
    const late = await chain.commit(
      [chain.tx(heart, 'prescription.write', rx.payload)],
      [rx.body],
      { time: expiresAt },
    );
    expect(late.receipts[0]!.code).toBe('CONSENT_EXPIRED');

    expect(
      await chain.one(chain.tx(alice, 'consent.revoke', { hospital: 'city-general' })),
    ).toMatchObject({ ok: true });
    expect(
      await chain.one(chain.tx(alice, 'consent.revoke', { hospital: 'city-general' })),
    ).toMatchObject({ code: 'CONSENT_REVOKED' });
    // A new grant replaces the revoked one.
    expect(
      await chain.one(chain.tx(alice, 'consent.grant', { hospital: 'city-general', scope: 'all' })),
    ).toMatchObject({ ok: true });
    expect(await canRead(chain.state, heart.key, two, chain.time)).toMatchObject({
      allowed: true,
      wrappedKey: null,
    });
  });

  it('rejects prescriptions and audit events with codes', async () => {
    const { chain, admin, heart, skin, river, alice } = await world();
    const rep = reportPayload('r', 'city-general', 'cardiology');
    const sub = await chain.commit([chain.tx(alice, 'record.submit', rep.payload)], [rep.body]);
    const reportId = sub.receipts[0]!.hash;
    const doc = body('doc');
    const att = await chain.commit(
      [
        chain.tx(alice, 'record.attach', {
          report: reportId,
          ...ref(doc),
          patientKey: wrapped('d'),
          hospitalKeys: { 'city-general': wrapped('dh') },
        }),
      ],
      [doc],
    );
    const docId = att.receipts[0]!.hash;
    const stranger = account('stranger');
    const cases: [Uint8Array, string][] = [
      [chain.tx(alice, 'prescription.write', rxPayload(reportId, 'a').payload), 'UNAUTHORIZED'],
      [
        chain.tx(heart, 'prescription.write', rxPayload('b'.repeat(64), 'b').payload),
        'UNKNOWN_RECORD',
      ],
      [chain.tx(heart, 'prescription.write', rxPayload(docId, 'c').payload), 'INVALID_STATE'],
      [chain.tx(skin, 'prescription.write', rxPayload(reportId, 'd').payload), 'CONSENT_MISSING'],
      [chain.tx(river, 'prescription.write', rxPayload(reportId, 'e').payload), 'CONSENT_MISSING'],
      [chain.tx(admin, 'doctor.deactivate', { doctor: heart.key }), ''],
      [chain.tx(heart, 'prescription.write', rxPayload(reportId, 'f').payload), 'INACTIVE'],
      [
        chain.tx(stranger, 'access.record', {
          reader: heart.key,
          target: reportId,
          purpose: 'x',
          readAt: 1,
        }),
        'UNAUTHORIZED',
      ],
      [
        chain.tx(chain.proposer, 'access.record', {
          reader: heart.key,
          target: 'c'.repeat(64),
          purpose: 'x',
          readAt: 1,
        }),
        'UNKNOWN_RECORD',
      ],
      [
        chain.tx(chain.proposer, 'access.record', {
          reader: stranger.key,
          target: reportId,
          purpose: 'x',
          readAt: 1,
        }),
        'UNKNOWN_ACCOUNT',
      ],
      [
        chain.tx(chain.proposer, 'access.record', {
          reader: heart.key,
          target: reportId,
          purpose: '',
          readAt: 1,
        }),
        'MALFORMED',
      ],
    ];
    const r = await chain.commit(cases.map(([t]) => t));
    expect(r.receipts.map((x) => x.code ?? '')).toEqual(cases.map(([, c]) => c));
    expect(r.receipts[10]!.message).toMatch(/payload.purpose: expected text of 1..200 characters/);
  });
});

describe('erasure', () => {
  it('lets the patient erase, an admin only with a legal order; hashes keep verifying', async () => {
    const { chain, admin, heart, alice, bob } = await world();
    const rep = reportPayload('to erase', 'city-general', 'cardiology');
    const other = reportPayload('keep', 'city-general', 'cardiology');
    const sub = await chain.commit(
      [
        chain.tx(alice, 'record.submit', rep.payload),
        chain.tx(bob, 'record.submit', other.payload),
      ],
      [rep.body, other.body],
    );
    const [reportId, bobsId] = sub.receipts.map((x) => x.hash) as [string, string];
    const hash = ref(rep.body).payloadHash;
    const bobsHash = ref(other.body).payloadHash;

    const cases: [Uint8Array, string][] = [
      [chain.tx(bob, 'payload.erase', { payloadHash: hash }), 'UNAUTHORIZED'],
      [chain.tx(heart, 'payload.erase', { payloadHash: hash }), 'UNAUTHORIZED'],
      [chain.tx(admin, 'payload.erase', { payloadHash: hash }), 'UNAUTHORIZED'],
      [chain.tx(account('nobody'), 'payload.erase', { payloadHash: hash }), 'UNKNOWN_ACCOUNT'],
      [chain.tx(alice, 'payload.erase', { payloadHash: new Uint8Array(32) }), 'UNKNOWN_PAYLOAD'],
      [chain.tx(alice, 'payload.erase', { payloadHash: hash }), ''],
      [chain.tx(alice, 'payload.erase', { payloadHash: hash }), 'INVALID_STATE'],
      [
        chain.tx(admin, 'payload.erase', {
          payloadHash: bobsHash,
          legalOrder: 'court order 2025/17',
        }),
        '',
      ],
    ];
    const r = await chain.commit(cases.map(([t]) => t));
    expect(r.receipts.map((x) => x.code ?? '')).toEqual(cases.map(([, c]) => c));
    expect(r.receipts[2]!.message).toMatch(/must cite the legal order/);
    expect(r.payloads.erased).toEqual([toHex(hash), toHex(bobsHash)]);

    const info = await getEntity<PayloadInfo>(chain.state, keys.payload(toHex(hash)));
    expect(info).toMatchObject({
      erased: true,
      erasedBy: alice.hex,
      legalOrder: null,
      kind: 'report',
      ref: reportId,
    });
    expect(await getEntity<PayloadInfo>(chain.state, keys.payload(toHex(bobsHash)))).toMatchObject({
      erasedBy: admin.hex,
      legalOrder: 'court order 2025/17',
    });
    expect(await canRead(chain.state, alice.key, reportId, chain.time)).toMatchObject({
      allowed: false,
      reason: 'ERASED',
    });
    expect(await canRead(chain.state, bob.key, bobsId, chain.time)).toMatchObject({
      allowed: false,
      reason: 'ERASED',
    });

    // The submitting transaction is untouched: it still hashes to the record id and commits to
    // the payload hash; the block still verifies.
    expect(toHex(txHash(sub.block.txs[0]!))).toBe(reportId);
    expect(toHex(sha256(rep.body))).toBe(info!.hash);

    // A node syncing after the erasure never gets the erased bodies, yet replays every block to
    // the same state hashes: bodies are kept apart from blocks and state.
    const erased = new Set(r.payloads.erased);
    const bodies = new Map([...chain.bodies].filter(([h]) => !erased.has(h)));
    expect(bodies.size).toBe(chain.bodies.size - 2);
    const state = new MapState(genesisWrites(chain.genesis));
    let prev = genesisStateHash(chain.genesis);
    for (const block of chain.blocks) {
      expect(checkBlockBody(block)).toBeUndefined();
      expect(verifyBlockSignature(block)).toBe(true);
      const replayed = await applyBlock(state, block, bodies, { prevStateHash: prev });
      expect(toHex(replayed.stateHash)).toBe(toHex(block.header.stateHash));
      state.applyWrites(replayed.writes);
      prev = replayed.stateHash;
    }
    expect(toHex(prev)).toBe(toHex(chain.prevStateHash));
  });
});
